"""Rank CSFs over paired bootstrap resamples; compare rankings by AURC and by AUGRC.

The paper's headline analysis (Traub et al., 2024): rank distributions of CSFs under
resampling, Kendall's tau between the ranking by AURC and the ranking by AUGRC, and one-sided
paired Wilcoxon tests (is CSF i better than j across resamples?) with Holm correction.

Examples
--------
>>> import numpy as np
>>> from medtrust.selective import rank_csfs
>>> rng = np.random.default_rng(0)
>>> r = (rng.random(400) < 0.3).astype(float)
>>> good = 1 - r + rng.normal(0, 0.5, 400); bad = rng.random(400)
>>> out = rank_csfs({"good": good, "bad": bad}, r, n_resamples=100, seed=0)
>>> out.mean_rank.filter(out.mean_rank["csf"] == "good")["mean_rank"][0]
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust.analysis import holm, kendall_tau, paired_wilcoxon, rank_distribution, rank_values
from medtrust.selective.bootstrap import PairedBootstrap, paired_bootstrap

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CSFRanking", "holm", "rank_csfs"]

_HIGHER_IS_BETTER = {"failure_auroc", "coverage_at_risk"}


def _mean_of_defined(values: Any) -> float:
    """Mean of the non-NaN values; NaN (silently) when there is none.

    Kendall's tau is undefined (NaN) in a resample where a metric is constant across CSFs,
    which happens in small groups; when every resample is like that, the mean is NaN too.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


@dataclass(frozen=True)
class CSFRanking:
    """Result of :func:`rank_csfs` (polars tables).

    ``kendall_tau_per_resample`` is the mean over resamples of Kendall's tau between the AURC
    and AUGRC values of the CSFs, over the resamples where tau is defined; it is NaN, without
    a warning, when it is defined in none (fewer than two CSFs, or constant metric values in
    every resample, as in very small groups). ``kendall_tau_aurc_augrc`` is NaN likewise.

    Attributes
    ----------
    metric
        The metric the CSFs are ranked by.
    rank_distribution
        polars DataFrame ``csf, rank, frequency``: how often each CSF takes each rank over the
        resamples (rank 1 = best).
    mean_rank
        polars DataFrame ``csf, mean_rank, <metric>``: mean rank over the resamples and the metric
        on the full data, best first.
    kendall_tau_aurc_augrc
        Kendall's tau between the CSFs' AURC and AUGRC on the full data (NaN when undefined).
    kendall_tau_per_resample
        Mean over resamples of that tau (NaN when defined in none).
    wilcoxon
        polars DataFrame ``csf_a, csf_b, statistic, p_value, p_holm, a_better``: one-sided paired
        Wilcoxon tests over the resamples, Holm-corrected.
    bootstrap
        The :class:`PairedBootstrap` the ranks come from.
    """

    metric: str
    rank_distribution: Any  # csf, rank, frequency
    mean_rank: Any  # csf, mean_rank, metric value on the full data
    kendall_tau_aurc_augrc: float
    kendall_tau_per_resample: float
    wilcoxon: Any  # csf_a, csf_b, statistic, p_value, p_holm, a_better
    bootstrap: PairedBootstrap

    def to_dict(self) -> dict[str, Any]:
        """Plain dict: the tables as lists of records (without the bootstrap values).

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {
            "metric": self.metric,
            "mean_rank": self.mean_rank.to_dicts(),
            "rank_distribution": self.rank_distribution.to_dicts(),
            "kendall_tau_aurc_augrc": self.kendall_tau_aurc_augrc,
            "kendall_tau_per_resample": self.kendall_tau_per_resample,
            "wilcoxon": self.wilcoxon.to_dicts(),
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per CSF: csf, mean_rank and the metric on the full data.

        Returns
        -------
        polars.DataFrame
            The ``mean_rank`` table.
        """
        return self.mean_rank


def rank_csfs(
    confids: Mapping[str, Any],
    residuals: Any,
    *,
    metric: str = "augrc",
    n_resamples: int = 500,
    seed: int = 0,
    alpha: float = 0.05,
    labels: Any = None,
    check_range: bool = True,
) -> CSFRanking:
    """Rank distributions, AURC-vs-AUGRC Kendall tau and paired Wilcoxon tests of CSFs.

    Parameters
    ----------
    confids
        Mapping CSF name -> confidences (higher = more confident), all of the same length.
    residuals
        Residuals shared by all CSFs (0/1 failures or losses in [0, 1]), or a mapping CSF name ->
        residuals.
    metric
        Metric to rank by (a name of :data:`METRIC_NAMES`; lower is better except
        ``failure_auroc``).
    n_resamples
        Number of bootstrap resamples.
    seed
        Seed of the random generator (results are identical for any thread count).
    alpha
        Level of the Holm-corrected Wilcoxon tests.
    labels
        Class labels per sample (for the balanced metrics).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    CSFRanking
        Rank distributions, mean ranks, Kendall tau and the paired tests.
    """
    import polars as pl

    boot = paired_bootstrap(
        confids,
        residuals,
        n_resamples=n_resamples,
        seed=seed,
        labels=labels,
        check_range=check_range,
    )
    names = boot.csfs
    vals = boot.metric(metric)  # [B, K]
    ranks = rank_values(vals, higher_is_better=metric in _HIGHER_IS_BETTER)
    k = len(names)
    full = boot.estimates[:, boot.metric_names.index(metric)]
    mean_rank = pl.DataFrame({"csf": list(names), "mean_rank": ranks.mean(0), metric: full}).sort(
        "mean_rank"
    )

    ia, ig = boot.metric_names.index("aurc"), boot.metric_names.index("augrc")
    if k >= 2:
        tau = kendall_tau(boot.estimates[:, ia], boot.estimates[:, ig]).statistic
        taus = [
            kendall_tau(boot.values[b, :, ia], boot.values[b, :, ig]).statistic
            for b in range(boot.values.shape[0])
        ]
        tau_b = _mean_of_defined(taus)
    else:
        tau = tau_b = float("nan")

    sign = -1.0 if metric in _HIGHER_IS_BETTER else 1.0
    rows = []
    for a in range(k):
        for b in range(k):
            if a == b:
                continue
            # One-sided: is a's metric better (lower after the sign flip) than b's?
            stat, p = paired_wilcoxon(sign * vals[:, a], sign * vals[:, b], alternative="less")
            rows.append({"csf_a": names[a], "csf_b": names[b], "statistic": stat, "p_value": p})
    wil = (
        pl.DataFrame(rows)
        if rows
        else pl.DataFrame(
            schema={
                "csf_a": pl.Utf8,
                "csf_b": pl.Utf8,
                "statistic": pl.Float64,
                "p_value": pl.Float64,
            }
        )
    )
    if rows:
        adj = holm(wil["p_value"].to_numpy())
        wil = wil.with_columns(p_holm=pl.Series(adj), a_better=pl.Series(adj < alpha))
    return CSFRanking(
        metric, rank_distribution(ranks, names, name_col="csf"), mean_rank, tau, tau_b, wil, boot
    )
