"""A stateful segmentation metric over confusion counts: ``update()`` per batch, ``compute()``.

Like torchmetrics' metric classes: every :meth:`SegmentationAccumulator.update` validates its
batch (shapes, integer labels inside ``[0, n_classes)``, the ignore label) *before* it touches
the state, so a bad batch raises and leaves the running counts as they were; ``compute()``
turns the summed counts into Dice / IoU per class (the dataset-level, "micro over voxels"
value: ``2 sum TP / (2 sum TP + sum FP + sum FN)``) with the same empty-class policy as
:func:`~medtrust.segmentation.dice`; ``reset()`` starts over. Counts are 64-bit integers, so
the result does not depend on how the voxels were split into batches.

Examples
--------
>>> import numpy as np
>>> from medtrust.segmentation import SegmentationAccumulator
>>> acc = SegmentationAccumulator(n_classes=3)
>>> acc.update(np.array([[0, 1], [1, 2]]), np.array([[0, 1], [2, 2]]))
>>> acc.update(np.array([1, 1, 0]), np.array([1, 0, 0]))
>>> round(acc.compute().value, 4)  # class 1: 2*2/(4+2), class 2: 2*1/(2+1)
0.6667
>>> acc.compute("iou").per_class
{1: 0.5, 2: 0.5}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from medtrust.exceptions import EmptyInputError, InvalidArgumentError
from medtrust.segmentation.overlap import (
    ConfusionCounts,
    OverlapResult,
    confusion_counts,
    overlap_from_counts,
)
from medtrust.segmentation.policies import OVERLAP_EMPTY_POLICIES, EmptyPolicy, check_empty

__all__ = ["OverlapMetric", "SegmentationAccumulator"]

#: An overlap metric computed from confusion counts.
OverlapMetric = Literal["dice", "iou"]


class SegmentationAccumulator:
    """Running per-class confusion counts of a stream of (pred, target) batches.

    Parameters
    ----------
    n_classes
        Number of classes (fixed up front: every batch is checked against it).
    labels, include_background
        Classes reported by :meth:`compute`, as in :func:`~medtrust.segmentation.dice`.
    ignore_label
        Target label whose voxels count nowhere (outside ``[0, n_classes)``, e.g. 255).
    empty
        A class absent from every batch of both maps: ``"nan"`` (default), ``"perfect"`` or
        ``"skip"`` (:mod:`medtrust.segmentation.policies`).
    """

    def __init__(
        self,
        n_classes: int,
        *,
        labels: Sequence[int] | None = None,
        include_background: bool = False,
        ignore_label: int | None = None,
        empty: EmptyPolicy = "nan",
    ) -> None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
            raise InvalidArgumentError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if n_classes < 2:
            raise InvalidArgumentError(f"n_classes must be an integer >= 2, got {n_classes}")
        if ignore_label is not None and 0 <= int(ignore_label) < n_classes:
            raise InvalidArgumentError(
                f"ignore_label {ignore_label} is also a class index (n_classes={n_classes})"
            )
        self.n_classes = int(n_classes)
        self.labels = None if labels is None else tuple(int(c) for c in labels)
        self.include_background = bool(include_background)
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.empty = check_empty(empty, OVERLAP_EMPTY_POLICIES)
        # Check the class selection now, not at the first compute().
        overlap_from_counts(
            "dice", self._zero(), self.labels, self.include_background, "nan", self.n_classes
        )
        self.reset()

    def _zero(self) -> ConfusionCounts:
        z = np.zeros(self.n_classes, dtype=np.uint64)
        return ConfusionCounts(z, z.copy(), z.copy(), z.copy(), 0, 0)

    def reset(self) -> None:
        """Forget every batch."""
        self._counts = self._zero()
        self.n_updates = 0

    def update(self, pred: Any, target: Any) -> None:
        """Add one batch: label maps of one shape (any batch layout; voxels are counted).

        Raises before the state changes on a bad batch: shape mismatch, float labels, a label
        outside ``[0, n_classes)`` (other than ``ignore_label`` in the target).

        Parameters
        ----------
        pred
            Predicted label maps of the batch (any layout, e.g. ``[B, ...]``).
        target
            Reference label maps of the same shape.
        """
        c = confusion_counts(pred, target, n_classes=self.n_classes, ignore_label=self.ignore_label)
        s = self._counts
        self._counts = ConfusionCounts(
            s.tp + c.tp,
            s.fp + c.fp,
            s.fn + c.fn,
            s.tn + c.tn,
            s.n_voxels + c.n_voxels,
            s.n_ignored + c.n_ignored,
        )
        self.n_updates += 1

    @property
    def counts(self) -> ConfusionCounts:
        """The summed confusion counts so far."""
        return self._counts

    def compute(self, metric: OverlapMetric = "dice") -> OverlapResult:
        """Dice (default) or IoU per class from the summed counts, and their macro mean.

        Parameters
        ----------
        metric
            ``"dice"`` (default) or ``"iou"``.

        Returns
        -------
        OverlapResult
            The metric per class and its macro mean over every voxel added so far.

        Raises
        ------
        EmptyInputError
            No batch was added since the last :meth:`reset`.
        """
        if metric not in ("dice", "iou"):
            raise InvalidArgumentError(f"metric must be 'dice' or 'iou', got {metric!r}")
        if self.n_updates == 0:
            raise EmptyInputError("compute() before any update(): no batch was added")
        return overlap_from_counts(
            metric, self._counts, self.labels, self.include_background, self.empty, self.n_classes
        )

    def __repr__(self) -> str:
        return (
            f"SegmentationAccumulator(n_classes={self.n_classes}, n_updates={self.n_updates}, "
            f"n_voxels={self._counts.n_voxels})"
        )
