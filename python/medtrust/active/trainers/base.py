"""The trainer interface of the AL loop: train members on partial labels, predict softmax.

A backend implements :class:`Trainer`; the loop calls, per round,

1. ``prepare(data, workdir)`` once (idempotent: it must notice work already done),
2. ``train_member(data, member, n_members, workdir, seed)`` per ensemble member (the loop
   skips members whose ``member_dir`` exists; the backend writes it atomically),
3. ``load_member(workdir, member)`` -> :class:`Predictor` for evaluation and queries.

Predictors return float32 softmax probabilities ``[C, Z, Y, X]``, slab by slab along axis 0
(:meth:`Predictor.predict_slabs`), so the loop can stream them into an accumulator.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from medtrust._io import atomic_dir  # re-exported: the loop and the backends use it here
from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "CaseData",
    "InferenceMode",
    "Predictor",
    "Trainer",
    "TrainingData",
    "atomic_dir",
    "class_aware_folds",
    "class_presence",
    "inference_options",
    "member_dir",
]


@dataclass(frozen=True)
class CaseData:
    """One image of the dataset as the trainers see it.

    Attributes
    ----------
    case
        Case identifier.
    image_files
        Raw NIfTI files, one per channel (for backends with their own preprocessing).
    array
        ``.npy`` with the z-score normalised float32 image ``[C_in, Z, Y, X]``.
    shape, spacing
        Spatial shape and voxel size.
    label
        ``.npy`` with the (partial) uint8 label map, or None (prediction only).
    """

    case: str
    image_files: tuple[Path, ...]
    array: Path
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    label: Path | None = None

    def image(self) -> np.ndarray:
        """The normalised image (memory-mapped, read-only)."""
        return np.load(self.array, mmap_mode="r")

    def labels(self) -> np.ndarray:
        """The label map (memory-mapped, read-only)."""
        if self.label is None:
            raise ValueError(f"case {self.case} has no label map")
        return np.load(self.label, mmap_mode="r")


@dataclass(frozen=True)
class TrainingData:
    """What one round trains on: labelled cases with partial labels.

    ``ignore_label`` marks unlabelled voxels (= ``n_classes``, nnU-Net's convention).
    """

    cases: tuple[CaseData, ...]
    n_classes: int
    class_names: tuple[str, ...]
    n_channels: int
    ignore_label: int
    spacing: tuple[float, float, float]
    channel_names: Mapping[str, str] = field(default_factory=dict)


#: Purpose of a prediction: held-out evaluation or pool prediction for a query.
InferenceMode = Literal["eval", "query"]


class Predictor(ABC):
    """A trained member."""

    n_classes: int

    @abstractmethod
    def predict_slabs(
        self, case: CaseData, mode: InferenceMode = "eval"
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Softmax ``[C, dz, Y, X]`` slabs with their start row, covering the image in order.

        ``mode``: ``"eval"`` (held-out evaluation) or ``"query"`` (pool prediction for the
        query); nnActive uses different sliding-window steps and mirroring for the two.
        """

    def predict(self, case: CaseData, mode: InferenceMode = "eval") -> np.ndarray:
        """Whole-volume softmax ``[C, Z, Y, X]`` (float32)."""
        out = np.empty((self.n_classes, *case.shape), np.float32)
        for z0, slab in self.predict_slabs(case, mode):
            out[:, z0 : z0 + slab.shape[1]] = slab
        return out

    def features(self, case: CaseData) -> np.ndarray:
        """Pooled encoder features ``[F, z, y, x]`` of a case (diversity strategies).

        The map may be coarser than the image; cell ``i`` of an axis of ``n`` cells lies over
        voxels ``[i * Z / n, (i + 1) * Z / n)``. Backends without an encoder to read raise.
        """
        raise InvalidArgumentError(
            f"the {type(self).__name__} backend gives no encoder features, which kmeans_bald "
            "needs; use the built-in unet or nnunet backend, or another strategy"
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, temporary files)."""


class Trainer(ABC):
    """A training backend (see the module docstring for the protocol)."""

    backend: str = "base"
    #: Settings dataclass of the backend (with a ``from_dict`` constructor), if it has one.
    settings_class: Any = None

    def __init__(self, settings: Any = None) -> None:
        if self.settings_class is not None:
            if settings is None:
                settings = self.settings_class()
            elif isinstance(settings, dict):
                settings = self.settings_class.from_dict(settings)
        self.settings = settings

    def prepare(self, data: TrainingData, workdir: Path) -> None:  # noqa: B027 - optional hook
        """Work shared by the members of a round (e.g. nnU-Net planning); idempotent."""

    @abstractmethod
    def train_member(
        self, data: TrainingData, member: int, n_members: int, workdir: Path, seed: int
    ) -> dict[str, Any]:
        """Train member ``member`` and write it to ``member_dir(workdir, member)`` atomically.

        Returns a small JSON-able dict (losses, timings) stored by the loop.
        """

    @abstractmethod
    def load_member(self, workdir: Path, member: int) -> Predictor:
        """Load a trained member."""

    def describe(self) -> dict[str, Any]:
        """Backend name and the settings that define it (recorded with every run)."""
        if self.settings is None:
            return {"backend": self.backend}
        return {"backend": self.backend, **asdict(self.settings)}


def inference_options(settings: Any, mode: str) -> tuple[float, bool]:
    """``(step, mirroring)`` of a backend's settings for ``mode`` (nnActive's protocol).

    The settings carry ``eval_step`` / ``eval_mirroring`` (defaults 0.5, True) and
    ``query_step`` / ``query_mirroring`` (0.75, False); a non-None ``step`` / ``mirroring``
    overrides both modes.
    """
    if mode not in ("eval", "query"):
        raise InvalidArgumentError(f"mode must be 'eval' or 'query', got {mode!r}")
    step = getattr(settings, "step", None)
    mirroring = getattr(settings, "mirroring", None)
    if step is None:
        step = getattr(settings, f"{mode}_step")
    if mirroring is None:
        mirroring = getattr(settings, f"{mode}_mirroring")
    return float(step), bool(mirroring)


def class_aware_folds(presence: Mapping[str, Collection[int]], n_folds: int) -> dict[str, int]:
    """Fold of each case so that each class is spread over as many folds as possible.

    Cases are visited by their rarest class (fewest cases containing it; ties by case id);
    each goes to the fold holding the fewest cases with its classes, compared rarest class
    first, then to the smaller fold, then to the lower index. A class present in ``n`` cases
    thus lies in ``min(n, n_folds)`` folds in the usual cases, also when one case holds two
    rare classes, so the training part of every fold (all other folds) still contains it
    when ``n >= 2``; a plain ``index % n_folds`` split can put both cases of a rare class in
    one fold.

    Parameters
    ----------
    presence
        ``case -> foreground classes annotated in it``.
    n_folds
        Number of folds (ensemble members).

    Returns
    -------
    dict
        ``case -> fold`` in visiting order.

    Examples
    --------
    >>> class_aware_folds({"a": {1}, "b": {1}, "c": {1, 2}, "d": {1}, "e": {1, 2}}, 2)
    {'c': 0, 'e': 1, 'a': 0, 'b': 1, 'd': 0}
    >>> class_aware_folds({"a": {1, 2, 3}, "b": {1, 3}, "c": {1, 2}, "d": {1}}, 2)
    {'a': 0, 'b': 1, 'c': 1, 'd': 0}
    """
    n_folds = max(int(n_folds), 1)
    counts: dict[int, int] = {}
    for classes in presence.values():
        for c in set(classes):
            counts[c] = counts.get(c, 0) + 1

    def by_rarity(case: str) -> list[int]:
        return sorted(set(presence[case]), key=lambda c: (counts[c], c))

    def key(case: str) -> tuple[float, str]:
        rarest = by_rarity(case)
        return (counts[rarest[0]] if rarest else math.inf, case)

    in_fold = [dict.fromkeys(counts, 0) for _ in range(n_folds)]
    size = [0] * n_folds
    out: dict[str, int] = {}
    for case in sorted(presence, key=key):
        classes = by_rarity(case)
        f = min(range(n_folds), key=lambda k: ([in_fold[k][c] for c in classes], size[k], k))
        out[case] = f
        size[f] += 1
        for c in classes:
            in_fold[f][c] += 1
    return out


def class_presence(data: TrainingData) -> dict[str, set[int]]:
    """Foreground classes annotated in each case of ``data`` (from its partial label map)."""
    out = {}
    for c in data.cases:
        present = np.flatnonzero(np.bincount(np.asarray(c.labels()).ravel()))
        out[c.case] = {int(v) for v in present if 0 < v < data.n_classes}
    return out


def member_dir(workdir: Path, member: int) -> Path:
    """Folder of one trained member inside a round's model folder."""
    return Path(workdir) / f"member_{member}"
