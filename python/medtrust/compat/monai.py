"""MONAI's segmentation metrics (``monai.metrics``) answered by medtrust's kernels.

Change ``from monai.metrics import ...`` to ``from medtrust.compat.monai import ...`` (or call
:func:`patch`): the functions and cumulative metric classes keep MONAI's signatures, argument
names and defaults, input forms (one-hot ``[B, C, ...]`` tensors or lists of channel-first
tensors; label maps ``[B, 1, ...]`` with ``num_classes`` for Dice), outputs (``[B, C]`` float32
tensors on the input's device, NaN where MONAI gives NaN, ``(value, not_nans)`` pairs) and
``__call__`` / ``aggregate()`` / ``reset()`` / ``get_buffer()``.

Conventions reproduced (MONAI 1.3-1.6)
--------------------------------------
- a channel is the set of voxels equal to 1 (surface metrics) or non-zero (``y_pred`` of Dice);
  surfaces are border voxels (``use_subvoxels=True``: area-weighted surfels, DeepMind's);
- ``spacing=None`` is unit spacing; ``"chessboard"`` / ``"taxicab"`` ignore the spacing
  (MONAI's chamfer transforms do);
- both masks empty: NaN for every surface metric; one empty: HD and ASD ``inf``, a
  percentile HD NaN (the quantile of infinities), NSD 0;
- ``percentile=0`` (falsy) is the maximum, as in MONAI;
- Dice/IoU with ``ignore_empty=True``: NaN where the reference channel is empty; otherwise 1 when
  both are empty and 0 when only the reference is.

Not covered (a clear :class:`~medtrust.compat._tensors.UnsupportedOptionError`):
``ignore_index``, ``per_component=True`` and ``use_subvoxels`` with a non-Euclidean metric.

Device: Dice and IoU are torch reductions and run on the input's device; surface metrics run on
the CPU and refuse CUDA tensors (:class:`~medtrust.exceptions.DeviceError`) unless
``allow_host_copy=True`` (the result is returned on the input's device).

Examples
--------
>>> import torch
>>> y = torch.zeros(1, 2, 10, 10); y[:, 1, 2:6, 2:6] = 1; y[:, 0] = 1 - y[:, 1]
>>> p = torch.zeros_like(y); p[:, 1, 2:6, 3:7] = 1; p[:, 0] = 1 - p[:, 1]
>>> compute_hausdorff_distance(p, y)
tensor([[1.]])
>>> compute_dice(p, y, include_background=False)
tensor([[0.7500]])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from medtrust import _native
from medtrust.compat._cumulative import CumulativeMetric
from medtrust.compat._surface_batch import PairDistances, batch_distances
from medtrust.compat._tensors import (
    host_array,
    metric_reduction,
    prepare_spacing,
    reject_option,
)
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = [
    "DiceHelper",
    "DiceMetric",
    "HausdorffDistanceMetric",
    "MeanIoU",
    "SurfaceDiceMetric",
    "SurfaceDistanceMetric",
    "compute_average_surface_distance",
    "compute_dice",
    "compute_hausdorff_distance",
    "compute_iou",
    "compute_surface_dice",
    "patch",
    "patched",
    "unpatch",
]

# torch.quantile refuses inputs above 2**24 elements; beyond it the same rule runs in numpy.
_QUANTILE_MAX = 1 << 24


def _check_ignore_index(ignore_index: int | None) -> None:
    if ignore_index is not None:
        reject_option("monai", "ignore_index", ignore_index, "not implemented in the shim")


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    return torch.as_tensor(np.asarray(x))


def _drop_background(y_pred: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MONAI's ``ignore_background``: drop channel 0 of each input that has more than one."""
    return (y_pred[:, 1:] if y_pred.shape[1] > 1 else y_pred), (y[:, 1:] if y.shape[1] > 1 else y)


def _surface_inputs(
    y_pred: Any,
    y: Any,
    include_background: bool,
    spacing: Any,
    allow_host_copy: bool,
    where: str,
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, ...]], torch.device]:
    """Binary ``[B, C, ...]`` masks (value == 1, as MONAI's edge finder), spacings, device."""
    tp, ty = _as_tensor(y_pred, "y_pred"), _as_tensor(y, "y")
    if tp.ndim < 3:
        raise InvalidArgumentError(f"y_pred should have at least three dimensions, got {tp.ndim}")
    if not include_background:
        tp, ty = _drop_background(tp, ty)
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
    """torch's float32 linear-interpolation quantile (MONAI's), of sorted distances."""
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
    _check_ignore_index(ignore_index)
    if percentile is not None and not 0 <= percentile <= 100:
        raise InvalidArgumentError(f"percentile should be a value between 0 and 100, got {percentile}")
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
    _check_ignore_index(ignore_index)
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
    _check_ignore_index(ignore_index)
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


# -- overlap ---------------------------------------------------------------------------------------
def _index_counts(p: torch.Tensor, t: torch.Tensor, n: int) -> tuple[np.ndarray, ...] | None:
    """(tp, pred size, target size) ``[B, n]`` from two CPU label maps via Rust, or None."""
    if p.device.type != "cpu" or t.device.type != "cpu":
        return None
    if p.dtype.is_floating_point or t.dtype.is_floating_point or p.dtype == torch.bool:
        return None
    tp, ps, ts = (np.zeros((p.shape[0], n), np.int64) for _ in range(3))
    for b in range(p.shape[0]):
        pb = p[b].reshape(-1).numpy()
        tb = t[b].reshape(-1).numpy()
        if pb.size and (pb.min() < 0 or pb.max() >= n or tb.min() < 0 or tb.max() >= n):
            return None  # labels outside [0, n) count nowhere in MONAI: use the generic path
        if pb.dtype == np.int8 or pb.dtype == np.int16:
            pb, tb = pb.astype(np.int32), tb.astype(np.int32)
        # Returns (tp, pred volume, target volume, counted, ignored) per class.
        tp[b], ps[b], ts[b], _, _ = _native.confusion_counts(pb, tb.astype(pb.dtype, copy=False), n)
    return tp, ps, ts


def _dice_table(
    y_pred: torch.Tensor,
    y: torch.Tensor,
    include_background: bool,
    ignore_empty: bool,
    num_classes: int | None,
) -> torch.Tensor:
    """MONAI ``DiceHelper``'s per-(item, channel) Dice (no argmax / threshold)."""
    if y_pred.ndim < 3:
        raise InvalidArgumentError(
            f"y_pred should have at least 3 dimensions (batch, channel, spatial), got {y_pred.ndim}."
        )
    n_ch = y_pred.shape[1] if num_classes is None else int(num_classes)
    chans = list(range(0 if include_background else 1, n_ch)) if n_ch > 1 else [1]
    if y.shape[0] != y_pred.shape[0] or y.shape[2:] != y_pred.shape[2:]:
        raise ShapeMismatchError(
            f"y_pred and y shapes are incompatible: {tuple(y_pred.shape)} vs {tuple(y.shape)}"
        )
    for name, x in (("y_pred", y_pred), ("y", y)):
        if x.shape[1] != 1 and x.shape[1] <= max(chans):
            raise ShapeMismatchError(f"{name} has {x.shape[1]} channels; channel {max(chans)} needed")
    out_dtype = y.dtype if (y.shape[1] > 1 and y.dtype.is_floating_point) else torch.float32
    counts = None
    if y_pred.shape[1] == 1 and y.shape[1] == 1 and n_ch > 1:
        counts = _index_counts(y_pred[:, 0], y[:, 0], n_ch)
    if counts is not None:
        idx = np.asarray(chans)
        inter = torch.from_numpy(counts[0][:, idx]).double()
        p_sum = torch.from_numpy(counts[1][:, idx]).double()
        y_sum = torch.from_numpy(counts[2][:, idx]).double()
    else:
        # One vectorised pass per operand over every kept channel (MONAI loops over B x C).
        def chan(x: torch.Tensor, binar: bool) -> torch.Tensor:
            if x.shape[1] == 1:
                ids = torch.tensor(chans, device=x.device).view(1, -1, *([1] * (x.ndim - 2)))
                return x == ids
            sel = x[:, chans]
            return sel.bool() if binar else sel

        xp = chan(y_pred, True)
        xt = chan(y, False)
        flat = (xp.shape[0], xp.shape[1], -1)
        acc = torch.float64
        y_sum = xt.reshape(flat).sum(-1, dtype=acc)
        p_sum = xp.reshape(flat).sum(-1, dtype=acc)
        inter = (xt * xp).reshape(flat).sum(-1, dtype=acc)
    dev = y_pred.device
    inter, p_sum, y_sum = inter.to(dev), p_sum.to(dev), y_sum.to(dev)
    dice = 2.0 * inter / (y_sum + p_sum)
    empty = y_sum <= 0
    if ignore_empty:
        fill = torch.full_like(dice, float("nan"))
    else:
        fill = torch.where(y_sum + p_sum <= 0, 1.0, 0.0).to(dice)
    return torch.where(empty, fill, dice).to(out_dtype)


def compute_dice(
    y_pred: Any,
    y: Any,
    include_background: bool = True,
    ignore_empty: bool = True,
    num_classes: int | None = None,
    per_component: bool = False,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Dice per item and channel, as MONAI's (one-hot or ``[B, 1, ...]`` label-map inputs).

    ``y_pred`` is binarised (non-zero); ``y`` may hold soft values. Two CPU label maps with
    ``num_classes`` are counted in one Rust pass per item; other forms reduce in torch on the
    input's device.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[[0, 1, 1, 2]]]]); t = torch.tensor([[[[0, 1, 2, 2]]]])
    >>> compute_dice(p, t, num_classes=3)
    tensor([[1.0000, 0.6667, 0.6667]])
    """
    _check_ignore_index(ignore_index)
    if per_component:
        reject_option("monai", "per_component", per_component, "not implemented in the shim")
    return _dice_table(
        _as_tensor(y_pred, "y_pred"), _as_tensor(y, "y"), include_background, ignore_empty, num_classes
    )


def compute_iou(
    y_pred: Any,
    y: Any,
    include_background: bool = True,
    ignore_empty: bool = True,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Intersection over union per item and channel, as MONAI's (one-hot inputs, raw values).

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[[[1.0, 1.0, 0.0]]]]); b = torch.tensor([[[[1.0, 0.0, 1.0]]]])
    >>> compute_iou(a, b)
    tensor([[0.3333]])
    """
    _check_ignore_index(ignore_index)
    yp, yt = _as_tensor(y_pred, "y_pred"), _as_tensor(y, "y")
    if not include_background:
        yp, yt = _drop_background(yp, yt)
    if yp.shape != yt.shape:
        raise ShapeMismatchError(
            f"y_pred and y should have same shapes, got {tuple(yp.shape)} and {tuple(yt.shape)}."
        )
    axes = list(range(2, yp.ndim))
    inter = torch.sum(yt * yp, dim=axes)
    y_o = torch.sum(yt, axes)
    union = y_o + torch.sum(yp, dim=axes) - inter
    if ignore_empty:
        return torch.where(y_o > 0, inter / union, torch.tensor(float("nan"), device=y_o.device))
    return torch.where(union > 0, inter / union, torch.tensor(1.0, device=y_o.device))


class DiceHelper:
    """MONAI's ``DiceHelper``: argmax / threshold the prediction, then Dice and a reduction.

    Defaults as MONAI's: ``apply_argmax`` unless ``threshold``; ``include_background`` follows
    ``threshold``; ``reduction="mean_batch"``; returns ``(value, not_nans)``.

    Examples
    --------
    >>> import torch
    >>> y_pred = torch.tensor([[[[0.9, 0.1]], [[0.1, 0.9]]]])   # [B=1, C=2, 1, 2] scores
    >>> y = torch.tensor([[[[0, 1]]]])
    >>> DiceHelper()(y_pred, y)
    (tensor([1.]), tensor([1.]))
    """

    def __init__(
        self,
        include_background: bool | None = None,
        threshold: bool = False,
        apply_argmax: bool | None = None,
        activate: bool = False,
        get_not_nans: bool = True,
        reduction: Any = "mean_batch",
        ignore_empty: bool = True,
        num_classes: int | None = None,
        sigmoid: bool | None = None,
        softmax: bool | None = None,
        per_component: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        _check_ignore_index(ignore_index)
        if per_component:
            reject_option("monai", "per_component", per_component, "not implemented in the shim")
        if sigmoid is not None:
            threshold = sigmoid
        if softmax is not None:
            apply_argmax = softmax
        self.threshold = threshold
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.include_background = threshold if include_background is None else include_background
        self.apply_argmax = (not threshold) if apply_argmax is None else apply_argmax
        self.activate = activate
        self.ignore_empty = ignore_empty
        self.num_classes = num_classes
        self.per_component = per_component
        self.ignore_index = ignore_index

    def __call__(self, y_pred: Any, y: Any) -> Any:
        """Dice of ``y_pred`` against ``y``, reduced (see the class docs)."""
        yp, yt = _as_tensor(y_pred, "y_pred"), _as_tensor(y, "y")
        argmax, thresh = self.apply_argmax, self.threshold
        n_ch = yp.shape[1] if self.num_classes is None else self.num_classes
        if self.num_classes is not None and yp.shape[1] == 1 and self.num_classes > 1:
            argmax = thresh = False
        if argmax and n_ch > 1:
            yp = torch.argmax(yp, dim=1, keepdim=True)
        elif thresh:
            if self.activate:
                yp = torch.sigmoid(yp)
            yp = yp > 0.5
        data = _dice_table(yp, yt, self.include_background, self.ignore_empty, n_ch)
        f, not_nans = metric_reduction(data, self.reduction)
        return (f, not_nans) if self.get_not_nans else f


# -- cumulative classes ---------------------------------------------------------------------------
class DiceMetric(CumulativeMetric):
    """MONAI's ``DiceMetric`` (see :func:`compute_dice`); ``return_with_label`` as MONAI's.

    Examples
    --------
    >>> import torch
    >>> dm = DiceMetric(num_classes=3, reduction="mean_batch")
    >>> _ = dm(torch.tensor([[[[0, 1, 1, 2]]]]), torch.tensor([[[[0, 1, 2, 2]]]]))
    >>> dm.aggregate()
    tensor([1.0000, 0.6667, 0.6667])
    """

    def __init__(
        self,
        include_background: bool = True,
        reduction: Any = "mean",
        get_not_nans: bool = False,
        ignore_empty: bool = True,
        num_classes: int | None = None,
        return_with_label: bool | list[str] = False,
        per_component: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__()
        _check_ignore_index(ignore_index)
        if per_component:
            reject_option("monai", "per_component", per_component, "not implemented in the shim")
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty
        self.num_classes = num_classes
        self.return_with_label = return_with_label
        self.per_component = per_component
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        if y_pred.ndim < 3:
            raise InvalidArgumentError(
                "y_pred should have at least 3 dimensions (batch, channel, spatial), "
                f"got {y_pred.ndim}."
            )
        return _dice_table(
            y_pred, _as_tensor(y, "y"), self.include_background, self.ignore_empty, self.num_classes
        )

    def aggregate(self, reduction: Any = None) -> Any:
        """Reduce the buffer; with "mean_batch" and ``return_with_label`` a label->value dict."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise InvalidArgumentError("nothing to aggregate: call the metric on data first")
        f, not_nans = metric_reduction(data, reduction or self.reduction)
        red = str(getattr(self.reduction, "value", self.reduction)).lower()
        if red == "mean_batch" and self.return_with_label:
            if isinstance(self.return_with_label, bool):
                start = 0 if self.include_background else 1
                f = {f"label_{i + start}": round(v.item(), 4) for i, v in enumerate(f)}
            else:
                f = {k: round(v.item(), 4) for k, v in zip(self.return_with_label, f)}
        return (f, not_nans) if self.get_not_nans else f


class MeanIoU(CumulativeMetric):
    """MONAI's ``MeanIoU`` (see :func:`compute_iou`).

    Examples
    --------
    >>> import torch
    >>> m = MeanIoU(); _ = m(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2)); m.aggregate()
    tensor([1.])
    """

    def __init__(
        self,
        include_background: bool = True,
        reduction: Any = "mean",
        get_not_nans: bool = False,
        ignore_empty: bool = True,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__()
        _check_ignore_index(ignore_index)
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        if y_pred.ndim < 3:
            raise InvalidArgumentError(f"y_pred should have at least 3 dimensions, got {y_pred.ndim}")
        return compute_iou(y_pred, y, self.include_background, self.ignore_empty)


class _SurfaceMetric(CumulativeMetric):
    allow_host_copy: bool = False

    def _check(self, y_pred: torch.Tensor) -> None:
        if y_pred.ndim < 3:
            raise InvalidArgumentError("y_pred should have at least three dimensions.")


class HausdorffDistanceMetric(_SurfaceMetric):
    """MONAI's ``HausdorffDistanceMetric`` (see :func:`compute_hausdorff_distance`).

    ``spacing`` is passed to ``__call__`` as in MONAI.

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 1, 6, 6); a[0, 0, 1:3, 1:3] = 1
    >>> m = HausdorffDistanceMetric(include_background=True)
    >>> _ = m(a, a, spacing=0.5); m.aggregate()
    tensor([0.])
    """

    def __init__(
        self,
        include_background: bool = False,
        distance_metric: str = "euclidean",
        percentile: float | None = None,
        directed: bool = False,
        reduction: Any = "mean",
        get_not_nans: bool = False,
        ignore_index: int | None = None,
        *,
        allow_host_copy: bool = False,
    ) -> None:
        super().__init__()
        _check_ignore_index(ignore_index)
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.percentile = percentile
        self.directed = directed
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_index = ignore_index
        self.allow_host_copy = allow_host_copy

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        self._check(y_pred)
        return compute_hausdorff_distance(
            y_pred,
            y,
            include_background=self.include_background,
            distance_metric=self.distance_metric,
            percentile=self.percentile,
            directed=self.directed,
            spacing=kwargs.get("spacing"),
            allow_host_copy=self.allow_host_copy,
        )


class SurfaceDistanceMetric(_SurfaceMetric):
    """MONAI's ``SurfaceDistanceMetric`` (see :func:`compute_average_surface_distance`).

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 1, 6, 6); a[0, 0, 1:3, 1:3] = 1
    >>> m = SurfaceDistanceMetric(include_background=True, symmetric=True)
    >>> _ = m(a, a); m.aggregate()
    tensor([0.])
    """

    def __init__(
        self,
        include_background: bool = False,
        symmetric: bool = False,
        distance_metric: str = "euclidean",
        reduction: Any = "mean",
        get_not_nans: bool = False,
        ignore_index: int | None = None,
        *,
        allow_host_copy: bool = False,
    ) -> None:
        super().__init__()
        _check_ignore_index(ignore_index)
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.symmetric = symmetric
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_index = ignore_index
        self.allow_host_copy = allow_host_copy

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        self._check(y_pred)
        return compute_average_surface_distance(
            y_pred,
            y,
            include_background=self.include_background,
            symmetric=self.symmetric,
            distance_metric=self.distance_metric,
            spacing=kwargs.get("spacing"),
            allow_host_copy=self.allow_host_copy,
        )


class SurfaceDiceMetric(_SurfaceMetric):
    """MONAI's ``SurfaceDiceMetric`` (see :func:`compute_surface_dice`).

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(1, 2, 6, 6); a[0, 1, 1:3, 1:3] = 1; a[0, 0] = 1 - a[0, 1]
    >>> m = SurfaceDiceMetric(class_thresholds=[0.5]); _ = m(a, a); m.aggregate()
    tensor([1.])
    """

    def __init__(
        self,
        class_thresholds: list[float],
        include_background: bool = False,
        distance_metric: str = "euclidean",
        reduction: Any = "mean",
        get_not_nans: bool = False,
        use_subvoxels: bool = False,
        ignore_index: int | None = None,
        *,
        allow_host_copy: bool = False,
    ) -> None:
        super().__init__()
        _check_ignore_index(ignore_index)
        self.class_thresholds = class_thresholds
        self.include_background = include_background
        self.distance_metric = distance_metric
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.use_subvoxels = use_subvoxels
        self.ignore_index = ignore_index
        self.allow_host_copy = allow_host_copy

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        self._check(y_pred)
        return compute_surface_dice(
            y_pred,
            y,
            class_thresholds=self.class_thresholds,
            include_background=self.include_background,
            distance_metric=self.distance_metric,
            spacing=kwargs.get("spacing"),
            use_subvoxels=self.use_subvoxels,
            allow_host_copy=self.allow_host_copy,
        )


# -- patching --------------------------------------------------------------------------------------
_NAMES: tuple[str, ...] = (
    "compute_dice",
    "compute_iou",
    "compute_hausdorff_distance",
    "compute_average_surface_distance",
    "compute_surface_dice",
    "DiceMetric",
    "DiceHelper",
    "MeanIoU",
    "HausdorffDistanceMetric",
    "SurfaceDistanceMetric",
    "SurfaceDiceMetric",
)
# Where MONAI defines each name (the package re-exports it; both bindings are swapped).
_HOMES: dict[str, str] = {
    "compute_dice": "monai.metrics.meandice",
    "DiceMetric": "monai.metrics.meandice",
    "DiceHelper": "monai.metrics.meandice",
    "compute_iou": "monai.metrics.meaniou",
    "MeanIoU": "monai.metrics.meaniou",
    "compute_hausdorff_distance": "monai.metrics.hausdorff_distance",
    "HausdorffDistanceMetric": "monai.metrics.hausdorff_distance",
    "compute_average_surface_distance": "monai.metrics.surface_distance",
    "SurfaceDistanceMetric": "monai.metrics.surface_distance",
    "compute_surface_dice": "monai.metrics.surface_dice",
    "SurfaceDiceMetric": "monai.metrics.surface_dice",
}


def patch(names: Sequence[str] | None = None) -> list[str]:
    """Make ``monai.metrics`` answer with the shims; returns the replaced ``module.name`` list.

    Code that looks the names up at call time (``monai.metrics.compute_dice(...)``, or a module
    imported after the patch) runs medtrust's kernels without an edit. Names bound earlier with
    ``from monai.metrics import X`` keep MONAI's object.

    Examples
    --------
    >>> replaced = patch(["compute_dice"]); replaced
    ['monai.metrics.compute_dice', 'monai.metrics.meandice.compute_dice']
    >>> import monai.metrics; monai.metrics.compute_dice is compute_dice
    True
    >>> unpatch()
    ['monai.metrics.compute_dice', 'monai.metrics.meandice.compute_dice']
    """
    from medtrust.compat import _patching

    chosen = list(_NAMES if names is None else names)
    unknown = sorted(set(chosen) - set(_NAMES))
    if unknown:
        raise InvalidArgumentError(f"monai names without a shim: {unknown}; choose from {_NAMES}")
    here = globals()
    targets = {n: ["monai.metrics", _HOMES[n]] for n in chosen}
    return _patching.apply("monai", {n: here[n] for n in chosen}, targets)


def unpatch() -> list[str]:
    """Restore every name :func:`patch` replaced; returns them."""
    from medtrust.compat import _patching

    return _patching.restore("monai")


@contextlib.contextmanager
def patched(names: Sequence[str] | None = None) -> Iterator[list[str]]:
    """Context manager: :func:`patch` on entry, :func:`unpatch` on exit (yields the report).

    Examples
    --------
    >>> import monai.metrics
    >>> with patched() as replaced:
    ...     monai.metrics.HausdorffDistanceMetric is HausdorffDistanceMetric
    True
    """
    replaced = patch(names)
    try:
        yield replaced
    finally:
        unpatch()
