"""Rank and linear correlations, each written once: Kendall's tau-b, Spearman's rho, Pearson's r.

scipy computes each; this module fixes one rule for the undefined cases that scipy answers
with NaN plus a warning (or an error): fewer than ``min_n`` pairs, a constant input, or a NaN
value give ``(nan, nan)`` silently, and the caller decides whether that deserves a warning.

Examples
--------
>>> from medtrust.analysis import kendall_tau, spearman
>>> kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]).statistic
0.6666666666666669
>>> spearman([1, 2, 3], [5, 5, 5])
SignificanceResult(statistic=nan, pvalue=nan)
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np

from medtrust.analysis.significance import SignificanceResult
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = ["CorrelationMethod", "correlation", "kendall_tau", "pearson", "spearman"]

#: A correlation coefficient computed by :func:`correlation`.
CorrelationMethod = Literal["kendall", "spearman", "pearson"]

_UNDEFINED = SignificanceResult(math.nan, math.nan)


def correlation(
    x: Any, y: Any, method: CorrelationMethod = "spearman", *, min_n: int = 2
) -> SignificanceResult:
    """Correlation coefficient of paired samples and its two-sided p-value.

    Parameters
    ----------
    x, y
        Paired samples of one length.
    method
        ``"kendall"`` (tau-b, ties corrected), ``"spearman"`` or ``"pearson"``.
    min_n
        Fewest pairs for a defined value (at least 2).

    Returns
    -------
    SignificanceResult
        ``(statistic, pvalue)`` as scipy computes them; ``(nan, nan)`` when there are fewer
        than ``min_n`` pairs, either input is constant, or a value is NaN.

    Examples
    --------
    >>> round(correlation([1, 2, 3, 4], [1.1, 1.9, 3.2, 3.9], "pearson").statistic, 4)
    0.9934
    """
    from scipy import stats

    funcs = {"kendall": stats.kendalltau, "spearman": stats.spearmanr, "pearson": stats.pearsonr}
    if method not in funcs:
        raise InvalidArgumentError(f"method must be one of {sorted(funcs)}, got {method!r}")
    if min_n < 2:
        raise InvalidArgumentError(f"min_n must be >= 2, got {min_n}")
    a = np.asarray(x, dtype=float).reshape(-1)
    b = np.asarray(y, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise ShapeMismatchError(f"x and y must be paired: lengths {len(a)} and {len(b)}")
    if (
        len(a) < min_n
        or np.isnan(a).any()
        or np.isnan(b).any()
        or np.all(a == a[0])
        or np.all(b == b[0])
    ):
        return _UNDEFINED
    with warnings.catch_warnings():
        # Near-constant inputs can still trip scipy's precision warnings; the value stands.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = funcs[method](a, b)
    return SignificanceResult(float(res.statistic), float(res.pvalue))


def kendall_tau(x: Any, y: Any, *, min_n: int = 2) -> SignificanceResult:
    """Kendall's tau-b (see :func:`correlation`).

    Parameters
    ----------
    x
        First sample (1-D, paired with ``y``).
    y
        Second sample of the same length.
    min_n
        Fewest complete pairs for a defined value (fewer: NaN with a warning).

    Returns
    -------
    SignificanceResult
        Tau-b in [-1, 1] and its two-sided p-value.

    Examples
    --------
    >>> kendall_tau([1, 2, 3], [3, 2, 1]).statistic
    -1.0
    """
    return correlation(x, y, "kendall", min_n=min_n)


def spearman(x: Any, y: Any, *, min_n: int = 2) -> SignificanceResult:
    """Spearman's rank correlation rho (see :func:`correlation`).

    Parameters
    ----------
    x
        First sample (1-D, paired with ``y``).
    y
        Second sample of the same length.
    min_n
        Fewest complete pairs for a defined value (fewer: NaN with a warning).

    Returns
    -------
    SignificanceResult
        rho in [-1, 1] and its two-sided p-value.

    Examples
    --------
    >>> spearman([1, 2, 3], [1, 4, 9]).statistic
    1.0
    """
    return correlation(x, y, "spearman", min_n=min_n)


def pearson(x: Any, y: Any, *, min_n: int = 2) -> SignificanceResult:
    """Pearson's linear correlation r (see :func:`correlation`).

    Parameters
    ----------
    x
        First sample (1-D, paired with ``y``).
    y
        Second sample of the same length.
    min_n
        Fewest complete pairs for a defined value (fewer: NaN with a warning).

    Returns
    -------
    SignificanceResult
        r in [-1, 1] and its two-sided p-value.

    Examples
    --------
    >>> round(pearson([1, 2, 3], [2, 4, 7]).statistic, 4)
    0.9934
    """
    return correlation(x, y, "pearson", min_n=min_n)
