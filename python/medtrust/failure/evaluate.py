"""Failure-detection evaluation of segmentation CSFs, per domain, with bootstrap rankings.

One row per case (risks and confidences) in, polars tables out: every metric of
:mod:`medtrust.selective` per CSF and domain group (each domain, e.g. i.i.d. and every shift,
plus all cases pooled), Spearman and Pearson correlation between confidence and risk, failure
AUROC at a threshold, paired-bootstrap intervals and rank distributions of the CSFs
(:func:`medtrust.selective.rank_csfs`, default 500 resamples, seeded).

Risks: ``"dice"`` -> 1 - mean foreground Dice; ``"nsd"`` -> 1 - NSD; ``"hd95"`` -> HD95 in mm
(unbounded: AURC on the raw scale). A case *fails* when its Dice (or NSD) is below
``threshold`` (default 0.75 for Dice), or its HD95 above it.

The CSF columns are named by the caller (a list, a polars selector such as
``cs.starts_with("csf_")``, or ``csf_prefix=``): a metadata column such as ``patient_age`` is
never taken for a confidence. The case and group columns are named too (``case_col``,
``group_col``; default ``"case"`` and ``"domain"``); other columns, strings included, are
left alone. A warning that several groups raise (e.g. no failure in a group) is issued once,
naming the groups.

Examples
--------
>>> import numpy as np, polars as pl
>>> from medtrust.failure import evaluate_failure_detection
>>> rng = np.random.default_rng(0)
>>> d = rng.uniform(0.3, 0.95, 40)
>>> cases = pl.DataFrame({"case": [f"c{i}" for i in range(40)], "domain": ["iid"] * 20 +
...     ["shift"] * 20, "dice": d, "good": d + rng.normal(0, 0.05, 40), "bad": rng.random(40)})
>>> res = evaluate_failure_detection(cases, csfs=["good", "bad"], n_resamples=50)
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
from medtrust.failure.columns import csf_names as _csf_names

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RISKS", "FailureDetectionResult", "evaluate_failure_detection"]

#: Risk definitions: column of the case table and how the residual derives from it.
RISKS: tuple[str, ...] = ("dice", "nsd", "hd95")
#: A case risk that failure detection scores CSFs against.
Risk = Literal["dice", "nsd", "hd95"]

_DERIVED = ("risk", "failed")
_METRICS = ("aurc", "eaurc", "naurc", "augrc", "eaugrc")
_CI_COLUMNS = ("aurc_low", "aurc_high", "augrc_low", "augrc_high")


@dataclass(frozen=True)
class FailureDetectionResult:
    """Tables of one evaluation (polars) and its configuration.

    Attributes
    ----------
    cases : polars.DataFrame
        The case table: case column, group column, the CSFs, ``risk`` and ``failed`` (null
        when no failure threshold applies).
    metrics : polars.DataFrame
        One row per group and CSF: ``n``, AURC, e-AURC, NAURC, AUGRC, e-AUGRC, Spearman,
        Pearson, failure AUROC, ``mean_rank`` and the bootstrap intervals.
    rank_distribution : polars.DataFrame
        ``group, csf, rank, frequency`` over the bootstrap resamples.
    csfs : tuple of str
        The CSF columns evaluated.
    groups : tuple of str
        Each domain (sorted) then ``"all"`` (the cases pooled).
    config : dict
        The evaluation's settings (``risk``, ``threshold``, ``binary``, ``n_resamples``,
        ``seed``, ``alpha``, ``rank_metric``, ``case_col``, ``group_col``, ``csfs``); empty
        by default.
    """

    cases: Any  # case, domain, risk, failed, CSFs...
    metrics: Any  # group, csf, n, aurc, eaurc, naurc, augrc, spearman, pearson, failure_auroc...
    rank_distribution: Any  # group, csf, rank, frequency
    csfs: tuple[str, ...]
    groups: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Config plus the metric table as records.

        Returns
        -------
        dict
            ``{"config": dict, "metrics": list of row dicts}``.
        """
        return {"config": dict(self.config), "metrics": self.metrics.to_dicts()}

    def to_frame(self) -> pl.DataFrame:
        """The metric table.

        Returns
        -------
        polars.DataFrame
            :attr:`metrics`.
        """
        return self.metrics

    def best(self, group: str = "all", metric: str = "aurc") -> str:
        """Name of the CSF with the lowest ``metric`` in ``group``.

        Parameters
        ----------
        group : str, default "all"
            A group of :attr:`groups`.
        metric : str, default "aurc"
            A column of :attr:`metrics` where lower is better.

        Returns
        -------
        str
            The first CSF of the group's rows sorted ascending by ``metric``.
        """
        import polars as pl

        t = self.metrics.filter(pl.col("group") == group).sort(metric)
        return str(t["csf"][0])

    def plot_risk_coverage(
        self, group: str = "all", csfs: Sequence[str] | None = None, ax: Any = None
    ):
        """Risk-coverage curves of ``csfs`` (default: all) on ``group``; returns (fig, ax).

        Parameters
        ----------
        group : str, default "all"
            A group of :attr:`groups` (``"all"``: every case).
        csfs : sequence of str, optional
            CSFs to draw; None (default) draws all of :attr:`csfs`.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when None.

        Returns
        -------
        tuple
            ``(fig, ax)`` of :func:`medtrust.selective.plot_risk_coverage`.

        Raises
        ------
        InvalidArgumentError
            ``group`` is not one of :attr:`groups`.
        """
        import polars as pl

        from medtrust.selective import plot_risk_coverage

        if group not in self.groups:
            raise InvalidArgumentError(f"group must be one of {self.groups}, got {group!r}")
        gcol = self.config.get("group_col") or "domain"
        part = self.cases if group == "all" else self.cases.filter(pl.col(gcol) == group)
        names = list(csfs) if csfs is not None else list(self.csfs)
        risk = part["risk"].to_numpy()
        return plot_risk_coverage(
            {c: part[c].to_numpy() for c in names},
            risk,
            ax=ax,
            title=f"{self.config.get('risk', '')} risk, {group}",
            check_range=self.config.get("risk") != "hd95",
        )

    def write(
        self, out: str | Path, *, formats: Sequence[str] | str = ("png",), top_k: int = 3
    ) -> list[Path]:
        """Write every table, summary.json and one risk-coverage plot per group.

        Parameters
        ----------
        out
            Result folder (created).
        formats
            Figure formats: any of "png" (200 dpi, default), "pdf", "svg".
        top_k
            CSFs highlighted in colour in each plot (the rest grey).

        Returns
        -------
        list of Path
            cases.parquet, metrics.parquet, rank_distribution.parquet, summary.json and
            risk_coverage_<group>.<format> (all written atomically); the completion marker
            ``_COMPLETE`` (:func:`medtrust._io.mark_complete`) is written last.
        """
        require("matplotlib", "plot")
        from medtrust._figures import check_formats, save_figure

        formats = check_formats(formats)
        import matplotlib.pyplot as plt
        import polars as pl

        from medtrust import __version__
        from medtrust._io import (
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
            gcol = self.config.get("group_col") or "domain"
            part = self.cases if g == "all" else self.cases.filter(pl.col(gcol) == g)
            fig, _ = plot_highlighted_risk_coverage(
                {c: part[c].to_numpy() for c in self.csfs},
                part["risk"].to_numpy(),
                top_k=min(top_k, len(self.csfs)),
                title=f"{self.config.get('risk', '')} risk, {g} ({part.height} cases)",
                check_range=self.config.get("risk") != "hd95",
            )
            try:
                paths += save_figure(fig, out / f"risk_coverage_{g}", formats=formats)
            finally:
                plt.close(fig)
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


def _check_case_columns(df: Any, risk: str, group_col: str | None) -> None:
    """Name the column at fault (a Dice of 1.5 was reported as "residuals ... min -0.5")."""
    import polars as pl

    n_null = df[group_col].null_count() if group_col is not None else 0
    if n_null:
        raise InvalidValueError(
            f"column {group_col!r} holds {n_null} null value(s); give every case one"
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
    table: Any,
    names: Sequence[str],
    check_range: bool,
    has_failed: bool,
    boot: dict[str, Any],
    gcol: str,
    stack: bool = True,
    token: int = 0,
) -> tuple[dict[tuple[str, str], dict[str, Any]], pl.DataFrame]:
    """Metrics, correlations, failure AUROC and bootstrap of every (group, CSF), one query.

    The groups are each value of ``gcol`` and ``"all"`` (the cases stacked once more under that
    name; only ``"all"`` when ``stack`` is False);
    the metrics and the paired bootstrap (intervals and the resampled ``rank_metric`` values;
    every CSF of a group sees the same resamples) run in Rust through the polars plugin, equal
    to ``selective.metrics`` / ``paired_bootstrap``. Also returns the wide result table.
    ``token`` (from :func:`medtrust._plugin.progress`) counts each finished bootstrap of one
    (group, CSF): two per pair (intervals, resampled values).
    """
    import polars as pl

    from medtrust import _plugin

    kw = _plugin.kwargs("raise", check_range)
    kw_auroc = _plugin.kwargs("raise", True, metric="failure_auroc")
    resampling = dict(n_resamples=boot["n_resamples"], seed=boot["seed"], progress=token)
    kw_ci = _plugin.kwargs(
        "raise", check_range, metrics=["aurc", "augrc"], alpha=float(boot["alpha"]), **resampling
    )
    kw_values = _plugin.kwargs("raise", check_range, metrics=[boot["metric"]], **resampling)
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
        aggs.append(_plugin.call("bootstrap_ci", [conf, risk], kw_ci).alias(f"ci{i}"))
        aggs.append(_plugin.call("bootstrap_values", [conf, risk], kw_values).alias(f"boot{i}"))
    all_rows = table.lazy().with_columns(pl.lit("all").alias(gcol))
    stacked = pl.concat([table.lazy(), all_rows]) if stack else all_rows
    with _plugin.medtrust_errors():
        wide = stacked.group_by(gcol).agg(aggs).collect().rename({gcol: "group"})
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in wide.iter_rows(named=True):
        for i, c in enumerate(names):
            m = row[f"m{i}"]
            out[(row["group"], c)] = {
                "group": row["group"],
                "csf": c,
                "n": row["n"],
                "n_failed": int(row["n_failed"]) if has_failed else None,
                **{k: m[k] for k in _METRICS},
                "spearman": float(row[f"spearman{i}"]),
                "pearson": float(row[f"pearson{i}"]),
                "failure_auroc": row[f"auroc{i}"] if has_failed else math.nan,
                **{f"{k}_{s}": row[f"ci{i}"][f"{k}_{s}"] for k in ("aurc", "augrc")
                   for s in ("low", "high")},
            }  # fmt: skip
    return out, wide


def _rank_tables(
    wide: pl.DataFrame, names: Sequence[str], groups: Sequence[str], metric: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mean ranks and rank distributions of the CSFs in every group, from the resampled values.

    One polars query over all groups (:func:`medtrust.analysis.rank_expr` within each
    (group, resample), :func:`medtrust.analysis.rank_distribution_frame`), equal to
    :func:`medtrust.selective.rank_csfs` on each group.
    """
    import polars as pl

    from medtrust.analysis import rank_distribution_frame, rank_expr
    from medtrust.selective.ranking import _HIGHER_IS_BETTER

    cols = [f"boot{i}" for i in range(len(names))]
    order = pl.DataFrame({"group": list(groups)})
    long = (
        order.join(wide.select("group", *cols), on="group", how="left")
        .explode(cols)
        .with_columns(resample=pl.int_range(pl.len()).over("group"))
        .unpivot(index=["group", "resample"], on=cols, variable_name="csf", value_name="v")
        .with_columns(pl.col("csf").replace_strict(dict(zip(cols, names))))
    )
    ranked = long.with_columns(
        rank=rank_expr(
            "v", over=["group", "resample"], higher_is_better=metric in _HIGHER_IS_BETTER
        )
    )
    mean_rank = ranked.group_by("group", "csf").agg(mean_rank=pl.col("rank").mean())
    dist = rank_distribution_frame(ranked, names, by=["group"], name_col="csf")
    return mean_rank, dist


def evaluate_failure_detection(
    cases: Any,
    *,
    csfs: Any = None,
    csf_prefix: str | None = None,
    case_col: str = "case",
    group_col: str | None = "domain",
    risk: Risk = "dice",
    threshold: float | None = None,
    binary: bool = False,
    n_resamples: int = 500,
    seed: int = 0,
    alpha: float = 0.05,
    rank_metric: str = "aurc",
    progress: bool | None = False,
):
    """Evaluate CSFs as failure detectors of a segmentation model.

    Parameters
    ----------
    cases
        One row per case: the case id, the group (domain), the risk source column (``dice``,
        ``nsd`` or ``hd95``) and the CSF columns (higher = more confident); other columns
        (metadata, strings included) are ignored. A polars DataFrame, a list of dicts, or a
        dict of columns.
    csfs
        The CSF columns: a list of names, or a polars selector / expression
        (``cs.starts_with("csf_")``). One of ``csfs`` and ``csf_prefix`` is required.
    csf_prefix
        Every column whose name starts with it is a CSF.
    case_col
        Column of case ids (default ``"case"``).
    group_col
        Column of groups (e.g. domains; default ``"domain"``): metrics per group and over
        all cases (``"all"``); None: all cases only.
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
    progress
        Progress bar over the bootstraps: it advances inside the one query as each (group,
        CSF) bootstrap finishes (intervals and rank resamples: two units each); None: on when
        stderr is a terminal.

    Returns
    -------
    FailureDetectionResult
        ``metrics`` (group x CSF: AURC, e-AURC, NAURC, AUGRC, Spearman, Pearson, failure
        AUROC, bootstrap CIs, mean rank), ``rank_distribution``, ``cases`` (the case table
        with ``risk`` and ``failed``), ``csfs``, ``groups`` and ``config``.

    Examples
    --------
    >>> import polars as pl, polars.selectors as cs
    >>> cases = pl.DataFrame({"case": list("abcdef"), "site": list("xxxyyy"),
    ...     "dice": [0.9, 0.5, 0.8, 0.95, 0.4, 0.7], "csf_a": [0.9, 0.4, 0.7, 1.0, 0.3, 0.6],
    ...     "patient_age": [50, 61, 44, 70, 38, 59], "scanner": list("ABABAB")})
    >>> res = evaluate_failure_detection(cases, csfs=cs.starts_with("csf_"),
    ...     group_col="site", n_resamples=20)
    >>> res.csfs, res.groups
    (('csf_a',), ('x', 'y', 'all'))
    """
    import polars as pl

    check_choice(risk, "risk", RISKS)
    df = _to_polars(cases)
    for name, col in (("case_col", case_col), ("group_col", group_col)):
        if col is not None and not isinstance(col, str):
            raise InvalidArgumentError(f"{name} must be a column name, got {col!r}")
    need = [case_col, *([group_col] if group_col is not None else []), risk]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"cases lack column(s) {missing}; have {df.columns}")
    taken = [*need, *RISKS, *_DERIVED]
    names = _csf_names(df, csfs, csf_prefix, taken)
    if threshold is None and risk == "dice":
        threshold = 0.75
    if binary and threshold is None:
        raise InvalidArgumentError("binary=True needs a threshold")
    _check_case_columns(df, risk, group_col)
    src = df[risk].cast(pl.Float64)
    cont = src if risk == "hd95" else 1.0 - src
    failed = None
    if threshold is not None:
        failed = (src > threshold) if risk == "hd95" else (src < threshold)
        failed = failed.cast(pl.Float64)
    residual = failed if binary and failed is not None else cont
    # Without a group column, one group "all"; the internal column name cannot clash with a
    # CSF (those were checked against the columns taken).
    gcol = group_col if group_col is not None else "__group__"
    group_expr = pl.col(group_col).cast(pl.Utf8) if group_col is not None else pl.lit("all")
    table = df.select(case_col, group_expr.alias(gcol), *names).with_columns(
        risk=residual, failed=failed if failed is not None else pl.lit(None, pl.Float64)
    )
    check_range = not (risk == "hd95" and not binary)
    domains = sorted(set(table[gcol].to_list())) if group_col is not None else []
    groups = [*domains, "all"]
    from medtrust import _plugin
    from medtrust._io import progress_enabled
    from medtrust._plugin import METRICS
    from medtrust.selective.bootstrap import _check_common

    check_choice(rank_metric, "rank_metric", METRICS)
    _check_common(n_resamples, alpha, seed)
    boot = {"metric": rank_metric, "n_resamples": n_resamples, "seed": seed, "alpha": alpha}
    units = 2 * len(groups) * len(names)
    with _plugin.progress(units, "bootstrap (group x CSF)", progress_enabled(progress)) as token:
        scores, wide = _group_scores(
            table, names, check_range, failed is not None, boot, gcol, group_col is not None, token
        )
    mean_rank, rank_table = _rank_tables(wide, names, groups, rank_metric)
    ranks_of = {(g, c): r for g, c, r in mean_rank.iter_rows()}
    rows = []
    all_pass: list[str] = []
    all_fail: list[str] = []
    for g in groups:
        for c in names:
            row = dict(scores[(g, c)])
            cis = {k: row.pop(k) for k in _CI_COLUMNS}
            rows.append({**row, "mean_rank": float(ranks_of[(g, c)]), **cis})
        n_failed, n = scores[(g, names[0])]["n_failed"], scores[(g, names[0])]["n"]
        if n_failed is not None and n_failed in (0, n):
            (all_fail if n_failed else all_pass).append(f"{g!r} ({n} cases)")
    for kind, gs in (("fails", all_fail), ("passes", all_pass)):
        if gs:
            warnings.warn(
                f"every case {kind} the threshold in group(s) {', '.join(gs)}; failure AUROC "
                "is NaN there",
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
        "case_col": case_col,
        "group_col": group_col,
        "csfs": list(names),
    }
    return FailureDetectionResult(
        table, pl.DataFrame(rows), rank_table, tuple(names), tuple(groups), config
    )
