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

__all__ = ["dice_on_raw_grid", "dice_per_class", "summarize_dice"]


def dice_per_class(pred: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    """Dice of every class (background included); NaN when both masks are empty.

    From :func:`medtrust.segmentation.confusion_counts` (64-bit counts, one pass in Rust).
    """
    from medtrust.segmentation import confusion_counts

    return confusion_counts(pred, target, n_classes=n_classes).dice()


def dice_on_raw_grid(mean_probs: np.ndarray, raw_target: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class Dice of working-grid probabilities against the raw-grid ground truth.

    The mean probabilities ``[C, *working]`` are mapped to the raw grid by linear
    interpolation at the raw voxel centres (:func:`medtrust.active.spacing.resample_image`;
    nnU-Net exports its predictions by resampling the class probabilities with order 1 too),
    then the argmax (ties: the lowest class) is compared with ``raw_target``.

    Parameters
    ----------
    mean_probs
        Ensemble mean probabilities on the working grid.
    raw_target
        Ground truth on the raw image grid (same field of view).
    n_classes
        Classes incl. background.

    Returns
    -------
    numpy.ndarray
        Dice per class (NaN when both masks are empty).

    Examples
    --------
    >>> import numpy as np
    >>> p1 = np.array([[[0.2, 0.9]]], np.float32)   # class 1 on a 1 x 1 x 2 working grid
    >>> probs = np.stack([1 - p1, p1])
    >>> dice_on_raw_grid(probs, np.array([[[0, 1, 1, 1]]]), 2).round(3).tolist()
    [0.667, 0.8]
    """
    from medtrust.active.spacing import resample_image

    up = resample_image(mean_probs, np.shape(raw_target))
    return dice_per_class(up.argmax(0).astype(np.uint8), np.asarray(raw_target), n_classes)


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
