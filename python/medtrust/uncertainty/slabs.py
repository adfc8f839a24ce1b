"""Stream ensemble members slab by slab into one :class:`EnsembleAccumulator`.

A member's softmax arrives from the sliding window as consecutive slabs along axis 0.
:class:`SlabAccumulator` is an :class:`~medtrust.uncertainty.EnsembleAccumulator` whose whole-
volume state (running sum of probabilities ``[C, V]`` and of member entropies ``[V]``, float32)
is allocated once; each slab is validated and added in place into its rows of the state by the
core's accumulate-at-offset kernel (no slab-sized copy of the sums). No member's full
``[C, Z, Y, X]`` volume ever exists: memory is the ``(C + 1)`` state volumes (``C`` without the
members' entropies, ``kinds=``) plus one band of tile rows, and the result is an ordinary
accumulator for the query strategies (``state()``, ``maps()``, ...).

Examples
--------
>>> import numpy as np
>>> from medtrust.uncertainty import SlabAccumulator
>>> acc = SlabAccumulator(n_classes=2, shape=(2, 1, 1))
>>> p = np.array([[[[0.9]], [[0.5]]], [[[0.1]], [[0.5]]]], np.float32)
>>> acc.add_slabs([(0, p[:, :1]), (1, p[:, 1:])])
>>> acc.n_members, acc.mean_probs()[:, :, 0, 0].tolist()
(1, [[0.8999999761581421, 0.5], [0.10000000149011612, 0.5]])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from medtrust import _native
from medtrust._arrays import as_prob_array
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError
from medtrust.uncertainty import EnsembleAccumulator

__all__ = ["SlabAccumulator"]


class SlabAccumulator(EnsembleAccumulator):
    """An ensemble accumulator over a known volume, fed member by member in axis-0 slabs.

    Parameters
    ----------
    n_classes
        Number of classes C.
    shape
        Spatial shape ``(Z, Y, X)``.
    **options
        ``check_sum`` / ``sum_tol`` / ``kinds`` of :class:`EnsembleAccumulator` (CPU state
        only).
    """

    def __init__(self, n_classes: int, shape: Sequence[int], **options: object) -> None:
        super().__init__(int(n_classes), backend="rust", **options)  # type: ignore[arg-type]
        self._shape = tuple(int(s) for s in shape)
        if len(self._shape) != 3 or min(self._shape) < 1:
            raise ShapeMismatchError(f"shape must be (Z, Y, X), got {self._shape}")
        v = int(np.prod(self._shape))
        sum_p, sum_ent = _native.uncertainty_state(int(n_classes), v, self.keeps_member_entropy)
        self._commit_state(sum_p, sum_ent, 0)

    def _commit_state(self, sum_p: np.ndarray, sum_ent: np.ndarray, n_members: int) -> None:
        self.backend = "rust"
        self.spatial_shape = self._shape
        self._sum_p, self._sum_ent = sum_p, sum_ent
        self.n_members = n_members

    def reset(self, *, keep_buffers: bool = True) -> None:
        """Forget every member (the state is always kept allocated, zeroed).

        Parameters
        ----------
        keep_buffers : bool, default True
            Accepted for compatibility with :meth:`EnsembleAccumulator.reset`; once the
            state exists it is always kept and zeroed in place, whatever the value.
        """
        if hasattr(self, "_shape"):
            self._sum_p[:] = 0
            self._sum_ent[:] = 0
            self.n_members = 0
        else:  # called by EnsembleAccumulator.__init__
            super().reset(keep_buffers=keep_buffers)

    def add(self, probs: object) -> None:
        """Add a whole member ``[C, Z, Y, X]`` (one slab).

        Parameters
        ----------
        probs
            One member's probabilities ``[C, Z, Y, X]``.
        """
        self.add_slabs([(0, np.asarray(probs))])

    update = add

    def add_slabs(self, slabs: Iterable[tuple[int, np.ndarray]]) -> None:
        """Add one member given as ``(z0, probs[C, dz, Y, X])`` slabs covering the volume in order.

        A slab that fails validation (not probabilities, wrong shape) raises before it is added;
        the member is then incomplete and the accumulator must be reset.

        Parameters
        ----------
        slabs
            ``(z0, probs[C, dz, Y, X])`` pairs covering ``Z`` in order.
        """
        with self._lock:
            self._add_slabs_locked(slabs)

    def _add_slabs_locked(self, slabs: Iterable[tuple[int, np.ndarray]]) -> None:
        c = int(self.n_classes or 0)
        z, y, x = self._shape
        covered = 0
        for z0, p in slabs:
            p = as_prob_array(p, "probs")  # float16/32 C-contiguous: read in place
            if p.ndim != 4 or p.shape[0] != c or p.shape[2:] != (y, x):
                raise ShapeMismatchError(f"slab shape {p.shape} does not fit [{c}, dz, {y}, {x}]")
            if z0 != covered:
                raise InvalidArgumentError(f"slab starts at row {z0}, expected {covered}")
            # Validated whole, then summed into rows z0.. of the state in place.
            tol = self._tol(str(p.dtype))
            _native.uncertainty_accumulate(self._sum_p, self._sum_ent, p, c, tol, offset=z0 * y * x)
            covered += p.shape[1]
        if covered != z:
            raise InvalidArgumentError(f"slabs cover {covered} rows of {z}")
        self.n_members += 1

    def argmax(self) -> np.ndarray:
        """Predicted label map from the mean probabilities, without a ``[C, V]`` copy.

        The core's argmax of p_bar (ties: the lowest class), as :meth:`predicted_labels`.

        Returns
        -------
        numpy.ndarray
            uint8 labels (int32 above 256 classes), shape ``(Z, Y, X)``.
        """
        return self.predicted_labels()
