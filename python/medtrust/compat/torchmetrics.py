"""torchmetrics' segmentation overlap metrics answered by medtrust's counting kernel.

(Over 400 lines: each class comes with its functional form and both share the argument
checks of torchmetrics' ``input_format`` / ``average`` handling; one module per peer module.)

Change ``from torchmetrics.segmentation import DiceScore`` to
``from medtrust.compat.torchmetrics import DiceScore`` (or call :func:`patch`). Covered:
``DiceScore`` / ``dice_score`` (``average`` "micro" | "macro" | "weighted" | "none",
``aggregation_level``), ``GeneralizedDiceScore`` / ``generalized_dice_score`` (``weight_type``)
and ``MeanIoU`` / ``mean_iou``, with torchmetrics' ``input_format`` ("one-hot", "index",
"mixed"; floating one-hot inputs are arg-maxed, as torchmetrics does).

Whenever both inputs reduce to label maps on the CPU (index inputs, or float scores that are
arg-maxed), the per-(sample, class) intersection and volumes come from one Rust counting pass
per sample instead of materialising one-hot tensors; otherwise from torch reductions on the
input's device.

The classes are ``torchmetrics.Metric`` subclasses (``update`` / ``compute`` / ``reset`` /
``forward``, states with torchmetrics' ``dist_reduce_fx`` so DDP sync works); they are built on
first access, so importing this module does not import torchmetrics. ``HausdorffDistance`` /
``hausdorff_distance`` come from :mod:`medtrust.compat._torchmetrics_surface` (medtrust's
distance kernel, all (sample, class) pairs in one parallel Rust call; its docs list the
conventions and the documented differences). (Over 400 lines: three metrics, each as a function
and a ``Metric`` class over one shared counting path.)

Examples
--------
>>> import torch
>>> p = torch.tensor([[0, 1, 1, 2]]); t = torch.tensor([[0, 1, 2, 2]])
>>> dice_score(p, t, num_classes=3, average="none", input_format="index")
tensor([[1.0000, 0.6667, 0.6667]])
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from medtrust import _native
from medtrust._arrays import check_choice
from medtrust.compat._torchmetrics_surface import build_hausdorff_class, hausdorff_distance
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = [
    "DiceScore",  # noqa: F822 (built on first access)
    "GeneralizedDiceScore",  # noqa: F822 (built on first access)
    "HausdorffDistance",  # noqa: F822 (built on first access)
    "MeanIoU",  # noqa: F822 (built on first access)
    "dice_score",
    "generalized_dice_score",
    "hausdorff_distance",
    "mean_iou",
    "patch",
    "patched",
    "unpatch",
]

INPUT_FORMATS: tuple[str, ...] = ("one-hot", "index", "mixed")
AVERAGES: tuple[str, ...] = ("micro", "macro", "weighted", "none")
WEIGHT_TYPES: tuple[str, ...] = ("square", "simple", "linear")


# -- counting ------------------------------------------------------------------------------------
def _labels_from(x: torch.Tensor, is_index: bool) -> torch.Tensor | None:
    """The label map of an input (index as is, float one-hot arg-maxed), or None if neither."""
    if is_index:
        return x
    if torch.is_floating_point(x):
        return x.argmax(dim=1)
    return None


def _rust_counts(lp: torch.Tensor, lt: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    inter, psum, tsum = (np.zeros((lp.shape[0], n), np.int64) for _ in range(3))
    for b in range(lp.shape[0]):
        p = np.ascontiguousarray(lp[b].numpy()).reshape(-1)
        t = np.ascontiguousarray(lt[b].numpy()).reshape(-1)
        if p.dtype != t.dtype or p.dtype not in (np.uint8, np.uint16, np.int32, np.int64):
            p, t = p.astype(np.int64), t.astype(np.int64)
        # (tp, pred volume, target volume, counted, ignored) per class.
        inter[b], psum[b], tsum[b], _, _ = _native.confusion_counts(p, t, n)
    return tuple(torch.from_numpy(a) for a in (inter, psum, tsum))


def _one_hot(lab: torch.Tensor, n: int) -> torch.Tensor:
    if lab.min() < 0 or lab.max() >= n:
        raise InvalidArgumentError(f"class values must lie in [0, num_classes={n})")
    return torch.nn.functional.one_hot(lab.long(), num_classes=n).movedim(-1, 1)


def overlap_counts(
    preds: Any,
    target: Any,
    num_classes: int | None,
    include_background: bool,
    input_format: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(intersection, pred volume, target volume) per sample and kept class, torchmetrics' forms.

    Examples
    --------
    >>> import torch
    >>> i, p, t = overlap_counts(torch.tensor([[0, 1]]), torch.tensor([[1, 1]]), 2, True, "index")
    >>> i.tolist(), p.tolist(), t.tolist()
    ([[0, 1]], [[1, 1]], [[0, 2]])
    """
    check_choice(input_format, "input_format", INPUT_FORMATS)
    preds, target = torch.as_tensor(preds), torch.as_tensor(target)
    if input_format == "mixed":
        if abs(preds.ndim - target.ndim) != 1:
            raise ShapeMismatchError(
                f"input_format='mixed' needs one tensor with a class axis more than the other, "
                f"got {tuple(preds.shape)} and {tuple(target.shape)}"
            )
        p_index, t_index = preds.ndim < target.ndim, target.ndim < preds.ndim
    else:
        if preds.shape != target.shape:
            raise ShapeMismatchError(
                f"preds and target must have the same shape, got {tuple(preds.shape)} and "
                f"{tuple(target.shape)}"
            )
        p_index = t_index = input_format == "index"
    if num_classes is None:
        if p_index and t_index:
            raise InvalidArgumentError("num_classes must be given when input_format='index'")
        num_classes = int((target if p_index else preds).shape[1])
    n = int(num_classes)
    lp, lt = _labels_from(preds, p_index), _labels_from(target, t_index)
    if lp is not None and lt is not None and lp.ndim + 1 < 3:
        raise InvalidArgumentError(
            f"Expected both preds and target to have at least 3 dimensions, got {lp.ndim + 1}"
        )
    if (
        lp is not None
        and lt is not None
        and lp.device.type == "cpu"
        and lt.device.type == "cpu"
        and not torch.is_floating_point(lp)
        and not torch.is_floating_point(lt)
    ):
        inter, psum, tsum = _rust_counts(lp, lt, n)
    else:
        oh_p = _one_hot(lp, n) if lp is not None else preds
        oh_t = _one_hot(lt, n) if lt is not None else target
        if oh_p.ndim < 3:
            raise InvalidArgumentError(
                f"Expected both preds and target to have at least 3 dimensions, got {oh_p.ndim}"
            )
        axes = list(range(2, oh_p.ndim))
        inter = torch.sum(oh_p * oh_t, dim=axes)
        psum = torch.sum(oh_p, dim=axes)
        tsum = torch.sum(oh_t, dim=axes)
    if not include_background and inter.shape[1] > 1:
        inter, psum, tsum = inter[:, 1:], psum[:, 1:], tsum[:, 1:]
    return inter, psum, tsum


def _safe_divide(num: torch.Tensor, den: torch.Tensor, zero: float | None = 0.0) -> torch.Tensor:
    """Num / den as float; where den == 0 the value ``zero`` (None: IEEE, i.e. NaN for 0/0)."""
    num = num if num.is_floating_point() else num.float()
    den = den if den.is_floating_point() else den.float()
    if zero is None:
        return num / den
    return torch.where(
        den != 0, num / den, torch.full((), zero, dtype=num.dtype, device=num.device)
    )


# -- Dice ------------------------------------------------------------------------------------------
def _check_common(num_classes: Any, include_background: Any, input_format: str) -> None:
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes <= 0):
        raise InvalidArgumentError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(include_background, bool):
        raise InvalidArgumentError(
            f"include_background must be a boolean, got {include_background!r}"
        )
    check_choice(input_format, "input_format", INPUT_FORMATS)


def _dice_reduce(
    num: torch.Tensor,
    den: torch.Tensor,
    support: torch.Tensor | None,
    average: str | None,
    aggregation_level: str | None,
) -> torch.Tensor:
    if aggregation_level == "global":
        num, den = num.sum(0).unsqueeze(0), den.sum(0).unsqueeze(0)
        support = support.sum(0) if support is not None else None
    if average == "micro":
        return _safe_divide(num.sum(-1), den.sum(-1), None)
    dice = _safe_divide(num, den, None)
    if average == "macro":
        return torch.nanmean(dice, dim=-1)
    if average == "weighted":
        assert support is not None
        weights = _safe_divide(support, support.sum(-1, keepdim=True), None)
        all_nan = dice.isnan().all(dim=-1)
        out = torch.nansum(dice * weights, dim=-1)
        out[all_nan] = float("nan")
        return out
    return dice


def dice_score(
    preds: Any,
    target: Any,
    num_classes: int,
    include_background: bool = True,
    average: str | None = "macro",
    input_format: str = "one-hot",
    aggregation_level: str | None = "samplewise",
) -> torch.Tensor:
    """Torchmetrics' ``dice_score`` (NaN where a class is absent from both inputs).

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[0, 1, 1, 2]]); t = torch.tensor([[0, 1, 2, 2]])
    >>> dice_score(p, t, num_classes=3, input_format="index")
    tensor([0.7778])
    """
    _check_common(num_classes, include_background, input_format)
    if num_classes is None:
        raise InvalidArgumentError("num_classes is required")
    if average is not None:
        check_choice(average, "average", AVERAGES)
    check_choice(aggregation_level or "", "aggregation_level", ("samplewise", "global"))
    inter, psum, tsum = overlap_counts(preds, target, num_classes, include_background, input_format)
    return _dice_reduce(2 * inter, psum + tsum, tsum, average, aggregation_level)


def generalized_dice_score(
    preds: Any,
    target: Any,
    num_classes: int,
    include_background: bool = True,
    per_class: bool = False,
    weight_type: str = "square",
    input_format: str = "one-hot",
) -> torch.Tensor:
    """Torchmetrics' ``generalized_dice_score`` (class weights 1/volume^2, 1/volume or 1).

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[0, 1, 1, 2]]); t = torch.tensor([[0, 1, 2, 2]])
    >>> generalized_dice_score(p, t, num_classes=3, input_format="index")
    tensor([0.7826])
    """
    _check_common(num_classes, include_background, input_format)
    check_choice(weight_type, "weight_type", WEIGHT_TYPES)
    num, den = _gdice_parts(
        preds, target, num_classes, include_background, weight_type, input_format
    )
    return _gdice_reduce(num, den, per_class)


def _gdice_parts(
    preds: Any, target: Any, n: int, inc: bool, weight_type: str, fmt: str
) -> tuple[torch.Tensor, torch.Tensor]:
    inter, psum, tsum = overlap_counts(preds, target, n, inc, fmt)
    if weight_type == "simple":
        w = 1.0 / tsum
    elif weight_type == "linear":
        w = torch.ones_like(tsum)
    else:
        w = 1.0 / (tsum**2)
    # A class absent from a sample's target has an infinite weight; torchmetrics replaces it by
    # the largest finite weight of a class, reading the class maxima in class-major order
    # (repeat(B, 1).T.flatten()); reproduced as is for parity.
    shape = w.shape
    flat = w.flatten().clone()
    infs = torch.isinf(flat)
    flat[infs] = 0
    w_max = torch.max(flat.reshape(shape), 0).values.repeat(shape[0], 1).T.flatten()
    flat[infs] = w_max[infs]
    w = flat.reshape(shape)
    return 2.0 * inter * w, (tsum + psum) * w


def _gdice_reduce(num: torch.Tensor, den: torch.Tensor, per_class: bool) -> torch.Tensor:
    if not per_class:
        num, den = num.sum(1), den.sum(1)
    return _safe_divide(num, den, 0.0)


def mean_iou(
    preds: Any,
    target: Any,
    num_classes: int | None = None,
    include_background: bool = True,
    per_class: bool = False,
    input_format: str = "one-hot",
) -> torch.Tensor:
    """Torchmetrics' ``mean_iou`` (per class: -1 where a class is absent from both inputs).

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[0, 1, 1, 2]]); t = torch.tensor([[0, 1, 2, 2]])
    >>> mean_iou(p, t, num_classes=3, input_format="index")
    tensor([0.6667])
    """
    _check_common(num_classes, include_background, input_format)
    inter, union = _iou_parts(preds, target, num_classes, include_background, input_format)
    scores = _safe_divide(inter, union, None)
    if per_class:
        return scores.nan_to_num(-1.0)
    return scores.nansum(dim=-1) / (union > 0).sum(dim=-1)


def _iou_parts(
    preds: Any, target: Any, n: int | None, inc: bool, fmt: str
) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = torch.as_tensor(preds), torch.as_tensor(target)
    if fmt != "one-hot":  # torchmetrics lifts 1-D / 2-D index inputs to [1, 1, N] / [1, H, W]
        p = p[None, None] if p.ndim == 1 else p[None] if p.ndim == 2 else p
        t = t[None, None] if t.ndim == 1 else t[None] if t.ndim == 2 else t
    inter, psum, tsum = overlap_counts(p, t, n, inc, fmt)
    return inter, psum + tsum - inter


# -- torchmetrics.Metric classes (built on first access) -----------------------------------------
def _build_classes() -> dict[str, type]:
    from torchmetrics import Metric

    class DiceScore(Metric):
        """torchmetrics' ``DiceScore`` on medtrust's counts (states: cat)."""

        is_differentiable = False
        higher_is_better = True
        full_state_update = False
        numerator: list[torch.Tensor]
        denominator: list[torch.Tensor]
        support: list[torch.Tensor]

        def __init__(
            self,
            num_classes: int,
            include_background: bool = True,
            average: str | None = "macro",
            aggregation_level: str | None = "samplewise",
            input_format: str = "one-hot",
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            _check_common(num_classes, include_background, input_format)
            if average is not None:
                check_choice(average, "average", AVERAGES)
            check_choice(aggregation_level or "", "aggregation_level", ("samplewise", "global"))
            self.num_classes = num_classes
            self.include_background = include_background
            self.average = average
            self.aggregation_level = aggregation_level
            self.input_format = input_format
            self.add_state("numerator", [], dist_reduce_fx="cat")
            self.add_state("denominator", [], dist_reduce_fx="cat")
            self.add_state("support", [], dist_reduce_fx="cat")

        def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
            inter, psum, tsum = overlap_counts(
                preds, target, self.num_classes, self.include_background, self.input_format
            )
            self.numerator.append((2 * inter).to(self.device))
            self.denominator.append((psum + tsum).to(self.device))
            self.support.append(tsum.to(self.device))

        def compute(self) -> torch.Tensor:
            def cat(x: Any) -> torch.Tensor:
                return x if isinstance(x, torch.Tensor) else torch.cat(x, dim=0)

            sup = cat(self.support) if self.average == "weighted" else None
            return _dice_reduce(
                cat(self.numerator),
                cat(self.denominator),
                sup,
                self.average,
                self.aggregation_level,
            ).nanmean(dim=0)

    class GeneralizedDiceScore(Metric):
        """torchmetrics' ``GeneralizedDiceScore`` on medtrust's counts (states: sum)."""

        is_differentiable = False
        higher_is_better = True
        full_state_update = False
        score: torch.Tensor
        samples: torch.Tensor

        def __init__(
            self,
            num_classes: int,
            include_background: bool = True,
            per_class: bool = False,
            weight_type: str = "square",
            input_format: str = "one-hot",
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            _check_common(num_classes, include_background, input_format)
            check_choice(weight_type, "weight_type", WEIGHT_TYPES)
            self.num_classes = num_classes
            self.include_background = include_background
            self.per_class = per_class
            self.weight_type = weight_type
            self.input_format = input_format
            k = num_classes - (0 if include_background else 1)
            self.add_state(
                "score", default=torch.zeros(k if per_class else 1), dist_reduce_fx="sum"
            )
            self.add_state("samples", default=torch.zeros(1), dist_reduce_fx="sum")

        def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
            num, den = _gdice_parts(
                preds,
                target,
                self.num_classes,
                self.include_background,
                self.weight_type,
                self.input_format,
            )
            self.score += _gdice_reduce(num, den, self.per_class).sum(dim=0).to(self.device)
            self.samples += torch.as_tensor(preds).shape[0]

        def compute(self) -> torch.Tensor:
            return self.score / self.samples

    class MeanIoU(Metric):
        """torchmetrics' ``MeanIoU`` on medtrust's counts (states: sum)."""

        is_differentiable = False
        higher_is_better = True
        full_state_update = False
        score: torch.Tensor
        num_batches: torch.Tensor

        def __init__(
            self,
            num_classes: int | None = None,
            include_background: bool = True,
            per_class: bool = False,
            input_format: str = "one-hot",
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            _check_common(num_classes, include_background, input_format)
            self.num_classes = num_classes
            self.include_background = include_background
            self.per_class = per_class
            self.input_format = input_format
            self._is_initialized = num_classes is not None
            k = 1 if num_classes is None else num_classes - (0 if include_background else 1)
            self.add_state(
                "score", default=torch.zeros(k if per_class else 1), dist_reduce_fx="sum"
            )
            self.add_state("num_batches", default=torch.zeros(k), dist_reduce_fx="sum")

        def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
            if not self._is_initialized:
                if self.input_format == "index":
                    raise InvalidArgumentError(
                        "num_classes must be given when input_format='index'"
                    )
                p, t = torch.as_tensor(preds), torch.as_tensor(target)
                src = p if (self.input_format == "one-hot" or p.ndim > t.ndim) else t
                self.num_classes = int(src.shape[1])
                k = self.num_classes - (0 if self.include_background else 1)
                self.add_state(
                    "score",
                    default=torch.zeros(k, device=self.device, dtype=self.dtype),
                    dist_reduce_fx="sum",
                )
                self.add_state(
                    "num_batches",
                    default=torch.zeros(k, device=self.device, dtype=torch.int32),
                    dist_reduce_fx="sum",
                )
                self._is_initialized = True
            inter, union = _iou_parts(
                preds, target, self.num_classes, self.include_background, self.input_format
            )
            score = _safe_divide(inter, union, 0.0).to(self.device)
            valid = (union > 0).to(self.device)
            if self.per_class:
                self.score += (score * valid).sum(dim=0)
                self.num_batches += valid.sum(dim=0)
            else:
                self.score += (score * valid).sum()
                self.num_batches += valid.sum()

        def compute(self) -> torch.Tensor:
            out = self.score / self.num_batches
            return out.nan_to_num(-1.0) if self.per_class else out.nanmean()

    hd = build_hausdorff_class(Metric)
    return {c.__name__: c for c in (DiceScore, GeneralizedDiceScore, MeanIoU, hd)}


_CLASSES: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in ("DiceScore", "GeneralizedDiceScore", "HausdorffDistance", "MeanIoU"):
        if not _CLASSES:
            _CLASSES.update(_build_classes())
        return _CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- patching --------------------------------------------------------------------------------------
_FUNCTIONS = {
    "dice_score": "torchmetrics.functional.segmentation.dice",
    "generalized_dice_score": "torchmetrics.functional.segmentation.generalized_dice",
    "mean_iou": "torchmetrics.functional.segmentation.mean_iou",
    "hausdorff_distance": "torchmetrics.functional.segmentation.hausdorff_distance",
}
_CLASS_HOMES = {
    "DiceScore": "torchmetrics.segmentation.dice",
    "GeneralizedDiceScore": "torchmetrics.segmentation.generalized_dice",
    "MeanIoU": "torchmetrics.segmentation.mean_iou",
    "HausdorffDistance": "torchmetrics.segmentation.hausdorff_distance",
}


def patch(names: Sequence[str] | None = None) -> list[str]:
    """Make torchmetrics' segmentation names answer with the shims; returns what was replaced.

    Examples
    --------
    >>> import torchmetrics.segmentation as tms
    >>> "torchmetrics.segmentation.DiceScore" in patch()
    True
    >>> tms.DiceScore.__module__
    'medtrust.compat.torchmetrics'
    >>> _ = unpatch()
    """
    from medtrust.compat import _patching

    every = [*_FUNCTIONS, *_CLASS_HOMES]
    chosen = list(every if names is None else names)
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        raise InvalidArgumentError(
            f"torchmetrics names without a shim: {unknown}; choose from {every}"
        )
    shims = {n: (globals()[n] if n in _FUNCTIONS else __getattr__(n)) for n in chosen}
    targets = {
        n: (
            ["torchmetrics.functional.segmentation", _FUNCTIONS[n]]
            if n in _FUNCTIONS
            else ["torchmetrics.segmentation", _CLASS_HOMES[n]]
        )
        for n in chosen
    }
    return _patching.apply("torchmetrics", shims, targets)


def unpatch() -> list[str]:
    """Restore every name :func:`patch` replaced; returns them."""
    from medtrust.compat import _patching

    return _patching.restore("torchmetrics")


def patched(names: Sequence[str] | None = None) -> AbstractContextManager[list[str]]:
    """Context manager: :func:`patch` on entry, :func:`unpatch` on exit (yields the report)."""
    from medtrust.compat import _patching

    return _patching.scoped(patch, unpatch, names)
