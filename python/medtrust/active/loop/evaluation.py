"""Held-out evaluation of a round: per-class Dice and its summary.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.loop.evaluation import dice_per_class
>>> dice_per_class(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 4).round(3).tolist()
[1.0, 0.667, 0.667, nan]
"""

from __future__ import annotations

import numpy as np

__all__ = ["dice_per_class", "summarize_dice"]


def dice_per_class(pred: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    """Dice of every class (background included); NaN when both masks are empty.

    From :func:`medtrust.segmentation.confusion_counts` (64-bit counts, one pass in Rust).
    """
    from medtrust.segmentation import confusion_counts

    return confusion_counts(pred, target, n_classes=n_classes).dice()


def summarize_dice(per_case: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-class mean over cases (NaN cases excluded) and the mean over foreground classes."""
    per_class = np.full(per_case.shape[1], np.nan)
    for c in range(per_case.shape[1]):
        col = per_case[:, c]
        if np.isfinite(col).any():
            per_class[c] = float(np.nanmean(col))
    fg = per_class[1:]
    mean = float(np.nanmean(fg)) if np.isfinite(fg).any() else float("nan")
    return per_class, mean
