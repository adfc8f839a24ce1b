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


def check_tensor_device(x: Any, name: str) -> None:
    """Refuse tensors on devices that hold no data (``meta``) before torch fails on them."""
    if is_torch_tensor(x) and x.device.type == "meta":
        raise DeviceError(
            f"{name} is a torch tensor on the 'meta' device, which holds shapes but no values; "
            "materialise it (e.g. .to_empty(device=...) and load weights) first"
        )


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
        return native_byte_order(x)
    if is_torch_tensor(x):
        check_tensor_device(x, name)
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
        a = np.asarray(x)
    except OverflowError as e:
        raise InvalidValueError(f"{name} holds an integer too large for any array dtype") from e
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{name} must be array-like: {e}") from e
    if a.dtype == object and _has_big_int(a):
        # np.asarray keeps integers >= 2^64 as Python objects; name the cause, not the dtype.
        raise InvalidValueError(f"{name} holds an integer too large for any array dtype")
    return native_byte_order(a)


def _has_big_int(a: np.ndarray) -> bool:
    return any(isinstance(v, int) and not isinstance(v, bool) for v in a.reshape(-1)[:1000])


def native_byte_order(a: np.ndarray) -> np.ndarray:
    """``a`` in the machine's byte order (a converted copy only when it is not).

    Big-endian arrays are common in practice (NIfTI headers written on big-endian machines give
    ``>i2`` label maps and ``>f4`` images); the Rust kernels read native-order memory only, so
    they are converted here, once, for every function.

    Examples
    --------
    >>> native_byte_order(np.arange(3, dtype=">i2")).dtype
    dtype('int16')
    """
    if a.dtype.byteorder in ("=", "|") or a.dtype.isnative:
        return a
    if a.dtype.fields is not None:
        return a  # structured arrays are refused later with a dtype error
    return a.astype(a.dtype.newbyteorder("="))


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


def as_real(
    value: Any,
    name: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real option within ``[lo, hi]`` (ends open when asked), else an error naming it.

    Examples
    --------
    >>> as_real(0.95, "tpr", lo=0.0, hi=1.0)
    0.95
    >>> as_real(1.5, "tpr", lo=0.0, hi=1.0)
    Traceback (most recent call last):
    ...
    medtrust.exceptions.InvalidArgumentError: tpr must lie in [0, 1], got 1.5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, (complex, np.complexfloating)):
        raise InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError as e:
        raise InvalidArgumentError(f"{name} is too large: {value!r}") from e
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    span = (
        f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"
    )
    ok = np.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        if lo is None and hi is None:
            raise InvalidArgumentError(f"{name} must be finite, got {value!r}")
        raise InvalidArgumentError(f"{name} must lie in {span}, got {value!r}")
    return v


def as_int(value: Any, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer option within ``[lo, hi]`` (bools and floats refused), else an error naming it.

    Python integers are unbounded; the bound keeps them from overflowing (``OverflowError``)
    where they meet a fixed-width integer in numpy or Rust.

    Examples
    --------
    >>> as_int(3, "bins", lo=1)
    3
    >>> as_int(2**64, "seed", lo=0, hi=2**64 - 1)
    Traceback (most recent call last):
    ...
    medtrust.exceptions.InvalidArgumentError: seed must be an integer in [0, 18446744073709551615], got 18446744073709551616
    """  # noqa: E501
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else str(lo)
        hi_s = "inf" if hi is None else str(hi)
        raise InvalidArgumentError(f"{name} must be an integer in [{lo_s}, {hi_s}], got {v}")
    return v


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


# --- label maps, spacing and confidence maps (segmentation / failure detection) -------------

#: Label-map dtypes the Rust kernels take as they are (others are converted, see below).
LABEL_DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(t) for t in (np.bool_, np.uint8, np.uint16, np.int32, np.int64)
)


def as_label_map(x: Any, name: str) -> np.ndarray:
    """A C-contiguous integer or boolean label map (no copy when already one).

    uint8 / uint16 / int32 / int64 / bool pass through; int8 / int16 widen to int32 and
    uint32 / uint64 to int64 (values above 2^63 are refused). Float maps are refused: labels
    are class indices, and a float map is usually probabilities or a resampled image.

    Examples
    --------
    >>> as_label_map([[0, 1], [2, 1]], "pred").dtype
    dtype('int64')
    """
    a = to_numpy(x, name)
    if a.dtype in LABEL_DTYPES:
        pass
    elif a.dtype in (np.dtype(np.int8), np.dtype(np.int16)):
        a = a.astype(np.int32)
    elif a.dtype == np.dtype(np.uint32):
        a = a.astype(np.int64)
    elif a.dtype == np.dtype(np.uint64):
        if a.size and a.max() > np.iinfo(np.int64).max:
            raise InvalidValueError(f"{name} holds labels above 2^63 - 1")
        a = a.astype(np.int64)
    elif np.issubdtype(a.dtype, np.floating):
        raise DTypeError(
            f"{name} is a float array (dtype {a.dtype}); label maps must hold integer class "
            "indices or booleans. Take the argmax of probabilities, or round and cast with "
            ".astype(np.int64) if the floats are integral labels"
        )
    else:
        raise DTypeError(f"{name} must be an integer or boolean label map, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ShapeMismatchError(f"{name} must be an array of labels, got a scalar")
    check_nonempty(a, name)
    return np.ascontiguousarray(a)


def common_label_dtype(*maps: np.ndarray) -> list[np.ndarray]:
    """Cast label maps to one shared kernel dtype (the narrowest holding all of them)."""
    dtypes = {m.dtype for m in maps}
    if len(dtypes) == 1:
        return list(maps)
    target = np.result_type(*dtypes)
    if target not in LABEL_DTYPES:
        target = np.dtype(np.int64)
    return [np.ascontiguousarray(m, dtype=target) for m in maps]


def check_same_shape(**arrays: np.ndarray) -> tuple[int, ...]:
    """Shape shared by all arrays, or a :class:`ShapeMismatchError` naming every shape."""
    shapes = {k: tuple(v.shape) for k, v in arrays.items()}
    if len(set(shapes.values())) > 1:
        desc = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ShapeMismatchError(f"shapes differ: {desc}")
    return next(iter(shapes.values()))


#: Accepted voxel spacing in mm (1 nm to 1 km). Far outside it the squared distances of the
#: surface kernels underflow to 0 (spacing 1e-200 gave HD 0 for shifted masks) or overflow to
#: inf (1e200 gave HD95 NaN).
SPACING_RANGE: tuple[float, float] = (1e-6, 1e6)


def as_spacing(spacing: Any, ndim: int, name: str = "spacing") -> tuple[float, ...]:
    """Validated voxel spacing in mm, one value per array axis (array-axis order).

    Examples
    --------
    >>> as_spacing((0.8, 0.8, 2.5), 3)
    (0.8, 0.8, 2.5)
    """
    if spacing is None:
        raise InvalidArgumentError(
            f"{name} is required for arrays (mm per array axis, in array-axis order); "
            "medtrust.io.load_nifti returns it with the array"
        )
    if np.isscalar(spacing):
        raise InvalidArgumentError(
            f"{name} must give one value per array axis ({ndim}), got the scalar {spacing!r}"
        )
    try:
        s = np.asarray(spacing, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{name} must be a sequence of numbers: {e}") from e
    if s.size != ndim:
        raise ShapeMismatchError(
            f"{name} has {s.size} value(s) but the arrays have {ndim} axes; give one spacing "
            "per array axis, in array-axis order"
        )
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise InvalidValueError(f"{name} values must be finite and > 0, got {tuple(s.tolist())}")
    lo, hi = SPACING_RANGE
    if np.any(s < lo) or np.any(s > hi):
        raise InvalidValueError(
            f"{name} values must lie in [{lo:g}, {hi:g}] mm, got {tuple(s.tolist())}; "
            "outside it squared distances underflow or overflow (check the units: mm, not m)"
        )
    return tuple(float(v) for v in s)


#: Largest |value| x voxel count that float64 sums (summed-area tables, means) can hold.
_SUM_LIMIT = 1e307


def check_summable(a: np.ndarray, name: str) -> None:
    """Raise unless sums over ``a`` stay finite in float64 (max |value| x size below 1e307).

    Values near the float64 limit (1e308) overflow a summed-area table or a mean to inf and
    would give silently wrong scores. NaN and inf values are left to the caller's policy.

    Examples
    --------
    >>> check_summable(np.array([1e300, 2.0]), "confidence")
    >>> check_summable(np.full(100, 1e306), "confidence")
    Traceback (most recent call last):
    ...
    medtrust.exceptions.InvalidValueError: confidence holds values up to 1e+306 in magnitude; ...
    """
    if a.size == 0:
        return
    with np.errstate(invalid="ignore"):
        top = max(abs(float(np.nanmax(a))), abs(float(np.nanmin(a)))) if a.size else 0.0
    if np.isfinite(top) and top * a.size > _SUM_LIMIT:
        raise InvalidValueError(
            f"{name} holds values up to {top:.3g} in magnitude; sums over its {a.size} "
            "element(s) would overflow float64. Rescale the map (e.g. to [0, 1]) first"
        )


def as_confidence_map(x: Any, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 map (float16 / bfloat16 widen to float32)."""
    a = to_numpy(x, name)
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    elif a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float64)
    elif a.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"{name} must be a float map, got dtype {a.dtype}")
    if a.ndim == 0:  # checked here: np.ascontiguousarray turns a 0-d array into 1-d
        raise ShapeMismatchError(f"{name} must be a map (1-D or more), got a scalar")
    check_nonempty(a, name)
    return np.ascontiguousarray(a)
