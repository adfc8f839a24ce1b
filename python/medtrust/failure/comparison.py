"""Is a CSF distinguishable from the best one? Paired bootstrap of metric differences.

A ranking of CSFs by a point estimate says nothing about whether the data can tell them apart.
:func:`compare_to_best` answers that for each CSF: on shared (paired) bootstrap resamples of the
cases it takes the difference of its metric to the best CSF's and a percentile confidence
interval of that difference, simultaneous over the K - 1 comparisons (Bonferroni: each at level
``alpha / (K - 1)``), plus the two-sided bootstrap p-value, Bonferroni-adjusted. A CSF is
``"worse"`` when its simultaneous CI excludes 0 and ``"not distinguishable"`` otherwise, so the
verdicts agree with the intervals a reader sees (Holm's step-down test would be slightly more
powerful but could call a CSF worse while its drawn interval contains 0). Far-tail percentiles
need many resamples: with K CSFs use about ``20 * (K - 1) / alpha`` (ten beyond each end).

The best CSF is chosen on the same cases it is then compared on (a winner's-curse bias in its
favour): differences to it are slightly overstated, so a ``"worse"`` verdict near the
threshold deserves caution, while ``"not distinguishable"`` errs on the safe side.
Differences are signed so that a positive difference means worse than the best, whatever the
metric's direction.

Examples
--------
>>> import numpy as np
>>> from medtrust.failure.comparison import compare_to_best
>>> rng = np.random.default_rng(0)
>>> risk = rng.uniform(0, 1, 200)
>>> confs = {"good": -risk + rng.normal(0, 0.1, 200), "close": -risk + rng.normal(0, 0.12, 200),
...          "noise": rng.random(200)}
>>> t = compare_to_best(confs, risk, n_resamples=200, seed=0)
>>> dict(zip(t["csf"], t["verdict"]))["noise"]
'worse'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from medtrust._arrays import check_choice
from medtrust.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

#: Multiplicity adjustment of :func:`compare_to_best`.
Adjust = Literal["bonferroni", "none"]

__all__ = ["VERDICTS", "compare_to_best"]

#: Verdicts of :func:`compare_to_best`.
VERDICTS: tuple[str, ...] = ("best", "not distinguishable", "worse")

_HIGHER_IS_BETTER = {"failure_auroc"}


def compare_to_best(
    confids: Mapping[str, Any],
    residuals: Any,
    *,
    metric: str = "aurc",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    adjust: Adjust = "bonferroni",
    check_range: bool = True,
) -> pl.DataFrame:
    """Compare every CSF with the best one (by ``metric``) on paired bootstrap resamples.

    Parameters
    ----------
    confids
        Mapping CSF name -> confidences of the same cases (higher = more confident).
    residuals
        Risk per case (e.g. 1 - Dice).
    metric
        A metric of :data:`medtrust.selective.METRIC_NAMES` (lower is better except for
        ``failure_auroc``).
    n_resamples, seed
        Paired bootstrap over cases (:func:`medtrust.selective.paired_bootstrap`).
    alpha
        Family-wise level of the intervals and tests.
    adjust
        "bonferroni" (simultaneous intervals, default) or "none" (each comparison at
        ``alpha``, as when only one comparison was planned).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    polars.DataFrame
        One row per CSF, best first: ``csf``, ``value`` (metric on all cases), ``low``,
        ``high`` (its percentile CI), ``diff`` (value minus the best's), ``diff_low``,
        ``diff_high`` (simultaneous CI of the paired difference), ``p_value`` (adjusted) and
        ``verdict`` (one of :data:`VERDICTS`).
    """
    import polars as pl

    from medtrust.selective import METRIC_NAMES, paired_bootstrap

    check_choice(metric, "metric", METRIC_NAMES)
    check_choice(adjust, "adjust", ("bonferroni", "none"))
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    if not isinstance(confids, Mapping) or len(confids) < 2:
        raise InvalidArgumentError("confids must map at least two CSF names to confidences")
    boot = paired_bootstrap(
        confids, residuals, n_resamples=n_resamples, seed=seed, check_range=check_range
    )
    j = boot.metric_names.index(metric)
    sign = -1.0 if metric in _HIGHER_IS_BETTER else 1.0
    est = boot.estimates[:, j]
    vals = boot.values[:, :, j]  # [B, K]
    best = int(np.nanargmin(sign * est))
    ci = boot.ci(metric, alpha=alpha)
    m = len(boot.csfs) - 1 if adjust == "bonferroni" else 1
    level = alpha / m
    rows = []
    for k, name in enumerate(boot.csfs):
        d = sign * (vals[:, k] - vals[:, best])  # > 0: worse than the best
        d = d[~np.isnan(d)]
        if k == best:
            lo = hi = 0.0
            p, verdict = 1.0, "best"
        elif d.size == 0:
            lo = hi = p = float("nan")
            verdict = "not distinguishable"
        else:
            lo, hi = np.percentile(d, [100 * level / 2, 100 * (1 - level / 2)])
            # Two-sided bootstrap p-value of "no difference": twice the smaller tail mass at 0
            # (the +1 keeps it above 0 with finitely many resamples).
            tail = min(np.sum(d <= 0), np.sum(d >= 0))
            p = min(1.0, m * 2.0 * (tail + 1) / (d.size + 1))
            verdict = "worse" if lo > 0 else "not distinguishable"
        rows.append(
            {
                "csf": name,
                "value": float(est[k]),
                "low": ci[name].low,
                "high": ci[name].high,
                "diff": float(sign * (est[k] - est[best])),
                "diff_low": float(lo),
                "diff_high": float(hi),
                "p_value": float(p),
                "verdict": verdict,
            }
        )
    table = pl.DataFrame(rows)
    order = (sign * table["value"]).to_numpy()
    return table[np.argsort(order, kind="stable")]
