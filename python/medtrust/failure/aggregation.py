"""Aggregation of a pixel-confidence map to one confidence per case.

All aggregates of one map come from a single Rust call (:func:`aggregate`): boundary band by an
exact distance transform, fused masked sums, patch minimum from 1-D summed-area tables
(O(voxels) whatever the window size). Definitions follow Zenk et al. (2025):

- ``mean``: mean over all voxels;
- ``non_boundary_mean``: mean outside a band of width ``width`` (default 4 voxels) around the
  predicted label boundaries (a boundary voxel has a face neighbour of another label; the band
  holds voxels within (width - 2) / 2 voxels of the boundary);
- ``foreground_mean``: mean over predicted foreground outside that band;
- ``patch_min``: minimum over all windows of edge ``patch_size`` (clipped to the image) of the
  window mean;
- ``distance_weighted_mean``: mean weighted by the distance to the nearest boundary, saturating
  at ``saturate`` (voxels, or mm when ``spacing`` is given);
- ``volume_weighted_mean``: mean divided by the predicted foreground volume in voxels (Jungo et
  al.'s volume weighting; at least 1 voxel).

A mean over an empty region (no foreground, everything in the band) falls back to the global
mean. Pairwise Dice of members is the ensemble-level aggregation:
:func:`medtrust.segmentation.pairwise_dice`.

:func:`aggregate_ensemble` aggregates every pixel confidence (MSR, PE, EE, MI) of an
:class:`~medtrust.uncertainty.EnsembleAccumulator` in one streaming pass over its running sums:
no confidence map and no copy of the mean probabilities is materialised, and the boundaries,
band and distance transform are computed once for all confidences. Extra memory stays well
below one member's probabilities (see ``benches/bench_segmentation.py``).

Examples
--------
>>> import numpy as np
>>> from medtrust.failure import aggregate
>>> conf = np.full((20, 20), 0.9, np.float32); conf[8:12, 8:12] = 0.2
>>> pred = np.zeros((20, 20), np.uint8); pred[5:15, 5:15] = 1
>>> a = aggregate(conf, pred, patch_size=4)
>>> round(a["mean"], 4), round(a["patch_min"], 4)
(0.872, 0.2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    as_confidence_map,
    as_int,
    as_label_map,
    as_spacing,
    check_same_shape,
    check_summable,
    to_numpy,
)
from medtrust._deprecation import renamed_kwargs
from medtrust.exceptions import EmptyInputError, InvalidArgumentError, ShapeMismatchError

__all__ = [
    "AGGREGATIONS",
    "PIXEL_CONFIDENCES",
    "aggregate",
    "aggregate_ensemble",
    "boundary_band",
    "distance_weighted_mean",
    "foreground_mean",
    "mean",
    "non_boundary_mean",
    "patch_min",
    "volume_weighted_mean",
]

#: Names of the aggregations of one confidence map, in output order.
AGGREGATIONS: tuple[str, ...] = (
    "mean",
    "non_boundary_mean",
    "foreground_mean",
    "patch_min",
    "distance_weighted_mean",
    "volume_weighted_mean",
)


#: Pixel-confidence kinds of :func:`medtrust.uncertainty.pixel_confidence`.
PIXEL_CONFIDENCES: tuple[str, ...] = ("msr", "pe", "ee", "mi")


def _check_width(width: int) -> int:
    if (
        isinstance(width, bool)
        or not isinstance(width, (int, np.integer))
        or not 2 <= width <= _MAX_SIZE
        or width % 2
    ):
        raise InvalidArgumentError(f"width must be an even integer in [2, 2^31), got {width!r}")
    return int(width)


#: Largest window / band size (a larger Python int would overflow the kernels' integers).
_MAX_SIZE = 2**31 - 1


def _check_size(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    return as_int(value, name, lo=1, hi=_MAX_SIZE)


@renamed_kwargs(prediction="pred", methods="aggregations")
def aggregate(
    confidence: Any,
    pred: Any,
    *,
    aggregations: Sequence[str] = AGGREGATIONS,
    width: int = 4,
    patch_size: int = 10,
    spacing: Any = None,
    saturate: float = 4.0,
) -> dict[str, float]:
    """Every aggregation in ``aggregations`` of one confidence map, in one native call.

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), float16/32/64, 1-D to 3-D.
    pred
        Predicted label map of the same shape (0 = background).
    aggregations
        Subset of :data:`AGGREGATIONS`.
    spacing
        Voxel spacing for the distance weighting (default: voxel units).
    width
        Width in voxels of the band around predicted label boundaries that is left out.
    patch_size
        Window edge in voxels of ``patch_min``.
    saturate
        Distance (``spacing`` units) at which the weights of ``distance_weighted_mean`` stop
        growing.

    Returns
    -------
    dict of str to float
        Aggregation name -> case confidence (higher = more confident).
    """
    unknown = [m for m in aggregations if m not in AGGREGATIONS]
    if unknown:
        raise InvalidArgumentError(f"unknown aggregation(s) {unknown}; choose from {AGGREGATIONS}")
    c = as_confidence_map(confidence, "confidence")
    p = as_label_map(pred, "pred")
    check_same_shape(confidence=c, pred=p)
    if c.ndim > 3:
        raise InvalidArgumentError(f"maps must be 1-D to 3-D, got shape {c.shape}")
    check_summable(c, "confidence")
    width = _check_width(width)
    _check_size(patch_size, "patch_size")
    sp = None if spacing is None else list(as_spacing(spacing, c.ndim))
    if not (np.isfinite(saturate) and saturate > 0):
        raise InvalidArgumentError(f"saturate must be finite and > 0, got {saturate}")
    out = _native.aggregate_confidence(
        c,
        p,
        width,
        int(patch_size) if "patch_min" in aggregations else 0,
        sp,
        float(saturate),
        "distance_weighted_mean" in aggregations,
    )
    return {m: float(out[m]) for m in aggregations}


@renamed_kwargs(prediction="pred", methods="aggregations")
def aggregate_ensemble(
    acc: Any,
    pred: Any = None,
    *,
    kinds: Sequence[str] = PIXEL_CONFIDENCES,
    aggregations: Sequence[str] = AGGREGATIONS,
    width: int = 4,
    patch_size: int = 10,
    spacing: Any = None,
    saturate: float = 4.0,
) -> dict[str, dict[str, float]]:
    """Every aggregation of every pixel confidence of an ensemble accumulator, in one pass.

    Equal to ``aggregate(pixel_confidence(acc, kind), pred, ...)`` for each kind, without
    materialising any confidence map: the confidences are computed from the accumulator's
    running sums a few rows at a time and aggregated on the fly.

    Parameters
    ----------
    acc
        A :class:`medtrust.uncertainty.EnsembleAccumulator` holding at least one member.
    pred
        Predicted label map (default: ``acc.predicted_labels()``, the argmax of the mean
        probabilities).
    kinds
        Pixel confidences among ``msr``, ``pe``, ``ee``, ``mi``.
    aggregations, width, patch_size, spacing, saturate
        As in :func:`aggregate`.

    Returns
    -------
    dict
        ``{kind: {method: value}}``.

    Examples
    --------
    >>> import numpy as np
    >>> from medtrust.uncertainty import EnsembleAccumulator
    >>> acc = EnsembleAccumulator()
    >>> p = np.zeros((2, 12, 12), np.float32); p[0] = 0.9; p[1] = 0.1; p[:, 4:8, 4:8] = 0.5
    >>> acc.add(p)
    >>> a = aggregate_ensemble(acc, kinds=["msr"], aggregations=["mean", "patch_min"], patch_size=4)
    >>> round(a["msr"]["mean"], 4), round(a["msr"]["patch_min"], 4)
    (0.8556, 0.5)
    """
    from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence

    if not isinstance(acc, EnsembleAccumulator):
        raise InvalidArgumentError(f"acc must be an EnsembleAccumulator, got {type(acc).__name__}")
    kinds = [str(k) for k in kinds]
    bad = [k for k in kinds if k not in PIXEL_CONFIDENCES]
    if bad:
        raise InvalidArgumentError(f"unknown confidence(s) {bad}; choose from {PIXEL_CONFIDENCES}")
    unknown = [m for m in aggregations if m not in AGGREGATIONS]
    if unknown:
        raise InvalidArgumentError(f"unknown aggregation(s) {unknown}; choose from {AGGREGATIONS}")
    if acc.n_members == 0:
        raise EmptyInputError("no member was added to the accumulator")
    pred = acc.predicted_labels() if pred is None else pred
    if acc.backend == "torch":
        # Device state: one confidence map at a time goes to the host.
        return {
            k: aggregate(
                to_numpy(pixel_confidence(acc, k), "confidence"),  # type: ignore[arg-type]
                to_numpy(pred, "pred"),
                aggregations=aggregations,
                width=width,
                patch_size=patch_size,
                spacing=spacing,
                saturate=saturate,
            )
            for k in kinds
        }
    p = as_label_map(pred, "pred")
    if tuple(p.shape) != tuple(acc.spatial_shape or ()):
        raise ShapeMismatchError(
            f"pred shape {tuple(p.shape)} differs from the accumulator's spatial shape "
            f"{acc.spatial_shape}"
        )
    if p.ndim > 3:
        raise InvalidArgumentError(f"maps must be 1-D to 3-D, got shape {p.shape}")
    width = _check_width(width)
    _check_size(patch_size, "patch_size")
    sp = None if spacing is None else list(as_spacing(spacing, p.ndim))
    if not (np.isfinite(saturate) and saturate > 0):
        raise InvalidArgumentError(f"saturate must be finite and > 0, got {saturate}")
    sum_p, sum_ent = acc.state()
    out = _native.aggregate_confidences(
        sum_p,
        sum_ent,
        int(acc.n_classes or 0),  # set once a member was added (checked above)
        acc.n_members,
        kinds,
        p,
        width,
        int(patch_size) if "patch_min" in aggregations else 0,
        sp,
        float(saturate),
        "distance_weighted_mean" in aggregations,
    )
    return {k: {m: float(a[m]) for m in aggregations} for k, a in zip(kinds, out)}


def mean(confidence: Any) -> float:
    """Mean over all voxels (float64 accumulation).

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.

    Returns
    -------
    float
        The mean (higher = more confident).

    Examples
    --------
    >>> mean(np.array([0.5, 1.0], np.float32))
    0.75
    """
    c = as_confidence_map(confidence, "confidence")
    check_summable(c, "confidence")
    return float(np.mean(c, dtype=np.float64))


@renamed_kwargs(prediction="pred")
def non_boundary_mean(confidence: Any, pred: Any, *, width: int = 4) -> float:
    """Mean outside the band of ``width`` voxels around predicted label boundaries.

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.
    pred
        Predicted label map of the same shape (0 = background).
    width
        Width in voxels of the band around predicted label boundaries that is left out.

    Returns
    -------
    float
        The mean (higher = more confident).
    """
    return aggregate(confidence, pred, aggregations=("non_boundary_mean",), width=width)[
        "non_boundary_mean"
    ]


@renamed_kwargs(prediction="pred")
def foreground_mean(confidence: Any, pred: Any, *, width: int = 4) -> float:
    """Mean over predicted foreground minus the boundary band (global mean if empty).

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.
    pred
        Predicted label map of the same shape (0 = background).
    width
        Width in voxels of the band around predicted label boundaries that is left out.

    Returns
    -------
    float
        The mean (higher = more confident).
    """
    return aggregate(confidence, pred, aggregations=("foreground_mean",), width=width)[
        "foreground_mean"
    ]


@renamed_kwargs(size="patch_size")
def patch_min(confidence: Any, *, patch_size: int = 10) -> float:
    """Minimum over all windows of edge ``patch_size`` (clipped to the image) of the window mean.

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.
    patch_size
        Window edge in voxels.

    Returns
    -------
    float
        The smallest window mean (higher = more confident).

    Examples
    --------
    >>> round(patch_min(np.array([0.9, 0.1, 0.2, 0.9]), patch_size=2), 6)
    0.15
    """
    c = as_confidence_map(confidence, "confidence")
    if not 1 <= c.ndim <= 3:
        raise ShapeMismatchError(f"confidence must be a 1-D to 3-D map, got shape {c.shape}")
    check_summable(c, "confidence")
    _check_size(patch_size, "patch_size")
    return float(_native.patch_min(c, int(patch_size)))


@renamed_kwargs(prediction="pred")
def distance_weighted_mean(
    confidence: Any, pred: Any, *, spacing: Any = None, saturate: float = 4.0
) -> float:
    """Mean weighted by min(distance to the nearest label boundary, ``saturate``).

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.
    pred
        Predicted label map of the same shape (0 = background).
    spacing
        Voxel spacing in array-axis order (None: voxel units).
    saturate
        Distance at which the weights stop growing.

    Returns
    -------
    float
        The weighted mean (higher = more confident).
    """
    return aggregate(
        confidence,
        pred,
        aggregations=("distance_weighted_mean",),
        spacing=spacing,
        saturate=saturate,
    )["distance_weighted_mean"]


@renamed_kwargs(prediction="pred")
def volume_weighted_mean(confidence: Any, pred: Any) -> float:
    """Mean confidence divided by the predicted foreground volume (voxels, at least 1).

    Parameters
    ----------
    confidence
        Pixel confidence map (higher = more confident), 1-D to 3-D.
    pred
        Predicted label map of the same shape (0 = background).

    Returns
    -------
    float
        Mean confidence over foreground volume.
    """
    return aggregate(confidence, pred, aggregations=("volume_weighted_mean",))[
        "volume_weighted_mean"
    ]


@renamed_kwargs(prediction="pred")
def boundary_band(pred: Any, *, width: int = 4) -> np.ndarray:
    """Boolean band of ``width`` voxels around the label boundaries of ``pred``.

    Parameters
    ----------
    pred
        Predicted label map of the same shape (0 = background).
    width
        Band width in voxels.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the band, shape of ``pred``.

    Examples
    --------
    >>> boundary_band(np.array([0, 0, 0, 1, 1, 1, 1, 0, 0, 0]), width=2).nonzero()[0].tolist()
    [2, 3, 6, 7]
    """
    p = as_label_map(pred, "pred")
    if p.ndim > 3:
        raise InvalidArgumentError(f"maps must be 1-D to 3-D, got shape {p.shape}")
    return _native.boundary_band(p, _check_width(width))
