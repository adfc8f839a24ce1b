"""The one input-coercion layer.

Accepts numpy arrays, torch tensors (CPU; CUDA tensors are refused here because functions that
compute on the device handle them before calling this), polars Series and Python sequences.
Arrays that are already contiguous and of the right dtype are passed through without a copy.

Examples
--------
>>> from medtrust._arrays import as_float_1d
>>> as_float_1d([1, 2, 3], "x")
array([1., 2., 3.])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from medtrust.exceptions import (
    DeviceError,
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    MedtrustWarning,
    NaNInputError,
    ShapeMismatchError,
)

NanPolicy = Literal["raise", "omit", "propagate"]
NAN_POLICIES: tuple[str, ...] = ("raise", "omit", "propagate")


def is_torch_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def is_cuda_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor that lives on a non-CPU device."""
    return is_torch_tensor(x) and x.device.type != "cpu"


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array, sharing memory where possible.

    Parameters
    ----------
    x
        numpy array, CPU torch tensor, polars Series or (nested) sequence.
    name
        Argument name used in error messages.
    """
    if isinstance(x, np.ndarray):
        return x
    if is_torch_tensor(x):
        if x.device.type != "cpu":
            raise DeviceError(
                f"{name} is a torch tensor on {x.device}; this function computes on the CPU. "
                "Move it explicitly with .cpu() (medtrust never copies device tensors silently)."
            )
        t = x.detach()
        if str(t.dtype) in ("torch.bfloat16",):
            t = t.float()  # numpy has no bfloat16
        return t.numpy()
    if type(x).__module__.startswith("polars"):
        return x.to_numpy()
    if isinstance(x, (str, bytes)):
        raise DTypeError(f"{name} must be array-like, got {type(x).__name__}")
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{name} must be array-like: {e}") from e


def as_float_1d(x: Any, name: str) -> np.ndarray:
    """A contiguous float64 1-D array (no copy when ``x`` already is one)."""
    a = to_numpy(x, name)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise DTypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.complexfloating):
        raise DTypeError(f"{name} must be real-valued, got dtype {a.dtype}")
    if a.ndim != 1:
        if a.ndim == 2 and 1 in a.shape:
            a = a.reshape(-1)
        else:
            raise ShapeMismatchError(f"{name} must be 1-D, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64)


def check_same_length(**arrays: np.ndarray) -> int:
    """Length shared by all arrays, or a :class:`ShapeMismatchError` naming them."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ShapeMismatchError(f"inputs must have the same length: {desc}")
    return next(iter(lengths.values()))


def check_nonempty(a: np.ndarray, name: str) -> None:
    """Raise :class:`EmptyInputError` when ``a`` has no elements."""
    if a.size == 0:
        raise EmptyInputError(f"{name} is empty")


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """Validate a string option against its allowed values."""
    if value not in choices:
        raise InvalidArgumentError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def apply_nan_policy(policy: str, **arrays: np.ndarray) -> tuple[dict[str, np.ndarray], int, bool]:
    """Apply a ``nan_policy`` to aligned 1-D arrays.

    Returns the (possibly filtered) arrays, the number of dropped samples, and whether the
    caller must return NaN ("propagate" with NaN present). ``inf`` counts as invalid too.
    """
    check_choice(policy, "nan_policy", NAN_POLICIES)
    bad = np.zeros(len(next(iter(arrays.values()))), dtype=bool)
    for a in arrays.values():
        bad |= ~np.isfinite(a)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return arrays, 0, False
    if policy == "raise":
        names = [k for k, a in arrays.items() if not np.isfinite(a).all()]
        raise NaNInputError(
            f"{n_bad} sample(s) have NaN or inf in {', '.join(names)}; "
            "pass nan_policy='omit' to drop them or 'propagate' to return NaN"
        )
    if policy == "propagate":
        return arrays, 0, True
    keep = ~bad
    warnings.warn(
        f"nan_policy='omit': dropped {n_bad} sample(s) with NaN or inf",
        MedtrustWarning,
        stacklevel=3,
    )
    return {k: np.ascontiguousarray(a[keep]) for k, a in arrays.items()}, n_bad, False


def check_unit_interval(a: np.ndarray, name: str) -> None:
    """Raise unless every value of ``a`` lies in [0, 1]."""
    if a.size and (a.min() < 0.0 or a.max() > 1.0):
        raise InvalidValueError(
            f"{name} must lie in [0, 1] (got min {a.min():.4g}, max {a.max():.4g}); "
            "pass check_range=False for unbounded risks such as HD95"
        )


def as_prob_array(x: Any, name: str, *, min_ndim: int = 2) -> np.ndarray:
    """A C-contiguous float32 or float16 array of probabilities ``[C, *spatial]``.

    float16 and float32 pass through without a copy when contiguous; float64 is converted to
    float32 (a copy of this one array). Integer, boolean and complex inputs are refused, and so
    are arrays with fewer than ``min_ndim`` axes or no elements.
    """
    a = to_numpy(x, name)
    if a.dtype not in (np.float16, np.float32, np.float64):
        raise DTypeError(f"{name} must hold float16 or float32 probabilities, got dtype {a.dtype}")
    if a.ndim < min_ndim:
        raise ShapeMismatchError(
            f"{name} must have shape [C, *spatial] (at least {min_ndim} axes), got {a.shape}"
        )
    check_nonempty(a, name)
    if a.dtype == np.float64:
        return np.ascontiguousarray(a, dtype=np.float32)
    return np.ascontiguousarray(a)
