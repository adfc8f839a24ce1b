"""Validation shared by every selective-classification function (one place, used by all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    NAN_POLICIES,
    NanPolicy,
    apply_nan_policy,
    as_float_1d,
    as_int,
    as_real,
    check_choice,
    check_nonempty,
    check_same_length,
    check_unit_interval,
)
from medtrust.exceptions import InvalidValueError


@dataclass(frozen=True)
class Samples:
    """Validated (confids, residuals[, class labels]) of one evaluation."""

    confids: np.ndarray
    residuals: np.ndarray
    labels: np.ndarray | None
    n_dropped: int
    propagate_nan: bool
    binary: bool
    conf_min: float
    conf_max: float


def coerce(confids: Any, residuals: Any, labels: Any, nan_policy: str) -> dict[str, np.ndarray]:
    """Coerce the inputs to float64 vectors keyed by argument name.

    Only the checks that need no pass over the values run here (same length, not empty, a
    known ``nan_policy``); the value checks are the caller's (``prepare`` or the kernel).
    """
    arrays = {
        "confids": as_float_1d(confids, "confids"),
        "residuals": as_float_1d(residuals, "residuals"),
    }
    if labels is not None:
        arrays["labels"] = as_float_1d(labels, "labels")
    check_same_length(**arrays)
    check_nonempty(arrays["confids"], "confids")
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    return arrays


def prepare(
    confids: Any,
    residuals: Any,
    *,
    labels: Any = None,
    nan_policy: NanPolicy = "raise",
    check_range: bool = True,
) -> Samples:
    """Coerce and validate inputs, apply the NaN policy; raise before any work."""
    arrays = coerce(confids, residuals, labels, nan_policy)
    c, r = arrays["confids"], arrays["residuals"]
    # One fused native pass per array instead of several numpy passes (matters at n = 10^7).
    dc, dr = _native.describe(c), _native.describe(r)
    n_dropped, propagate = 0, False
    if dc[0] or dr[0] or ("labels" in arrays and not np.isfinite(arrays["labels"]).all()):
        arrays, n_dropped, propagate = apply_nan_policy(nan_policy, **arrays)
        c, r = arrays["confids"], arrays["residuals"]
        check_nonempty(c, "confids (after dropping NaN)")
        dc, dr = _native.describe(c), _native.describe(r)
    if check_range and not propagate and (dr[1] < 0.0 or dr[2] > 1.0):
        check_unit_interval(r, "residuals")
    lab = None
    if labels is not None:
        lab = np.ascontiguousarray(arrays["labels"])
        if not propagate and np.any(lab != np.round(lab)):
            raise InvalidValueError("labels must be integer class indices")
    return Samples(c, r, lab, n_dropped, propagate, bool(dr[3]), float(dc[1]), float(dc[2]))


def require_binary(s: Samples, what: str) -> None:
    """Raise unless residuals are all 0 or 1 (no-op when NaN propagates)."""
    if not s.propagate_nan and not s.binary:
        raise InvalidValueError(
            f"{what} needs binary residuals (0 = correct, 1 = failure); "
            "threshold continuous risks first"
        )


#: Largest ``bins`` of ECE / MCE: beyond it almost every bin is empty, and the count array
#: would be allocated before any work (2^40 bins aborted the interpreter).
MAX_BINS = 1 << 24


def check_targets(**targets: Any) -> dict[str, Any]:
    """Validate the targets of the threshold metrics before any work.

    ``tpr`` and ``coverage`` are fractions in [0, 1]; ``risk`` is a finite selective risk
    >= 0 (it can exceed 1 for unbounded risks); ``bins`` an integer in [1, 2^24].

    Examples
    --------
    >>> check_targets(tpr=0.95, risk=0.05)
    {'tpr': 0.95, 'risk': 0.05}
    """
    out: dict[str, Any] = {}
    for name, value in targets.items():
        if name in ("tpr", "coverage"):
            out[name] = as_real(value, name, lo=0.0, hi=1.0)
        elif name == "risk":
            out[name] = as_real(value, name, lo=0.0)
        elif name == "bins":
            out[name] = as_int(value, name, lo=1, hi=MAX_BINS)
        else:  # pragma: no cover - a programming error inside medtrust
            raise KeyError(name)
    return out
