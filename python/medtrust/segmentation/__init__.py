"""Segmentation quality: overlap metrics (Dice, IoU, pairwise Dice) and surface metrics.

Overlap metrics come from one pass of 64-bit confusion counts in Rust; surface metrics from an
exact, anisotropic Euclidean distance transform computed once per pair of masks, with both
surface conventions of the field (border voxels as MONAI, area-weighted surface elements as
DeepMind's surface-distance). :class:`SegmentationAccumulator` is the stateful form over
confusion counts (``update()`` per batch, ``compute()``, ``reset()``).

Examples
--------
>>> import numpy as np
>>> from medtrust import segmentation as seg
>>> a = np.zeros((8, 8, 8), bool); a[2:6, 2:6, 2:6] = True
>>> b = np.zeros_like(a); b[2:6, 2:6, 3:7] = True
>>> round(seg.dice(a, b).value, 3), seg.hd95(a, b, spacing=(1, 1, 1))
(0.75, 1.0)
"""

from medtrust.segmentation.accumulator import OverlapMetric, SegmentationAccumulator
from medtrust.segmentation.evaluate_folder import (
    FOLDER_METRICS,
    evaluate_folder,
    summarize_evaluation,
    write_evaluation,
)
from medtrust.segmentation.overlap import (
    EMPTY_POLICIES,
    ConfusionCounts,
    OverlapResult,
    confusion_counts,
    dice,
    iou,
)
from medtrust.segmentation.pairwise import PairwiseDiceResult, pairwise_dice
from medtrust.segmentation.policies import (
    EmptyPolicy,
    OneEmptyPolicy,
    Surface,
    SurfaceEmptyPolicy,
)
from medtrust.segmentation.surface import (
    EMPTY_SURFACE_POLICIES,
    ONE_EMPTY_POLICIES,
    SURFACES,
    SurfaceDistances,
    assd,
    hd,
    hd95,
    nsd,
    surface_distances,
)

__all__ = [
    "EMPTY_POLICIES",
    "EMPTY_SURFACE_POLICIES",
    "FOLDER_METRICS",
    "ONE_EMPTY_POLICIES",
    "SURFACES",
    "ConfusionCounts",
    "EmptyPolicy",
    "OneEmptyPolicy",
    "OverlapMetric",
    "OverlapResult",
    "PairwiseDiceResult",
    "SegmentationAccumulator",
    "Surface",
    "SurfaceDistances",
    "SurfaceEmptyPolicy",
    "assd",
    "confusion_counts",
    "dice",
    "evaluate_folder",
    "hd",
    "hd95",
    "iou",
    "nsd",
    "pairwise_dice",
    "summarize_evaluation",
    "surface_distances",
    "write_evaluation",
]
