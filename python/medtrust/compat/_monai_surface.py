"""MONAI's surface metrics (HD / percentile HD, ASD / ASSD, NSD) on medtrust's distance kernel.

Re-exported by :mod:`medtrust.compat.monai` (see its docs for the conventions reproduced).

Examples
--------
>>> import torch
>>> a = torch.zeros(1, 1, 6, 6); a[0, 0, 1:3, 1:3] = 1
>>> compute_hausdorff_distance(a, a, include_background=True)
tensor([[0.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medtrust.compat._monai_common import as_tensor, check_ignore_index, drop_background
from medtrust.compat._surface_batch import PairDistances, batch_distances
from medtrust.compat._tensors import host_array, prepare_spacing
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = [
    "compute_average_surface_distance",
    "compute_hausdorff_distance",
    "compute_surface_dice",
]

# torch.quantile refuses inputs above 2**24 elements; beyond it the same rule runs in numpy.
_QUANTILE_MAX = 1 << 24


def _surface_inputs(
    y_pred: Any,
    y: Any,
    include_background: bool,
    spacing: Any,
    allow_host_copy: bool,
    where: str,
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, ...]], torch.device]:
    """Binary ``[B, C, ...]`` masks (value == 1, as MONAI's edge finder), spacings, device."""
    tp, ty = as_tensor(y_pred, "y_pred"), as_tensor(y, "y")
    if tp.ndim < 3:
        raise InvalidArgumentError(f"y_pred should have at least three dimensions, got {tp.ndim}")
    if not include_background:
        tp, ty = drop_background(tp, ty)
    if tp.shape != ty.shape:
        raise ShapeMismatchError(
            f"y_pred and y should have same shapes, got {tuple(tp.shape)} and {tuple(ty.shape)}"
        )
    device = tp.device
    p = host_array(tp, "y_pred", allow_host_copy=allow_host_copy, where=where) == 1
    t = host_array(ty, "y", allow_host_copy=allow_host_copy, where=where) == 1
    spacings = prepare_spacing(spacing, p.shape[0], p.ndim - 2)
    return p, t, spacings, device


def _quantile(d: np.ndarray, q: float) -> float:
    """Torch's float32 linear-interpolation quantile (MONAI's), of sorted distances."""
    x = d.astype(np.float32)
    if x.size <= _QUANTILE_MAX:
        return float(torch.quantile(torch.from_numpy(x), q / 100.0))
    return float(np.quantile(x, q / 100.0))


def _hd_value(pd: PairDistances, percentile: float | None, directed: bool) -> float:
    if pd.status == "both_empty":
        return float("nan")
    if pd.status != "ok":
        return float("nan") if percentile else float("inf")
    dirs = [pd.pred_to_target] if directed else [pd.pred_to_target, pd.target_to_pred]
    if not percentile:
        return float(max(np.float32(d[-1]) for d in dirs))
    vals = [_quantile(d, percentile) for d in dirs]
    return float("nan") if any(np.isnan(vals)) else max(vals)


def _asd_value(pd: PairDistances, symmetric: bool) -> float:
    if pd.status == "both_empty":
        return float("nan")
    if pd.status != "ok":
        return float("inf")
    d = np.concatenate([pd.pred_to_target, pd.target_to_pred]) if symmetric else pd.pred_to_target
    return float(np.mean(d.astype(np.float32), dtype=np.float64))


def _nsd_value(pd: PairDistances, tau: float, subvoxels: bool) -> float:
    if pd.status == "both_empty":
        return float("nan")
    if pd.status != "ok":
        return 0.0
    # MONAI compares float32 distances with the threshold cast to float32.
    t32 = np.float32(tau)
    kp = np.searchsorted(pd.pred_to_target.astype(np.float32), t32, side="right")
    kt = np.searchsorted(pd.target_to_pred.astype(np.float32), t32, side="right")
    if not subvoxels:
        return float((kp + kt) / (len(pd.pred_to_target) + len(pd.target_to_pred)))
    good = pd.pred_weights[:kp].sum() + pd.target_weights[:kt].sum()
    return float(good / (pd.pred_weights.sum() + pd.target_weights.sum()))


def _table(values: list[list[float]], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).to(device)


def compute_hausdorff_distance(
    y_pred: Any,
    y: Any,
    include_background: bool = False,
    distance_metric: str = "euclidean",
    percentile: float | None = None,
    directed: bool = False,
    spacing: Any = None,
    ignore_index: int | None = None,
    *,
    allow_host_copy: bool = False,
) -> torch.Tensor:
    """Hausdorff distance (or its ``percentile``) per item and channel, as MONAI's.

    Parameters
    ----------
    y_pred, y
        Binarised one-hot ``[B, C, H, W[, D]]`` tensors or arrays.
    include_background
        Keep channel 0 (default False, as MONAI).
    distance_metric
        "euclidean" (default), "chessboard" or "taxicab" (the latter two ignore ``spacing``).
    percentile
        None or 0: the maximum; otherwise the percentile (torch's linear interpolation).
    directed
        Only the distances from ``y_pred`` to ``y``.
    spacing
        None (unit), a number, one value per axis, or one of those per batch item.
    ignore_index
        Not supported (raises).
    allow_host_copy
        Copy CUDA tensors to the host instead of raising :class:`DeviceError`.

    Returns
    -------
    torch.Tensor
        ``[B, C]`` float32 on the device of ``y_pred``.

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 1, 6, 6); a[0, 0, 1:3, 1:3] = 1
    >>> b = torch.zeros(1, 1, 6, 6); b[0, 0, 1:3, 3:5] = 1
    >>> compute_hausdorff_distance(a, b, spacing=[1.0, 0.5])
    tensor([[1.]])
    """
    check_ignore_index(ignore_index)
    if percentile is not None and not 0 <= percentile <= 100:
        raise InvalidArgumentError(
            f"percentile should be a value between 0 and 100, got {percentile}"
        )
    p, t, sp, dev = _surface_inputs(
        y_pred, y, include_background, spacing, allow_host_copy, "compute_hausdorff_distance"
    )
    rows = batch_distances(p, t, sp, distance_metric, subvoxels=False)
    return _table([[_hd_value(pd, percentile, directed) for pd in r] for r in rows], dev)


def compute_average_surface_distance(
    y_pred: Any,
    y: Any,
    include_background: bool = False,
    symmetric: bool = False,
    distance_metric: str = "euclidean",
    spacing: Any = None,
    ignore_index: int | None = None,
    *,
    allow_host_copy: bool = False,
) -> torch.Tensor:
    """Average surface distance from ``y_pred`` to ``y`` (``symmetric``: both ways), as MONAI's.

    Arguments as :func:`compute_hausdorff_distance`; ``symmetric=True`` averages the distances
    of both surfaces together (ASSD).

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 1, 6, 6); a[0, 0, 1:3, 1:3] = 1
    >>> compute_average_surface_distance(a, a, symmetric=True)
    tensor([[0.]])
    """
    check_ignore_index(ignore_index)
    p, t, sp, dev = _surface_inputs(
        y_pred, y, include_background, spacing, allow_host_copy, "compute_average_surface_distance"
    )
    rows = batch_distances(p, t, sp, distance_metric, subvoxels=False)
    return _table([[_asd_value(pd, symmetric) for pd in r] for r in rows], dev)


def compute_surface_dice(
    y_pred: Any,
    y: Any,
    class_thresholds: list[float],
    include_background: bool = False,
    distance_metric: str = "euclidean",
    spacing: Any = None,
    use_subvoxels: bool = False,
    ignore_index: int | None = None,
    *,
    allow_host_copy: bool = False,
) -> torch.Tensor:
    """Normalized surface Dice per item and channel at per-class tolerances, as MONAI's.

    ``class_thresholds`` gives one tolerance per kept channel (in the distance unit: mm with
    ``spacing``, voxels otherwise). ``use_subvoxels=True`` weights surfels by area (DeepMind).

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 2, 6, 6); a[0, 1, 1:3, 1:3] = 1; a[0, 0] = 1 - a[0, 1]
    >>> compute_surface_dice(a, a, class_thresholds=[1.0])
    tensor([[1.]])
    """
    check_ignore_index(ignore_index)
    if not isinstance(y_pred, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InvalidArgumentError("y_pred and y must be PyTorch Tensor.")
    if y_pred.ndim not in (4, 5) or y.ndim not in (4, 5):
        raise InvalidArgumentError(
            "y_pred and y should be one-hot encoded: [B,C,H,W] or [B,C,H,W,D]."
        )
    p, t, sp, dev = _surface_inputs(
        y_pred, y, include_background, spacing, allow_host_copy, "compute_surface_dice"
    )
    th = np.asarray(class_thresholds, dtype=np.float64).reshape(-1)
    if th.size != p.shape[1]:
        raise ShapeMismatchError(
            f"number of classes ({p.shape[1]}) does not match number of class thresholds "
            f"({th.size})."
        )
    if not np.all(np.isfinite(th)):
        raise InvalidArgumentError("All class thresholds need to be finite.")
    if np.any(th < 0):
        raise InvalidArgumentError("All class thresholds need to be >= 0.")
    rows = batch_distances(p, t, sp, distance_metric, subvoxels=use_subvoxels)
    return _table(
        [[_nsd_value(pd, float(th[c]), use_subvoxels) for c, pd in enumerate(r)] for r in rows],
        dev,
    )
