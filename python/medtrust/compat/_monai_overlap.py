"""MONAI's overlap metrics (Dice, IoU, ``DiceHelper``): Rust counts for label maps, torch otherwise.

Re-exported by :mod:`medtrust.compat.monai` (see its docs for the conventions reproduced).

Examples
--------
>>> import torch
>>> compute_dice(torch.tensor([[[[0, 1]]]]), torch.tensor([[[[0, 1]]]]), num_classes=2)
tensor([[1., 1.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medtrust import _native
from medtrust.compat._monai_common import as_tensor, check_ignore_index, drop_background
from medtrust.compat._tensors import metric_reduction, reject_option
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = ["DiceHelper", "compute_dice", "compute_iou", "dice_table"]


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


def dice_table(
    y_pred: torch.Tensor,
    y: torch.Tensor,
    include_background: bool,
    ignore_empty: bool,
    num_classes: int | None,
) -> torch.Tensor:
    """MONAI ``DiceHelper``'s per-(item, channel) Dice (no argmax / threshold)."""
    if y_pred.ndim < 3:
        raise InvalidArgumentError(
            "y_pred should have at least 3 dimensions (batch, channel, spatial), "
            f"got {y_pred.ndim}."
        )
    n_ch = y_pred.shape[1] if num_classes is None else int(num_classes)
    chans = list(range(0 if include_background else 1, n_ch)) if n_ch > 1 else [1]
    if y.shape[0] != y_pred.shape[0] or y.shape[2:] != y_pred.shape[2:]:
        raise ShapeMismatchError(
            f"y_pred and y shapes are incompatible: {tuple(y_pred.shape)} vs {tuple(y.shape)}"
        )
    for name, x in (("y_pred", y_pred), ("y", y)):
        if x.shape[1] != 1 and x.shape[1] <= max(chans):
            raise ShapeMismatchError(
                f"{name} has {x.shape[1]} channels; channel {max(chans)} needed"
            )
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
    check_ignore_index(ignore_index)
    if per_component:
        reject_option("monai", "per_component", per_component, "not implemented in the shim")
    return dice_table(
        as_tensor(y_pred, "y_pred"),
        as_tensor(y, "y"),
        include_background,
        ignore_empty,
        num_classes,
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
    check_ignore_index(ignore_index)
    yp, yt = as_tensor(y_pred, "y_pred"), as_tensor(y, "y")
    if not include_background:
        yp, yt = drop_background(yp, yt)
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
        check_ignore_index(ignore_index)
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
        yp, yt = as_tensor(y_pred, "y_pred"), as_tensor(y, "y")
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
        data = dice_table(yp, yt, self.include_background, self.ignore_empty, n_ch)
        f, not_nans = metric_reduction(data, self.reduction)
        return (f, not_nans) if self.get_not_nans else f
