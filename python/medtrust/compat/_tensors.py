"""Tensor plumbing shared by the shims: device policy, MONAI's spacing forms and reductions.

Everything here works on torch tensors (the peers' currency); the metric arithmetic itself
lives in the jobs (:mod:`medtrust.segmentation`, :mod:`medtrust.selective`) and in Rust.

Examples
--------
>>> import torch
>>> f = torch.tensor([[1.0, float("nan")], [3.0, 4.0]])
>>> metric_reduction(f, "mean")
(tensor([2.2500]), tensor(2.))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from medtrust._arrays import to_numpy
from medtrust.exceptions import DeviceError, InvalidArgumentError, ShapeMismatchError

__all__ = [
    "REDUCTIONS",
    "UnsupportedOptionError",
    "host_array",
    "metric_reduction",
    "prepare_spacing",
    "reject_option",
]

#: MONAI's reduction modes (``MetricReduction`` values).
REDUCTIONS: tuple[str, ...] = (
    "none",
    "mean",
    "sum",
    "mean_batch",
    "sum_batch",
    "mean_channel",
    "sum_channel",
)


class UnsupportedOptionError(InvalidArgumentError):
    """A peer option the shim cannot honour (it never silently computes something else)."""


def reject_option(peer: str, name: str, value: Any, why: str) -> None:
    """Raise :class:`UnsupportedOptionError` naming the peer's option ``name``.

    Examples
    --------
    >>> reject_option("monai", "per_component", True, "not implemented")
    Traceback (most recent call last):
    ...
    medtrust.compat._tensors.UnsupportedOptionError: monai option per_component=True is not ...
    """
    raise UnsupportedOptionError(
        f"{peer} option {name}={value!r} is not supported by medtrust.compat ({why}); "
        "call the peer itself for it"
    )


def host_array(x: Any, name: str, *, allow_host_copy: bool, where: str) -> np.ndarray:
    """``x`` as a numpy array; a CUDA tensor raises :class:`DeviceError` unless copies are allowed.

    Examples
    --------
    >>> host_array(torch.ones(2), "y", allow_host_copy=False, where="hd")
    array([1., 1.], dtype=float32)
    """
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise DeviceError(
                f"{name} is a meta tensor (shape and dtype only, no values): {where} needs "
                "the values, which allow_host_copy cannot copy; allocate it on a real device"
            )
        if x.device.type != "cpu":
            if not allow_host_copy:
                raise DeviceError(
                    f"{name} is on {x.device}; {where} computes on the CPU (medtrust has no device "
                    "path for it) and never copies silently: pass allow_host_copy=True to copy"
                )
            x = x.detach().cpu()
        if x.dtype == torch.bfloat16 or x.dtype == torch.float16:
            x = x.float()
        return x.detach().numpy()
    return to_numpy(x, name)


def prepare_spacing(spacing: Any, batch_size: int, img_dim: int) -> list[tuple[float, ...]]:
    """MONAI's spacing forms, one tuple per batch item (``None``: unit spacing).

    A number (isotropic), a sequence of ``img_dim`` numbers (every item), or a sequence of
    ``batch_size`` such sequences (per item; an inner sequence of length 1 is isotropic).

    Examples
    --------
    >>> prepare_spacing(0.5, 2, 2)
    [(0.5, 0.5), (0.5, 0.5)]
    >>> prepare_spacing([[1, 2], [3, 4]], 2, 2)
    [(1.0, 2.0), (3.0, 4.0)]
    """

    def one(s: Any, what: str) -> tuple[float, ...]:
        a = np.asarray(s, dtype=np.float64).reshape(-1)
        if a.size == 1:
            a = np.repeat(a, img_dim)
        if a.size != img_dim:
            raise ShapeMismatchError(
                f"spacing {what} has {a.size} values but the images have {img_dim} dimensions"
            )
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise InvalidArgumentError(f"spacing values must be finite and > 0, got {s!r}")
        return tuple(float(v) for v in a)

    if spacing is None:
        return [(1.0,) * img_dim] * batch_size
    if isinstance(spacing, torch.Tensor):
        spacing = spacing.detach().cpu().numpy()
    if np.isscalar(spacing) or (isinstance(spacing, np.ndarray) and spacing.ndim == 0):
        return [one(spacing, "")] * batch_size
    if not isinstance(spacing, (Sequence, np.ndarray)) or len(spacing) == 0:
        raise InvalidArgumentError(
            "spacing must be a number, a sequence of numbers or one per batch item, "
            f"got {spacing!r}"
        )
    if all(np.isscalar(s) for s in spacing):
        return [one(spacing, "")] * batch_size
    if len(spacing) != batch_size:
        raise ShapeMismatchError(
            f"spacing gives {len(spacing)} per-item values but the batch has {batch_size} items"
        )
    return [one(s, f"of item {i}") for i, s in enumerate(spacing)]


def metric_reduction(f: torch.Tensor, reduction: Any = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """MONAI's reduction over a ``[B, C, ...]`` score tensor, skipping NaN (``(value, not_nans)``).

    "mean" averages each item over its non-NaN channels, then the items that have one.

    Examples
    --------
    >>> metric_reduction(torch.tensor([[1.0, 3.0]]), "sum_batch")
    (tensor([1., 3.]), tensor([1., 1.]))
    """
    red = str(getattr(reduction, "value", reduction)).lower()
    if red not in REDUCTIONS:
        raise InvalidArgumentError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    nans = torch.isnan(f)
    not_nans = ~nans
    if red == "none":
        return f, not_nans.float()
    f = f.clone()
    f[nans] = 0
    zero = torch.zeros(1, device=f.device, dtype=torch.float)
    if red == "mean":
        nn = not_nans.sum(dim=1).float()
        f = torch.where(nn > 0, f.sum(dim=1).float() / nn, zero)
        nn = (nn > 0).sum(dim=0).float()
        return torch.where(nn > 0, f.sum(dim=0).float() / nn, zero), nn
    if red == "sum":
        return torch.sum(f, dim=[0, 1]), not_nans.sum(dim=[0, 1]).float()
    dim = 0 if red.endswith("batch") else 1
    nn = not_nans.sum(dim=dim).float()
    if red.startswith("mean"):
        return torch.where(nn > 0, f.sum(dim=dim).float() / nn, zero), nn
    return f.sum(dim=dim).float(), nn
