"""Stream ensemble members slab by slab into per-slab accumulators.

A member's softmax arrives from the sliding window as consecutive slabs along axis 0. Each
slab goes into its own :class:`~medtrust.uncertainty.EnsembleAccumulator`, so no member's full
``[C, Z, Y, X]`` volume is ever held: memory is the accumulators' ``(C + 1)`` volumes plus one
band of tile rows. :class:`SlabEnsemble` offers the accumulator's map methods over the whole
volume.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.loop.streaming import SlabEnsemble
>>> ens = SlabEnsemble(n_classes=2, shape=(2, 1, 1))
>>> p = np.array([[[[0.9]], [[0.5]]], [[[0.1]], [[0.5]]]], np.float32)
>>> ens.add_member([(0, p[:, :1]), (1, p[:, 1:])])
>>> ens.mean_probs()[:, :, 0, 0].tolist()
[[0.8999999761581421, 0.5], [0.10000000149011612, 0.5]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = ["SlabEnsemble", "new_accumulator"]


def new_accumulator(n_classes: int) -> Any:
    """An :class:`~medtrust.uncertainty.EnsembleAccumulator`."""
    from medtrust.active.loop.strategies import accumulator_class

    return accumulator_class()(n_classes)


class SlabEnsemble:
    """Ensemble accumulator over a volume, fed member by member in slabs along axis 0.

    Every member must use the same slab boundaries (the sliding-window tiling makes them so).
    """

    def __init__(self, n_classes: int, shape: Sequence[int]) -> None:
        self.n_classes = int(n_classes)
        self.spatial_shape = tuple(int(s) for s in shape)
        self._slabs: dict[int, tuple[int, Any]] = {}
        self.n_members = 0

    def add_member(self, slabs: Iterable[tuple[int, np.ndarray]]) -> None:
        """Add one member given as ``(z0, probs[C, dz, Y, X])`` slabs covering the volume."""
        first = self.n_members == 0
        covered = 0
        for z0, p in slabs:
            if p.shape[0] != self.n_classes or p.shape[2:] != self.spatial_shape[1:]:
                raise ShapeMismatchError(
                    f"slab shape {p.shape} does not fit [{self.n_classes}, dz, "
                    f"{self.spatial_shape[1]}, {self.spatial_shape[2]}]"
                )
            if z0 != covered:
                raise InvalidArgumentError(f"slab starts at row {z0}, expected {covered}")
            dz = p.shape[1]
            if first:
                self._slabs[z0] = (dz, new_accumulator(self.n_classes))
            elif self._slabs.get(z0, (None,))[0] != dz:
                raise InvalidArgumentError("members must be streamed with the same slab boundaries")
            self._slabs[z0][1].add(np.ascontiguousarray(p))
            covered += dz
        if covered != self.spatial_shape[0]:
            raise InvalidArgumentError(f"slabs cover {covered} rows of {self.spatial_shape[0]}")
        self.n_members += 1

    def maps(self, kinds: list[tuple[str, int | None]]) -> np.ndarray:
        """Maps as in ``EnsembleAccumulator.maps``: ``[len(kinds), Z, Y, X]`` float32."""
        out = np.empty((len(kinds), *self.spatial_shape), np.float32)
        for z0, (dz, acc) in self._slabs.items():
            out[:, z0 : z0 + dz] = np.asarray(acc.maps(kinds))
        return out

    def mean_probs(self) -> np.ndarray:
        """p_bar ``[C, Z, Y, X]``."""
        out = np.empty((self.n_classes, *self.spatial_shape), np.float32)
        for z0, (dz, acc) in self._slabs.items():
            out[:, z0 : z0 + dz] = np.asarray(acc.mean_probs())
        return out

    def predictive_entropy(self) -> np.ndarray:
        """H(p_bar)."""
        return self.maps([("pe", None)])[0]

    def expected_entropy(self) -> np.ndarray:
        """mean_m H(p_m)."""
        return self.maps([("ee", None)])[0]

    def mutual_information(self) -> np.ndarray:
        """BALD."""
        return self.maps([("mi", None)])[0]

    def max_prob(self) -> np.ndarray:
        """max_c p_bar."""
        return self.maps([("max_prob", None)])[0]

    def class_weighted_entropy(self, c: int) -> np.ndarray:
        """U_c = H(p_bar) p_bar(c)."""
        return self.maps([("class_pe", c)])[0]

    def argmax(self) -> np.ndarray:
        """Predicted label map (uint8) from p_bar, slab by slab."""
        out = np.empty(self.spatial_shape, np.uint8)
        for z0, (dz, acc) in self._slabs.items():
            out[z0 : z0 + dz] = np.asarray(acc.mean_probs()).argmax(0)
        return out
