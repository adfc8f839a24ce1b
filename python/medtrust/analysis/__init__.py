"""Statistics used by every job, each written once (scipy underneath where scipy has the test).

- Ranks: :func:`rank_values` (1 = best, ties averaged, NaN last) and
  :func:`rank_distribution` (how often each method takes each rank); as polars expressions
  over long tables, :func:`rank_expr` and :func:`rank_distribution_frame` (every group at once).
- Tests: :func:`holm` correction, one-sided :func:`paired_wilcoxon`, :func:`paired_t`,
  :func:`friedman_test` with the :func:`nemenyi_test` post-hoc test and its
  :func:`critical_difference` (Demšar, 2006).
- Correlations: :func:`kendall_tau`, :func:`spearman`, :func:`pearson` (:func:`correlation`).

Inputs are numpy arrays, sequences, or (for score matrices) wide polars DataFrames with one
column per method. This package sits below the jobs: it imports only numpy, scipy, polars and
:mod:`medtrust.exceptions`.

Examples
--------
>>> from medtrust.analysis import friedman_test, rank_values
>>> scores = [[0.9, 0.8, 0.7], [0.85, 0.8, 0.6], [0.7, 0.75, 0.5]]
>>> rank_values(scores, higher_is_better=True).mean(axis=0).tolist()
[1.3333333333333333, 1.6666666666666667, 3.0]
>>> round(friedman_test(scores).statistic, 4)
4.6667
"""

from medtrust.analysis.correlation import (
    CorrelationMethod,
    correlation,
    kendall_tau,
    pearson,
    spearman,
)
from medtrust.analysis.ranks import (
    as_matrix,
    rank_distribution,
    rank_distribution_frame,
    rank_expr,
    rank_values,
)
from medtrust.analysis.significance import (
    Alternative,
    NemenyiResult,
    SignificanceResult,
    critical_difference,
    friedman_test,
    holm,
    nemenyi_test,
    paired_t,
    paired_wilcoxon,
)

__all__ = [
    "Alternative",
    "CorrelationMethod",
    "NemenyiResult",
    "SignificanceResult",
    "as_matrix",
    "correlation",
    "critical_difference",
    "friedman_test",
    "holm",
    "kendall_tau",
    "nemenyi_test",
    "paired_t",
    "paired_wilcoxon",
    "pearson",
    "rank_distribution",
    "rank_distribution_frame",
    "rank_expr",
    "rank_values",
    "spearman",
]
