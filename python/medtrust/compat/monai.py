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

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

from medtrust.compat._cumulative import CumulativeMetric
from medtrust.compat._monai_common import as_tensor, check_ignore_index
from medtrust.compat._monai_overlap import DiceHelper, compute_dice, compute_iou, dice_table
from medtrust.compat._monai_surface import (
    compute_average_surface_distance,
    compute_hausdorff_distance,
    compute_surface_dice,
)
from medtrust.compat._tensors import metric_reduction, reject_option
from medtrust.exceptions import InvalidArgumentError

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
        check_ignore_index(ignore_index)
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
        return dice_table(
            y_pred, as_tensor(y, "y"), self.include_background, self.ignore_empty, self.num_classes
        )

    def aggregate(self, reduction: Any = None) -> Any:
        """Reduce the buffer; with "mean_batch" and ``return_with_label`` a label->value dict."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise InvalidArgumentError("nothing to aggregate: call the metric on data first")
        f, not_nans = metric_reduction(data, reduction or self.reduction)
        out: Any = f
        red = str(getattr(self.reduction, "value", self.reduction)).lower()
        if red == "mean_batch" and self.return_with_label:
            if isinstance(self.return_with_label, bool):
                start = 0 if self.include_background else 1
                out = {f"label_{i + start}": round(v.item(), 4) for i, v in enumerate(f)}
            else:
                out = {k: round(v.item(), 4) for k, v in zip(self.return_with_label, f)}
        return (out, not_nans) if self.get_not_nans else out


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
        check_ignore_index(ignore_index)
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = ignore_empty
        self.ignore_index = ignore_index

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        if y_pred.ndim < 3:
            raise InvalidArgumentError(
                f"y_pred should have at least 3 dimensions, got {y_pred.ndim}"
            )
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
        check_ignore_index(ignore_index)
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
        check_ignore_index(ignore_index)
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
        check_ignore_index(ignore_index)
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


def patched(names: Sequence[str] | None = None) -> AbstractContextManager[list[str]]:
    """Context manager: :func:`patch` on entry, :func:`unpatch` on exit (yields the report).

    Examples
    --------
    >>> import monai.metrics
    >>> with patched() as replaced:
    ...     monai.metrics.HausdorffDistanceMetric is HausdorffDistanceMetric
    True
    """
    from medtrust.compat import _patching

    return _patching.scoped(patch, unpatch, names)
