"""medtrust metrics as polars expressions, computed in Rust inside the polars engine.

(Over 400 lines because it is one namespace: a thin function per metric, each with its own
runnable example, plus the ``mt`` methods that mirror them.)

The expressions are aggregations: in ``group_by(...).agg(...)`` they give one value per group,
in ``select`` one value for the frame, with ``.over(...)`` one value per window broadcast to
its rows; they work in lazy queries and the streaming engine alike. A group's values equal
:func:`medtrust.selective.metrics` on that group's rows bit for bit (the same Rust kernels).

Import as ``import medtrust.polars as mt``: functions take column names or expressions
(``mt.aurc("conf", "failed")``), and importing registers the ``mt`` namespace on
``pl.Expr`` (``pl.col("conf").mt.aurc("failed")``).

Missing values
--------------
A null counts as NaN. Each group follows ``nan_policy`` like the eager functions:

- ``"raise"`` (default): a null / NaN / inf in the confidence, residual or label column of a
  group fails the query with :class:`~medtrust.exceptions.NaNInputError`;
- ``"omit"``: such rows are dropped (``n_dropped`` in :func:`selective_metrics` counts them;
  no warning is emitted from inside a query);
- ``"propagate"``: every metric of that group is NaN (``bootstrap_ci`` raises instead, as
  :func:`medtrust.selective.paired_bootstrap` does).

An empty group (or one emptied by ``"omit"``) gives null where the eager functions raise
:class:`~medtrust.exceptions.EmptyInputError`, so one empty group does not fail a whole
analysis. Metrics undefined on a group (AUROC with one class, ECE of confidences outside
[0, 1]) are NaN, as in :func:`medtrust.selective.metrics`, without a warning.

Errors raised inside a query reach Python as ``polars.exceptions.ComputeError`` whose message
starts with ``medtrust[<class>]``; :func:`collect` (and :func:`medtrust_errors`) re-raise them
as that class of :mod:`medtrust.exceptions`. Invalid options (``nan_policy``, ``bins``,
``metric``, ``alpha`` ...) raise when the expression is built, before any work.

Examples
--------
>>> import polars as pl
>>> import medtrust.polars as mt
>>> df = pl.DataFrame({"model": ["a"] * 4 + ["b"] * 2,
...                    "conf": [0.9, 0.8, 0.8, 0.3, 0.6, 0.4], "failed": [0, 1, 0, 1, 0, 1]})
>>> df.group_by("model").agg(mt.aurc("conf", "failed"), mt.augrc("conf", "failed")).sort("model")
shape: (2, 3)
┌───────┬────────┬─────────┐
│ model ┆ aurc   ┆ augrc   │
│ ---   ┆ ---    ┆ ---     │
│ str   ┆ f64    ┆ f64     │
╞═══════╪════════╪═════════╡
│ a     ┆ 0.1875 ┆ 0.15625 │
│ b     ┆ 0.125  ┆ 0.125   │
└───────┴────────┴─────────┘
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from medtrust._arrays import check_choice
from medtrust._plugin import METRICS, POLARS_TESTED, call, kwargs, medtrust_errors
from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "METRICS",
    "POLARS_TESTED",
    "aubc",
    "augrc",
    "augrc_ba",
    "aurc",
    "aurc_ba",
    "bootstrap_ci",
    "collect",
    "coverage_at_risk",
    "eaugrc",
    "eaurc",
    "ece",
    "failure_auroc",
    "fpr_at_tpr",
    "medtrust_errors",
    "metric",
    "naurc",
    "risk_at_coverage",
    "risk_coverage_curve",
    "selective_metrics",
]

IntoExpr = str | pl.Expr


def _expr(x: IntoExpr, name: str) -> pl.Expr:
    if isinstance(x, str):
        return pl.col(x)
    if isinstance(x, pl.Expr):
        return x
    raise InvalidArgumentError(f"{name} must be a column name or a polars expression, got {x!r}")


def _args(confids: IntoExpr, residuals: IntoExpr, labels: IntoExpr | None) -> list[pl.Expr]:
    args = [_expr(confids, "confids"), _expr(residuals, "residuals")]
    if labels is not None:
        args.append(_expr(labels, "labels"))
    return args


def selective_metrics(
    confids: IntoExpr,
    residuals: IntoExpr,
    *,
    labels: IntoExpr | None = None,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> pl.Expr:
    """Every metric of :class:`~medtrust.selective.SelectiveMetrics` as one struct per group.

    Fields: :data:`METRICS` (f64), ``n`` and ``n_dropped`` (i64); the struct is named after
    the confidence column (``.struct.unnest()`` or ``.struct.field("aurc")`` to read it).
    Options as :func:`medtrust.selective.metrics`.

    Examples
    --------
    >>> import polars as pl
    >>> import medtrust.polars as mt
    >>> df = pl.DataFrame({"conf": [0.9, 0.8, 0.7, 0.3], "failed": [0, 1, 0, 1]})
    >>> m = df.select(mt.selective_metrics("conf", "failed")).unnest("conf")
    >>> round(m["aurc"].item(), 6), m["augrc"].item(), m["n"].item()
    (0.270833, 0.1875, 4)
    """
    kw = kwargs(nan_policy, check_range, tpr=tpr, coverage=coverage, risk=risk, bins=bins)
    return call("selective_metrics", _args(confids, residuals, labels), kw)


def metric(
    name: str,
    confids: IntoExpr,
    residuals: IntoExpr,
    *,
    labels: IntoExpr | None = None,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> pl.Expr:
    """One metric of :data:`METRICS` per group, named ``name``.

    Examples
    --------
    >>> import polars as pl
    >>> import medtrust.polars as mt
    >>> df = pl.DataFrame({"conf": [0.9, 0.8, 0.8, 0.3], "failed": [0, 1, 0, 1]})
    >>> df.select(mt.metric("failure_auroc", "conf", "failed")).item()
    0.875
    """
    check_choice(name, "metric", METRICS)
    kw = kwargs(
        nan_policy, check_range, tpr=tpr, coverage=coverage, risk=risk, bins=bins, metric=name
    )
    return call("risk_metric", _args(confids, residuals, labels), kw).alias(name)


def aurc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """AURC per group (see :func:`medtrust.selective.aurc`; options as :func:`metric`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.aurc("c", "f")).item()
    0.1875
    """
    return metric("aurc", confids, residuals, **options)


def augrc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """AUGRC per group (see :func:`medtrust.selective.augrc`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.augrc("c", "f")).item()
    0.15625
    """
    return metric("augrc", confids, residuals, **options)


def eaurc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """Excess AURC per group (see :func:`medtrust.selective.eaurc`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> round(df.select(mt.eaurc("c", "f")).item(), 6)
    0.034074
    """
    return metric("eaurc", confids, residuals, **options)


def eaugrc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """Excess AUGRC per group (see :func:`medtrust.selective.eaugrc`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.eaugrc("c", "f")).item()
    0.03125
    """
    return metric("eaugrc", confids, residuals, **options)


def naurc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """Normalized AURC per group (see :func:`medtrust.selective.naurc`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.7, 0.3], "f": [0, 1, 0, 1]})
    >>> round(df.select(mt.naurc("c", "f")).item(), 6)
    0.338765
    """
    return metric("naurc", confids, residuals, **options)


def failure_auroc(confids: IntoExpr, residuals: IntoExpr, **options: Any) -> pl.Expr:
    """Failure AUROC per group; NaN for one class or continuous residuals.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.failure_auroc("c", "f")).item()
    0.875
    """
    return metric("failure_auroc", confids, residuals, **options)


def fpr_at_tpr(
    confids: IntoExpr, residuals: IntoExpr, tpr: float = 0.95, **options: Any
) -> pl.Expr:
    """FPR at ``tpr`` per group (see :func:`medtrust.selective.fpr_at_tpr`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.fpr_at_tpr("c", "f")).item()
    0.5
    """
    return metric("fpr_at_tpr", confids, residuals, tpr=tpr, **options)


def risk_at_coverage(
    confids: IntoExpr, residuals: IntoExpr, coverage: float, **options: Any
) -> pl.Expr:
    """Selective risk at ``coverage`` per group, named ``selective_risk_at_coverage``.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.risk_at_coverage("c", "f", 0.5)).item()
    0.3333333333333333
    """
    options.setdefault("check_range", False)  # as the eager function
    return metric("selective_risk_at_coverage", confids, residuals, coverage=coverage, **options)


def coverage_at_risk(
    confids: IntoExpr, residuals: IntoExpr, risk: float, **options: Any
) -> pl.Expr:
    """Largest coverage with selective risk <= ``risk`` per group (NaN when none).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.coverage_at_risk("c", "f", 0.4)).item()
    0.75
    """
    options.setdefault("check_range", False)
    return metric("coverage_at_risk", confids, residuals, risk=risk, **options)


def aurc_ba(confids: IntoExpr, residuals: IntoExpr, labels: IntoExpr, **options: Any) -> pl.Expr:
    """Class-balanced AURC per group (see :func:`medtrust.selective.aurc_ba`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.7, 0.3], "f": [0, 0, 1, 1], "y": [0, 0, 1, 1]})
    >>> df.select(mt.aurc_ba("c", "f", "y")).item()
    0.1875
    """
    return metric("aurc_ba", confids, residuals, labels=labels, **options)


def augrc_ba(confids: IntoExpr, residuals: IntoExpr, labels: IntoExpr, **options: Any) -> pl.Expr:
    """Class-balanced AUGRC per group (see :func:`medtrust.selective.augrc_ba`).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.7, 0.3], "f": [0, 0, 1, 1], "y": [0, 0, 1, 1]})
    >>> df.select(mt.augrc_ba("c", "f", "y")).item()
    0.125
    """
    return metric("augrc_ba", confids, residuals, labels=labels, **options)


def ece(confids: IntoExpr, residuals: IntoExpr, bins: int = 20, **options: Any) -> pl.Expr:
    """Expected calibration error per group (NaN unless confidences lie in [0, 1]).

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> round(pl.DataFrame({"c": [0.9, 0.2], "f": [0, 0]}).select(mt.ece("c", "f")).item(), 6)
    0.45
    """
    return metric("ece", confids, residuals, bins=bins, **options)


def risk_coverage_curve(
    confids: IntoExpr,
    residuals: IntoExpr,
    *,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> pl.Expr:
    """The risk-coverage curve per group: a struct of four ``list[f64]`` fields.

    Fields ``coverage``, ``selective_risk``, ``generalized_risk``, ``threshold`` as
    :class:`medtrust.selective.RiskCoverageCurve` (coverage descending to the coverage-0
    end point); ``.struct.unnest()`` then ``.explode(...)`` gives one row per point.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> df = pl.DataFrame({"c": [0.9, 0.8, 0.8, 0.3], "f": [0, 1, 0, 1]})
    >>> df.select(mt.risk_coverage_curve("c", "f")).unnest("c")["coverage"].to_list()
    [[1.0, 0.75, 0.25, 0.0]]
    """
    kw = kwargs(nan_policy, check_range)
    return call("risk_coverage_curve", _args(confids, residuals, None), kw)


def bootstrap_ci(
    confids: IntoExpr,
    residuals: IntoExpr,
    *,
    metric: str | Sequence[str] = "aurc",
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    labels: IntoExpr | None = None,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> pl.Expr:
    """Percentile bootstrap CIs per group, resampled in Rust; a struct ``{m, m_low, m_high}``.

    For each metric ``m`` the struct holds its estimate and interval, equal to
    :func:`medtrust.selective.bootstrap_ci` on the group with the same ``seed``. Resample
    ``b`` draws from its own stream of ``(seed, b)``, so every group and every CSF of a row set
    sees the same draws (CIs of CSFs on the same rows are paired) and results do not depend on
    the thread count. The struct is named after the confidence column.

    Examples
    --------
    >>> import numpy as np, polars as pl, medtrust.polars as mt
    >>> rng = np.random.default_rng(0)
    >>> c = rng.random(500)
    >>> df = pl.DataFrame({"c": c, "f": (rng.random(500) > c).astype(float)})
    >>> ci = df.select(mt.bootstrap_ci("c", "f", metric="augrc", n_resamples=200, seed=1))
    >>> row = ci.unnest("c").row(0, named=True)
    >>> bool(row["augrc_low"] < row["augrc"] < row["augrc_high"])
    True
    """
    names = [metric] if isinstance(metric, str) else list(metric)
    if not names:
        raise InvalidArgumentError("metric must name at least one metric")
    for m in names:
        check_choice(m, "metric", METRICS)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise InvalidArgumentError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    kw = kwargs(
        nan_policy,
        check_range,
        metrics=names,
        n_resamples=n_resamples,
        seed=seed,
        alpha=float(alpha),
    )
    return call("bootstrap_ci", _args(confids, residuals, labels), kw)


def aubc(dice: IntoExpr, x: IntoExpr | None = None) -> pl.Expr:
    """Area under the budget curve of an AL run per group, named ``aubc``.

    Equals :func:`medtrust.active.metrics.aubc` on the group's rows bit for bit (trapezoid
    rule, budgets min-max scaled to [0, 1], ``np.sum``'s pairwise summation). Rows must be in
    round order within each group (``group_by`` keeps the frame's order: sort by round first);
    without ``x`` the rounds are equally spaced. A null or NaN Dice / budget fails the query
    with :class:`~medtrust.exceptions.NaNInputError`, decreasing or constant budgets with
    :class:`~medtrust.exceptions.InvalidArgumentError`; an empty group gives null, a
    one-round group its Dice.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> runs = pl.DataFrame({"strategy": ["random"] * 3 + ["entropy"] * 3,
    ...                      "round": [0, 1, 2] * 2, "dice": [0.5, 0.7, 0.9, 0.6, 0.8, 0.8]})
    >>> runs.sort("round").group_by("strategy").agg(mt.aubc("dice")).sort("strategy").rows()
    [('entropy', 0.75), ('random', 0.7)]
    """
    args = [_expr(dice, "dice"), *([] if x is None else [_expr(x, "x")])]
    return call("aubc", args, kwargs("raise", False)).alias("aubc")


def collect(query: pl.LazyFrame, **options: Any) -> pl.DataFrame:
    """``query.collect(**options)`` with medtrust errors re-raised as medtrust exceptions.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> lf = pl.LazyFrame({"g": [1, 1, 2], "c": [0.9, 0.2, 0.5], "f": [0, 1, 0]})
    >>> mt.collect(lf.group_by("g").agg(mt.augrc("c", "f")).sort("g"))["augrc"].to_list()
    [0.125, 0.0]
    """
    with medtrust_errors():
        return query.collect(**options)


@pl.api.register_expr_namespace("mt")
class MedtrustNamespace:
    """``pl.col("conf").mt.<metric>(residuals, ...)``: the functions above on this column.

    Outputs keep the confidence column's name (polars' rule for expression methods).

    Examples
    --------
    >>> import polars as pl, medtrust.polars  # noqa: F401 (registers .mt)
    >>> df = pl.DataFrame({"msr": [0.9, 0.8, 0.8, 0.3], "failed": [0, 1, 0, 1]})
    >>> df.select(pl.col("msr").mt.aurc("failed")).item()
    0.1875
    """

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def metric(self, name: str, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`metric` of this column (output named after the column)."""
        return metric(name, self._expr, residuals, **options).alias(self._name())

    def _name(self) -> str:
        try:
            return self._expr.meta.output_name()
        except pl.exceptions.ComputeError:  # no single output name (e.g. pl.all())
            return "metric"

    def aurc(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`aurc` of this column."""
        return self.metric("aurc", residuals, **options)

    def augrc(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`augrc` of this column."""
        return self.metric("augrc", residuals, **options)

    def eaurc(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`eaurc` of this column."""
        return self.metric("eaurc", residuals, **options)

    def naurc(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`naurc` of this column."""
        return self.metric("naurc", residuals, **options)

    def failure_auroc(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`failure_auroc` of this column."""
        return self.metric("failure_auroc", residuals, **options)

    def ece(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`ece` of this column."""
        return self.metric("ece", residuals, **options)

    def selective_metrics(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`selective_metrics` of this column."""
        return selective_metrics(self._expr, residuals, **options)

    def risk_coverage_curve(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`risk_coverage_curve` of this column."""
        return risk_coverage_curve(self._expr, residuals, **options)

    def bootstrap_ci(self, residuals: IntoExpr, **options: Any) -> pl.Expr:
        """:func:`bootstrap_ci` of this column."""
        return bootstrap_ci(self._expr, residuals, **options)

    def aubc(self, x: IntoExpr | None = None) -> pl.Expr:
        """:func:`aubc` of this (Dice) column."""
        return aubc(self._expr, x).alias(self._name())
