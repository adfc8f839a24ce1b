"""torchmetrics' ``hausdorff_distance`` / ``HausdorffDistance`` on medtrust's distance kernel.

Re-exported by :mod:`medtrust.compat.torchmetrics`. Conventions reproduced from torchmetrics
1.9: surfaces are border voxels (a foreground voxel with a face neighbour in the background or
outside the image), a distance is from one surface to the nearest element of the other, the
``"chessboard"`` / ``"taxicab"`` norms are scaled by ``spacing`` (``max(s_i |d_i|)`` and
``sum(s_i |d_i|)``; MONAI instead ignores the spacing for them), a pair where exactly one mask
is empty gives ``inf``, the result is float32 ``[N, C]`` and the metric class averages every
``(sample, class)`` value it has seen (states ``score`` / ``total``, ``dist_reduce_fx="sum"``).

Deliberate differences (each where torchmetrics 1.9 fails or errs, so no working code changes):

- Both masks empty: torchmetrics raises ``RuntimeError`` (max of an empty tensor); the shim
  gives NaN, as MONAI does for an undefined distance.
- 3-D images: torchmetrics' distance transform is 2-D only (``ValueError``); the shim computes
  3-D with the same definitions.
- Non-square 2-D images: torchmetrics' PyTorch engine writes each distance at row * height +
  column, so on an ``H != W`` image it reads distances of the wrong pixels (or fails with
  ``IndexError`` when ``H > W``); the shim gives the true distances (tested against scipy).
- ``spacing`` as a tensor: torchmetrics accepts it in the signature but its transform refuses
  it (``ValueError``); the shim takes a list, tuple or 1-D tensor.

Examples
--------
>>> import torch
>>> p = torch.zeros(1, 2, 6, 6, dtype=torch.long); p[0, 1, 1:3, 1:3] = 1; p[0, 0] = 1 - p[0, 1]
>>> t = torch.zeros(1, 2, 6, 6, dtype=torch.long); t[0, 1, 2:5, 2:4] = 1; t[0, 0] = 1 - t[0, 1]
>>> hausdorff_distance(p, t, num_classes=2)
tensor([[2.2361]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medtrust._arrays import check_choice
from medtrust.compat._surface_batch import DISTANCE_METRICS, PairDistances, batch_distances
from medtrust.compat._tensors import host_array
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = ["build_hausdorff_class", "hausdorff_distance"]

INPUT_FORMATS: tuple[str, ...] = ("one-hot", "index", "mixed")


def _validate(
    num_classes: Any,
    include_background: Any,
    distance_metric: str,
    spacing: Any,
    directed: Any,
    input_format: str,
) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise InvalidArgumentError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(include_background, bool):
        raise InvalidArgumentError(
            f"include_background must be a boolean, got {include_background!r}"
        )
    check_choice(distance_metric, "distance_metric", DISTANCE_METRICS)
    if spacing is not None and not isinstance(spacing, (list, tuple, torch.Tensor)):
        raise InvalidArgumentError(
            f"spacing must be a list, tuple or tensor, got {type(spacing).__name__}"
        )
    if not isinstance(directed, bool):
        raise InvalidArgumentError(f"directed must be a boolean, got {directed!r}")
    check_choice(input_format, "input_format", INPUT_FORMATS)


def _one_hot(x: torch.Tensor, n: int, name: str) -> torch.Tensor:
    """Boolean ``[N, n, ...]`` masks of an index map (without an int64 one-hot copy)."""
    if torch.is_floating_point(x):
        raise InvalidArgumentError(f"{name} must hold integer class indices, got {x.dtype}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= n):
        raise InvalidArgumentError(f"{name} class values must lie in [0, num_classes={n})")
    classes = torch.arange(n, device=x.device).view(1, n, *([1] * (x.ndim - 1)))
    return x.unsqueeze(1) == classes


def _from_one_hot(x: torch.Tensor, n: int, name: str) -> torch.Tensor:
    """Scores are arg-maxed (as torchmetrics); integer / bool one-hot must be binary."""
    if torch.is_floating_point(x):
        return _one_hot(x.argmax(dim=1), n, name)
    if x.dtype != torch.bool and bool(((x != 0) & (x != 1)).any()):
        raise InvalidArgumentError(f"{name} must be binarized (values 0 / 1) one-hot masks")
    return x != 0


def _masks(preds: Any, target: Any, n: int, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = torch.as_tensor(preds), torch.as_tensor(target)
    if fmt == "mixed":
        if p.ndim == t.ndim + 1:
            same = p.shape[0] == t.shape[0] and p.shape[2:] == t.shape[1:]
            p, t = _from_one_hot(p, n, "preds"), _one_hot(t, n, "target")
        elif t.ndim == p.ndim + 1:
            same = t.shape[0] == p.shape[0] and t.shape[2:] == p.shape[1:]
            p, t = _one_hot(p, n, "preds"), _from_one_hot(t, n, "target")
        else:
            same = False
        if not same:
            raise ShapeMismatchError(
                "input_format='mixed' needs one [N, C, ...] and one [N, ...] tensor of matching "
                f"sizes, got {tuple(torch.as_tensor(preds).shape)} and "
                f"{tuple(torch.as_tensor(target).shape)}"
            )
        return p, t
    if p.shape != t.shape:
        raise ShapeMismatchError(
            f"preds and target must have the same shape, got {tuple(p.shape)} and {tuple(t.shape)}"
        )
    if fmt == "index":
        return _one_hot(p, n, "preds"), _one_hot(t, n, "target")
    return _from_one_hot(p, n, "preds"), _from_one_hot(t, n, "target")


def _spacing(spacing: Any, dims: int, items: int) -> list[tuple[float, ...]]:
    if spacing is None:
        return [(1.0,) * dims] * items
    a = np.asarray(
        spacing.detach().cpu() if isinstance(spacing, torch.Tensor) else spacing, np.float64
    ).reshape(-1)
    if a.size != dims:
        raise ShapeMismatchError(
            f"spacing has {a.size} values but the images have {dims} spatial dimensions"
        )
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise InvalidArgumentError(f"spacing values must be finite and > 0, got {spacing!r}")
    return [tuple(float(v) for v in a)] * items


def _value(pd: PairDistances, directed: bool) -> float:
    if pd.status == "both_empty":
        return float("nan")
    if pd.status != "ok":
        return float("inf")
    d = pd.pred_to_target[-1] if directed else max(pd.pred_to_target[-1], pd.target_to_pred[-1])
    return float(np.float32(d))


def hausdorff_distance(
    preds: Any,
    target: Any,
    num_classes: int,
    include_background: bool = False,
    distance_metric: str = "euclidean",
    spacing: Any = None,
    directed: bool = False,
    input_format: str = "one-hot",
    *,
    allow_host_copy: bool = False,
) -> torch.Tensor:
    """Torchmetrics' ``hausdorff_distance``: the Hausdorff distance per sample and class.

    All ``N x C`` (sample, class) pairs are one parallel Rust call (Euclidean) or k-d tree
    queries (chessboard / taxicab); see the module docs for the conventions and the documented
    differences from torchmetrics 1.9.

    Parameters
    ----------
    preds, target
        Binary one-hot ``[N, C, H, W[, D]]`` tensors (float scores are arg-maxed over ``C``),
        integer index maps ``[N, H, W[, D]]`` (``input_format="index"``), or one of each
        (``"mixed"``).
    num_classes
        Number of classes (used to one-hot index maps).
    include_background
        Keep class 0 (default False, as torchmetrics).
    distance_metric
        "euclidean" (default), "chessboard" or "taxicab" (the latter two scaled by ``spacing``).
    spacing
        Voxel size per spatial axis (list, tuple or 1-D tensor); None: 1 for every axis.
    directed
        Only the distances from ``preds`` to ``target``.
    input_format
        "one-hot" (default), "index" or "mixed".
    allow_host_copy
        Copy CUDA inputs to the host (the result goes back to their device) instead of raising
        :class:`~medtrust.exceptions.DeviceError`.

    Returns
    -------
    torch.Tensor
        ``[N, C]`` float32 (``C`` less one without the background) on the device of ``preds``:
        ``inf`` where exactly one mask of a pair is empty, NaN where both are.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]])
    >>> t = torch.tensor([[[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]])
    >>> hausdorff_distance(p, t, num_classes=2, input_format="index")
    tensor([[1.]])
    """
    _validate(num_classes, include_background, distance_metric, spacing, directed, input_format)
    device = torch.as_tensor(preds).device
    host = {
        name: torch.from_numpy(
            np.asarray(host_array(x, name, allow_host_copy=allow_host_copy, where="hausdorff"))
        )
        for name, x in (("preds", preds), ("target", target))
    }
    p, t = _masks(host["preds"], host["target"], num_classes, input_format)
    if p.ndim not in (4, 5):
        raise InvalidArgumentError(
            f"hausdorff_distance needs 2-D or 3-D images ([N, C, H, W[, D]] after one-hot), "
            f"got shape {tuple(p.shape)}"
        )
    if not include_background and p.shape[1] > 1:
        p, t = p[:, 1:], t[:, 1:]
    sp = _spacing(spacing, p.ndim - 2, p.shape[0])
    rows = batch_distances(
        p.numpy(), t.numpy(), sp, distance_metric, subvoxels=False, chamfer_spacing=True
    )
    values = [[_value(pd, directed) for pd in row] for row in rows]
    out = torch.tensor(values, dtype=torch.float32).reshape(p.shape[0], p.shape[1])
    return out.to(device)


def build_hausdorff_class(metric_base: type) -> type:
    """The ``HausdorffDistance`` class on ``torchmetrics.Metric`` (built on first access).

    Parameters
    ----------
    metric_base
        ``torchmetrics.Metric``.

    Returns
    -------
    type
        A ``Metric`` subclass with torchmetrics' constructor arguments; states ``score`` (sum of
        the per-(sample, class) distances) and ``total`` (their count), both
        ``dist_reduce_fx="sum"``; ``compute()`` is their ratio.

    Examples
    --------
    >>> import torch
    >>> from torchmetrics import Metric
    >>> HD = build_hausdorff_class(Metric)
    >>> m = HD(num_classes=2, input_format="index")
    >>> m.update(torch.tensor([[[0, 1], [0, 0]]]), torch.tensor([[[0, 0], [0, 1]]]))
    >>> m.compute()
    tensor(1.)
    """

    class HausdorffDistance(metric_base):  # type: ignore[misc, valid-type]
        """torchmetrics' ``HausdorffDistance`` on medtrust's distance kernel (states: sum).

        Parameters as :func:`hausdorff_distance`; ``kwargs`` go to ``torchmetrics.Metric``.
        """

        is_differentiable = True
        higher_is_better = False
        full_state_update = False
        plot_lower_bound = 0.0
        score: torch.Tensor
        total: torch.Tensor

        def __init__(
            self,
            num_classes: int,
            include_background: bool = False,
            distance_metric: str = "euclidean",
            spacing: Any = None,
            directed: bool = False,
            input_format: str = "one-hot",
            *,
            allow_host_copy: bool = False,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            _validate(
                num_classes, include_background, distance_metric, spacing, directed, input_format
            )
            self.num_classes = num_classes
            self.include_background = include_background
            self.distance_metric = distance_metric
            self.spacing = spacing
            self.directed = directed
            self.input_format = input_format
            self.allow_host_copy = allow_host_copy
            self.add_state("score", default=torch.tensor(0.0), dist_reduce_fx="sum")
            self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

        def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
            score = hausdorff_distance(
                preds,
                target,
                self.num_classes,
                include_background=self.include_background,
                distance_metric=self.distance_metric,
                spacing=self.spacing,
                directed=self.directed,
                input_format=self.input_format,
                allow_host_copy=self.allow_host_copy,
            ).to(self.device)
            self.score += score.sum()
            self.total += score.numel()

        def compute(self) -> torch.Tensor:
            return self.score / self.total

    return HausdorffDistance
