"""Significance tests, each written once: Holm, paired Wilcoxon, paired t, Friedman, Nemenyi.

scipy computes every test it has (``wilcoxon``, ``ttest_1samp``, the chi-square and
studentised-range distributions); this module adds the degenerate cases scipy answers with NaN
or a warning (all-zero or constant differences) and the Friedman statistic from two methods on
(scipy's ``friedmanchisquare`` needs three), with missing values ranked last like
:func:`medtrust.analysis.rank_values`.

Examples
--------
>>> from medtrust.analysis import holm, paired_t
>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
>>> round(paired_t([0.5, 0.6, 0.7], [0.6, 0.75, 0.82]).pvalue, 4)
0.0136
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np

from medtrust.analysis.ranks import as_matrix, rank_values
from medtrust.exceptions import InvalidArgumentError, NaNInputError

__all__ = [
    "Alternative",
    "NemenyiResult",
    "SignificanceResult",
    "critical_difference",
    "friedman_test",
    "holm",
    "nemenyi_test",
    "paired_t",
    "paired_wilcoxon",
]

#: The alternative hypothesis of a paired test about ``a - b``.
Alternative = Literal["less", "greater", "two-sided"]


class SignificanceResult(NamedTuple):
    """``(statistic, pvalue)`` of a test; unpacks like a tuple."""

    statistic: float
    pvalue: float

    def to_dict(self) -> dict[str, float]:
        """Plain dict.

        Returns
        -------
        dict of str to float
            ``statistic`` and ``pvalue``.
        """
        return {"statistic": self.statistic, "pvalue": self.pvalue}


class NemenyiResult(NamedTuple):
    """``(pvalues, critical_difference)`` of :func:`nemenyi_test`; unpacks like a tuple."""

    pvalues: np.ndarray
    critical_difference: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (nested p-value matrix).

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {"pvalues": self.pvalues.tolist(), "critical_difference": self.critical_difference}


def holm(pvalues: Any) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as the input).

    The ``i``-th smallest p-value is multiplied by ``m - i`` (``i`` from 0), capped at 1, and
    made non-decreasing in that order (Holm, 1979).

    Parameters
    ----------
    pvalues
        Unadjusted p-values (1-D).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in [0, 1], in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.5]).tolist()
    [0.04, 0.09, 0.09, 0.5]
    """
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if np.isnan(p).any():
        raise NaNInputError("pvalues has NaN values")
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled) if m else scaled
    return adjusted


def _differences(a: Any, b: Any | None) -> np.ndarray:
    x = np.asarray(a, dtype=float).reshape(-1)
    if b is None:
        return x
    y = np.asarray(b, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise InvalidArgumentError(f"a and b must be paired: lengths {len(x)} and {len(y)}")
    return x - y


def paired_wilcoxon(
    a: Any, b: Any | None = None, *, alternative: Alternative = "less"
) -> SignificanceResult:
    """Wilcoxon signed-rank test of the paired differences ``a - b`` (one-sided by default).

    With the default ``alternative="less"`` a small p-value says ``a`` is smaller than ``b``
    (e.g. a lower risk: the better method when lower is better).

    Parameters
    ----------
    a, b
        Paired samples; ``b=None`` means ``a`` already holds the differences. Pairs with a NaN
        are left out.
    alternative
        ``"less"``, ``"greater"`` or ``"two-sided"``, as :func:`scipy.stats.wilcoxon`.

    Returns
    -------
    SignificanceResult
        scipy's statistic and p-value; ``(nan, 1.0)`` when no pair is left or every difference
        is 0 (no evidence either way; scipy would return NaN or raise there).

    Examples
    --------
    >>> round(paired_wilcoxon([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0]).pvalue, 5)
    0.03125
    """
    from scipy.stats import wilcoxon

    if alternative not in ("less", "greater", "two-sided"):
        raise InvalidArgumentError(
            f"alternative must be 'less', 'greater' or 'two-sided', got {alternative!r}"
        )
    d = _differences(a, b)
    d = d[~np.isnan(d)]
    if d.size == 0 or np.all(d == 0):
        return SignificanceResult(math.nan, 1.0)
    res = wilcoxon(d, alternative=alternative)
    return SignificanceResult(float(res.statistic), float(res.pvalue))


def paired_t(a: Any, b: Any | None = None) -> SignificanceResult:
    """Two-sided paired t-test: one-sample t-test of the differences ``a - b`` against 0.

    Parameters
    ----------
    a, b
        Paired samples (at least two pairs, finite); ``b=None`` means ``a`` holds the
        differences.

    Returns
    -------
    SignificanceResult
        As :func:`scipy.stats.ttest_rel`. Constant differences (zero spread, where scipy
        returns NaN or a precision warning): ``(0.0, 1.0)`` when they are all 0, else
        ``(+-inf, 0.0)``: a difference without spread is certain.

    Examples
    --------
    >>> paired_t([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    SignificanceResult(statistic=inf, pvalue=0.0)
    """
    from scipy import stats

    d = _differences(a, b)
    if len(d) < 2:
        raise InvalidArgumentError(f"paired_t needs >= 2 pairs, got {len(d)}")
    if not np.all(np.isfinite(d)):
        raise NaNInputError("paired_t: the differences have NaN or inf values")
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd <= 1e-15 * max(1.0, abs(mean)):
        return (
            SignificanceResult(0.0, 1.0)
            if mean == 0.0
            else SignificanceResult(math.copysign(math.inf, mean), 0.0)
        )
    res = stats.ttest_1samp(d, 0.0)
    return SignificanceResult(float(res.statistic), float(res.pvalue))


def friedman_test(scores: Any, *, higher_is_better: bool = True) -> SignificanceResult:
    """Friedman chi-square test over ``scores[block, method]``; returns ``(statistic, p)``.

    Uses the tie-corrected statistic (equal to :func:`scipy.stats.friedmanchisquare`, which
    needs at least three methods; this works from two). Within a block, NaN ranks last.

    Parameters
    ----------
    scores
        Matrix ``[n_blocks, n_methods]`` (numpy array, nested sequence or wide polars DataFrame: one
        column per method).
    higher_is_better
        Rank the largest score first (False: the smallest).

    Returns
    -------
    SignificanceResult
        Friedman chi-square ``statistic`` and its ``pvalue``.

    Examples
    --------
    >>> s, p = friedman_test([[1, 2, 3], [1, 2, 3], [1, 3, 2], [1, 2, 3]])
    >>> round(s, 3), round(p, 4)
    (6.5, 0.0388)
    """
    from scipy import stats

    x = as_matrix(scores, "scores")
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise InvalidArgumentError(
            f"scores must be [blocks >= 2, methods >= 2], got shape {x.shape}"
        )
    n, k = x.shape
    r = rank_values(x, higher_is_better=higher_is_better, axis=1)
    rbar = r.mean(0)
    ssb = n * np.sum((rbar - (k + 1) / 2) ** 2)
    # Tie correction: the total variance of the ranks inside blocks.
    denom = np.sum((r - (k + 1) / 2) ** 2) / (n * (k - 1))
    if denom <= 0:
        return SignificanceResult(0.0, 1.0)
    stat = float(ssb / denom)
    return SignificanceResult(stat, float(stats.chi2.sf(stat, k - 1)))


def critical_difference(n_methods: int, n_blocks: int, *, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks (Demšar, 2006).

    ``CD = q_alpha sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentised-range quantile
    for ``k`` means and infinite degrees of freedom, divided by sqrt(2).

    Parameters
    ----------
    n_methods
        Number of methods k.
    n_blocks
        Number of blocks N.
    alpha
        Level of the test (0.05 or 0.10 as in Demšar's tables; any level in (0, 1)).

    Returns
    -------
    float
        Critical difference of mean ranks.

    Examples
    --------
    >>> round(critical_difference(4, 14), 3)  # Demšar's example: q = 2.569, CD = 1.25
    1.254
    """
    from scipy.stats import studentized_range

    k = int(n_methods)
    if k < 2 or n_blocks < 1:
        raise InvalidArgumentError("need >= 2 methods and >= 1 block")
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6.0 * n_blocks))


def nemenyi_test(mean_ranks: Any, n_blocks: int, *, alpha: float = 0.05) -> NemenyiResult:
    """Nemenyi post-hoc test: pairwise p-values and the critical difference of mean ranks.

    Two methods differ when their mean ranks differ by more than
    :func:`critical_difference`; the p-value of a pair is the studentised-range tail
    probability of ``|R_i - R_j| / sqrt(k (k + 1) / (6 N))`` times sqrt(2).

    Parameters
    ----------
    mean_ranks
        Mean rank of each of the k methods over the blocks.
    n_blocks
        Number of blocks N the ranks were averaged over.
    alpha
        Level of the critical difference.

    Returns
    -------
    NemenyiResult
        Pairwise p-values ``[k, k]`` and the critical difference (unpacks as ``p, cd``).

    Examples
    --------
    >>> p, cd = nemenyi_test([1, 2, 3, 4], 14)
    >>> round(cd, 3), bool(p[0, 3] < 0.05 < p[0, 1])
    (1.254, True)
    """
    from scipy.stats import studentized_range

    r = as_matrix(mean_ranks, "mean_ranks").reshape(-1)
    k = len(r)
    cd = critical_difference(k, n_blocks, alpha=alpha)
    se = math.sqrt(k * (k + 1) / (6.0 * n_blocks))
    z = np.abs(r[:, None] - r[None, :]) / se
    p = studentized_range.sf(z * math.sqrt(2), k, np.inf)
    p = np.where(np.eye(k, dtype=bool), 1.0, np.clip(p, 0.0, 1.0))
    return NemenyiResult(p, cd)
