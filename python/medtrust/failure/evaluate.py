"""Failure-detection evaluation of segmentation CSFs, per domain, with bootstrap rankings.

One row per case (risks and confidences) in, polars tables out: every metric of
:mod:`medtrust.selective` per CSF and domain group (each domain, e.g. i.i.d. and every shift,
plus all cases pooled), Spearman and Pearson correlation between confidence and risk, failure
AUROC at a threshold, paired-bootstrap intervals and rank distributions of the CSFs
(:func:`medtrust.selective.rank_csfs`, default 500 resamples, seeded).

Risks: ``"dice"`` -> 1 - mean foreground Dice; ``"nsd"`` -> 1 - NSD; ``"hd95"`` -> HD95 in mm
(unbounded: AURC on the raw scale). A case *fails* when its Dice (or NSD) is below
``threshold`` (default 0.75 for Dice), or its HD95 above it.

Examples
--------
>>> import numpy as np, polars as pl
>>> from medtrust.failure import evaluate_failure_detection
>>> rng = np.random.default_rng(0)
>>> d = rng.uniform(0.3, 0.95, 40)
>>> cases = pl.DataFrame({"case": [f"c{i}" for i in range(40)], "domain": ["iid"] * 20 +
...     ["shift"] * 20, "dice": d, "good": d + rng.normal(0, 0.05, 40), "bad": rng.random(40)})
>>> res = evaluate_failure_detection(cases, n_resamples=50)
>>> row = res.metrics.filter((pl.col("group") == "all") & (pl.col("csf") == "good"))
>>> bool(row["aurc"][0] < res.metrics.filter(pl.col("csf") == "bad")["aurc"][-1])
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from medtrust._arrays import check_choice
from medtrust._extras import require
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    UndefinedMetricWarning,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RISKS", "FailureDetectionResult", "evaluate_failure_detection"]

#: Risk definitions: column of the case table and how the residual derives from it.
RISKS: tuple[str, ...] = ("dice", "nsd", "hd95")
#: A case risk that failure detection scores CSFs against.
Risk = Literal["dice", "nsd", "hd95"]

_RESERVED = {"case", "domain", "dice", "nsd", "hd95", "risk", "failed"}
_METRICS = ("aurc", "eaurc", "naurc", "augrc", "eaugrc")


@dataclass(frozen=True)
class FailureDetectionResult:
    """Tables of one evaluation (polars) and its configuration."""

    cases: Any  # case, domain, risk, failed, CSFs...
    metrics: Any  # group, csf, n, aurc, eaurc, naurc, augrc, spearman, pearson, failure_auroc...
    rank_distribution: Any  # group, csf, rank, frequency
    csfs: tuple[str, ...]
    groups: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Config plus the metric table as records."""
        return {"config": dict(self.config), "metrics": self.metrics.to_dicts()}

    def to_frame(self) -> pl.DataFrame:
        """The metric table."""
        return self.metrics

    def best(self, group: str = "all", metric: str = "aurc") -> str:
        """Name of the CSF with the lowest ``metric`` in ``group``."""
        import polars as pl

        t = self.metrics.filter(pl.col("group") == group).sort(metric)
        return str(t["csf"][0])

    def plot_risk_coverage(
        self, group: str = "all", csfs: Sequence[str] | None = None, ax: Any = None
    ):
        """Risk-coverage curves of ``csfs`` (default: all) on ``group``; returns (fig, ax)."""
        import polars as pl

        from medtrust.selective import plot_risk_coverage

        if group not in self.groups:
            raise InvalidArgumentError(f"group must be one of {self.groups}, got {group!r}")
        part = self.cases if group == "all" else self.cases.filter(pl.col("domain") == group)
        names = list(csfs) if csfs is not None else list(self.csfs)
        risk = part["risk"].to_numpy()
        return plot_risk_coverage(
            {c: part[c].to_numpy() for c in names},
            risk,
            ax=ax,
            title=f"{self.config.get('risk', '')} risk, {group}",
            check_range=self.config.get("risk") != "hd95",
        )

    def write(self, out: str | Path) -> list[Path]:
        """Write every table, summary.json and one risk-coverage plot per group.

        Files: cases.parquet, metrics.parquet, rank_distribution.parquet, summary.json,
        risk_coverage_<group>.png (all written atomically), then the completion marker
        ``_COMPLETE`` (:func:`medtrust._io.mark_complete`); returns the paths of the files.
        """
        require("matplotlib", "plot")
        import matplotlib.pyplot as plt
        import polars as pl

        from medtrust import __version__
        from medtrust._io import (
            atomic_savefig,
            atomic_write_json,
            atomic_write_parquet,
            begin_results,
            mark_complete,
        )

        # A rerun into the same folder first withdraws the old marker: until the new one is
        # written, readers must not take a mix of old and new files for a finished result.
        out = begin_results(out)
        paths = [out / "cases.parquet", out / "metrics.parquet", out / "rank_distribution.parquet"]
        atomic_write_parquet(paths[0], self.cases)
        atomic_write_parquet(paths[1], self.metrics)
        atomic_write_parquet(paths[2], self.rank_distribution)
        summary = {"medtrust_version": __version__, "config": self.config, "csfs": self.csfs}
        atomic_write_json(out / "summary.json", summary)
        paths.append(out / "summary.json")
        from medtrust.failure.plot import plot_highlighted_risk_coverage

        for g in self.groups:
            # Top 3 CSFs highlighted, the rest grey, legend outside (medtrust.failure.plot).
            part = self.cases if g == "all" else self.cases.filter(pl.col("domain") == g)
            fig, _ = plot_highlighted_risk_coverage(
                {c: part[c].to_numpy() for c in self.csfs},
                part["risk"].to_numpy(),
                top_k=min(3, len(self.csfs)),
                title=f"{self.config.get('risk', '')} risk, {g} ({part.height} cases)",
                check_range=self.config.get("risk") != "hd95",
            )
            p = out / f"risk_coverage_{g}.png"
            try:
                atomic_savefig(fig, p, dpi=200, bbox_inches="tight")  # never a truncated PNG
            finally:
                plt.close(fig)
            paths.append(p)
        mark_complete(out, {"files": [q.name for q in paths]})
        return paths


def _to_polars(cases: Any) -> pl.DataFrame:
    import polars as pl

    if isinstance(cases, pl.DataFrame):
        return cases
    if isinstance(cases, (list, tuple)):
        return pl.DataFrame(list(cases))
    if isinstance(cases, dict):
        return pl.DataFrame(cases)
    try:
        return pl.from_pandas(cases)
    except Exception as e:  # pragma: no cover - depends on the caller's object
        raise InvalidArgumentError(f"cases must be a polars DataFrame or records: {e}") from e


def _check_case_columns(df: Any, risk: str) -> None:
    """Name the column at fault (a Dice of 1.5 was reported as "residuals ... min -0.5")."""
    import polars as pl

    n_null = df["domain"].null_count()
    if n_null:
        raise InvalidValueError(
            f"column 'domain' holds {n_null} null value(s); give every case one"
        )
    try:
        src = df[risk].cast(pl.Float64)
    except pl.exceptions.PolarsError as e:
        raise DTypeError(f"column {risk!r} must be numeric, got {df[risk].dtype}") from e
    if src.null_count():
        raise InvalidValueError(f"column {risk!r} holds {src.null_count()} null value(s)")
    v = src.to_numpy()
    if risk in ("dice", "nsd") and v.size and not (np.nanmin(v) >= 0.0 and np.nanmax(v) <= 1.0):
        raise InvalidValueError(
            f"column {risk!r} must lie in [0, 1] (got min {np.nanmin(v):.4g}, max "
            f"{np.nanmax(v):.4g}); the risk is 1 - {risk}"
        )
    if risk == "hd95" and v.size and np.nanmin(v) < 0.0:
        raise InvalidValueError(f"column 'hd95' must be >= 0 mm, got min {np.nanmin(v):.4g}")


def _group_scores(
    table: Any, names: Sequence[str], check_range: bool, has_failed: bool
) -> dict[tuple[str, str], dict[str, Any]]:
    """Metrics, correlations and failure AUROC of every (group, CSF) in one polars query.

    The groups are each domain and ``"all"`` (the cases stacked once more under that name);
    the metrics run in Rust through the polars plugin (equal to ``selective.metrics``).
    """
    import polars as pl

    from medtrust import _plugin

    kw = _plugin.kwargs("raise", check_range)
    kw_auroc = _plugin.kwargs("raise", True, metric="failure_auroc")
    risk, fail = pl.col("risk"), pl.col("failed")
    aggs = [pl.len().alias("n"), fail.sum().alias("n_failed")]
    for i, c in enumerate(names):
        conf = pl.col(c).cast(pl.Float64)
        aggs.append(_plugin.call("selective_metrics", [conf, risk], kw).alias(f"m{i}"))
        # Correlations are undefined for < 3 cases or a constant input (NaN, as scipy warns).
        defined = (pl.len() >= 3) & (conf.n_unique() > 1) & (risk.n_unique() > 1)
        for method in ("spearman", "pearson"):
            corr = pl.corr(conf, risk, method=method)
            aggs.append(pl.when(defined).then(corr).otherwise(float("nan")).alias(f"{method}{i}"))
        if has_failed:
            auroc = _plugin.call("risk_metric", [conf, fail], kw_auroc)
            aggs.append(auroc.alias(f"auroc{i}"))
    stacked = pl.concat([table.lazy(), table.lazy().with_columns(domain=pl.lit("all"))])
    with _plugin.medtrust_errors():
        wide = stacked.group_by("domain").agg(aggs).collect()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in wide.iter_rows(named=True):
        for i, c in enumerate(names):
            m = row[f"m{i}"]
            out[(row["domain"], c)] = {
                "group": row["domain"],
                "csf": c,
                "n": row["n"],
                "n_failed": int(row["n_failed"]) if has_failed else None,
                **{k: m[k] for k in _METRICS},
                "spearman": float(row[f"spearman{i}"]),
                "pearson": float(row[f"pearson{i}"]),
                "failure_auroc": row[f"auroc{i}"] if has_failed else math.nan,
            }
    return out


def evaluate_failure_detection(
    cases: Any,
    *,
    csfs: Sequence[str] | None = None,
    risk: Risk = "dice",
    threshold: float | None = None,
    binary: bool = False,
    n_resamples: int = 500,
    seed: int = 0,
    alpha: float = 0.05,
    rank_metric: str = "aurc",
):
    """Evaluate CSFs as failure detectors of a segmentation model.

    Parameters
    ----------
    cases
        One row per case: ``case``, ``domain``, the risk source column (``dice``, ``nsd`` or
        ``hd95``) and one column per CSF (higher = more confident). A polars DataFrame, a list
        of dicts, or a dict of columns.
    csfs
        CSF columns (default: every column that is not case / domain / a risk).
    risk
        "dice" (1 - mean foreground Dice), "nsd" (1 - NSD) or "hd95" (mm).
    threshold
        Failure threshold for the failure AUROC: Dice or NSD below it, HD95 above it. Default
        0.75 for Dice, none otherwise.
    binary
        Use the binary failure (0/1) as the residual instead of the continuous risk.
    n_resamples, seed, alpha
        Paired bootstrap of the CSFs over cases, per group (intervals and rank distributions).
    rank_metric
        Metric the CSFs are ranked by in each resample.

    Returns
    -------
    FailureDetectionResult
    """
    import polars as pl

    from medtrust.selective import rank_csfs

    check_choice(risk, "risk", RISKS)
    df = _to_polars(cases)
    need = ["case", "domain", risk]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"cases lack column(s) {missing}; have {df.columns}")
    names = [c for c in df.columns if c not in _RESERVED] if csfs is None else list(csfs)
    unknown = [c for c in names if c not in df.columns]
    if unknown or not names:
        raise InvalidArgumentError(f"CSF columns {unknown or names} not usable; have {df.columns}")
    if threshold is None and risk == "dice":
        threshold = 0.75
    if binary and threshold is None:
        raise InvalidArgumentError("binary=True needs a threshold")
    _check_case_columns(df, risk)
    src = df[risk].cast(pl.Float64)
    cont = src if risk == "hd95" else 1.0 - src
    failed = None
    if threshold is not None:
        failed = (src > threshold) if risk == "hd95" else (src < threshold)
        failed = failed.cast(pl.Float64)
    residual = failed if binary and failed is not None else cont
    table = df.select("case", pl.col("domain").cast(pl.Utf8), *names).with_columns(
        risk=residual, failed=failed if failed is not None else pl.lit(None, pl.Float64)
    )
    check_range = not (risk == "hd95" and not binary)
    domains = sorted(set(table["domain"].to_list()))
    groups = [*domains, "all"]
    scores = _group_scores(table, names, check_range, failed is not None)
    rows, ranks = [], []
    for g in groups:
        # The rank distributions are statistics over paired resamples (medtrust.selective
        # rank_csfs); every per-group metric above comes from the one polars query.
        part = table if g == "all" else table.filter(pl.col("domain") == g)
        r = part["risk"].to_numpy()
        confs = {c: part[c].cast(pl.Float64).to_numpy() for c in names}
        ranking = rank_csfs(
            confs,
            r,
            metric=rank_metric,
            n_resamples=n_resamples,
            seed=seed,
            alpha=alpha,
            check_range=check_range,
        )
        boot = ranking.bootstrap
        mean_rank = dict(zip(ranking.mean_rank["csf"], ranking.mean_rank["mean_rank"]))
        for c in names:
            row = dict(scores[(g, c)])
            row["mean_rank"] = float(mean_rank[c])
            for k in ("aurc", "augrc"):
                ci = boot.ci(k, alpha=alpha)[c]
                row[f"{k}_low"], row[f"{k}_high"] = ci.low, ci.high
            rows.append(row)
        ranks.append(ranking.rank_distribution.with_columns(group=pl.lit(g)))
        n_failed = scores[(g, names[0])]["n_failed"]
        if n_failed is not None and n_failed in (0, len(r)):
            warnings.warn(
                f"group {g!r}: all {len(r)} cases {'fail' if n_failed else 'pass'} the "
                "threshold; failure AUROC is NaN there",
                UndefinedMetricWarning,
                stacklevel=2,
            )
    config = {
        "risk": risk,
        "threshold": threshold,
        "binary": binary,
        "n_resamples": n_resamples,
        "seed": seed,
        "alpha": alpha,
        "rank_metric": rank_metric,
    }
    rank_table = pl.concat(ranks).select("group", "csf", "rank", "frequency")
    return FailureDetectionResult(
        table, pl.DataFrame(rows), rank_table, tuple(names), tuple(groups), config
    )
