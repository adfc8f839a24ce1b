"""Evaluate CSFs on a polars DataFrame: one row per (group, CSF) with every metric.

This is how papers compare many CSFs across datasets and shifts.

Examples
--------
>>> import polars as pl
>>> from medtrust.selective import evaluate
>>> df = pl.DataFrame({"msr": [0.9, 0.8, 0.8, 0.3], "failed": [0, 1, 0, 1], "ds": ["a"] * 4})
>>> evaluate(df, confid="msr", residual="failed", by=["ds"]).select("ds", "csf", "aurc").row(0)
('a', 'msr', 0.1875)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medtrust._arrays import NanPolicy
from medtrust.exceptions import EmptyInputError, InvalidArgumentError, MedtrustWarning

if TYPE_CHECKING:
    import polars as pl

__all__ = ["evaluate"]

_CI_METRICS = ("aurc", "augrc", "eaurc", "naurc", "failure_auroc")


def evaluate(
    df: Any,
    *,
    confid: str | Sequence[str],
    residual: str,
    by: Sequence[str] = (),
    labels: str | None = None,
    ci: bool = False,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    nan_policy: NanPolicy = "raise",
    check_range: bool = True,
) -> pl.DataFrame:
    """Every selective metric per group and CSF, in one polars query.

    One ``group_by(by).agg(...)`` query: each CSF is one call of the Rust plugin that gets every
    group at once and computes them in parallel (see :mod:`medtrust.polars`); no Python loop
    over groups, and each row equals :func:`~medtrust.selective.metrics` on that group bit for
    bit.

    Parameters
    ----------
    df
        polars DataFrame or LazyFrame (a pandas one is converted).
    confid
        Column(s) holding confidences; each becomes a ``csf`` value in the output.
    residual
        Column of residuals.
    by
        Grouping columns (e.g. dataset, domain); groups come out sorted by their text.
    labels
        Optional class-label column for the balanced metrics.
    ci
        Add ``<metric>_low`` / ``<metric>_high`` percentile-bootstrap CIs for the main metrics,
        equal to :func:`~medtrust.selective.paired_bootstrap` with the same ``seed`` (every CSF
        of a group sees the same resamples). With ``nan_policy="omit"`` the intervals use the rows
        valid for every CSF of the call (the union of NaN rows is dropped, as
        ``paired_bootstrap`` does), so resample ``i`` points at the same cases for every CSF.
    nan_policy
        As :func:`~medtrust.selective.metrics`; with ``"omit"`` one warning gives the total of
        dropped rows.
    n_resamples
        Number of bootstrap resamples.
    alpha
        Two-sided level: intervals are ``1 - alpha`` intervals.
    seed
        Seed of the random generator (results are identical for any thread count).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    polars.DataFrame
        One row per (group, CSF): the ``by`` columns, ``csf`` and every metric of
        :data:`METRIC_NAMES` (plus ``<metric>_low`` / ``<metric>_high`` with ``ci=True``).
    """
    import polars as pl

    from medtrust import _plugin

    if isinstance(df, pl.LazyFrame):
        columns = df.collect_schema().names()
    else:
        if not isinstance(df, pl.DataFrame):
            try:
                df = pl.from_pandas(df)
            except Exception as e:  # pragma: no cover - depends on the caller's object
                raise InvalidArgumentError(f"df must be a polars DataFrame: {e}") from e
        columns = df.columns
    confs = [confid] if isinstance(confid, str) else list(confid)
    by = list(by)
    needed = [*confs, residual, *by, *([labels] if labels else [])]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InvalidArgumentError(f"columns not in the DataFrame: {missing}; have {columns}")
    kw = _plugin.kwargs(nan_policy, check_range)
    if ci:
        from medtrust.selective.bootstrap import _check_common

        _check_common(n_resamples, alpha, seed)
        kw_ci = dict(kw, metrics=list(_CI_METRICS), n_resamples=n_resamples, seed=seed)
        kw_ci["alpha"] = float(alpha)
    aggs = []
    shared = [*confs, residual, *([labels] if labels else [])]
    # Paired intervals need the same cases for every CSF: rows valid for all of them.
    valid = pl.all_horizontal([pl.col(x).is_not_null() & pl.col(x).is_finite() for x in shared])
    for i, c in enumerate(confs):
        args = [pl.col(c), pl.col(residual), *([pl.col(labels)] if labels else [])]
        aggs.append(_plugin.call("selective_metrics", args, kw).alias(f"__m{i}"))
        if ci:
            ci_args = [a.filter(valid) for a in args] if nan_policy == "omit" else args
            aggs.append(_plugin.call("bootstrap_ci", ci_args, kw_ci).alias(f"__ci{i}"))
    lf = df.lazy()
    query = lf.group_by(by).agg(aggs) if by else lf.select(aggs)
    with _plugin.medtrust_errors():
        wide = query.collect()
    parts = []
    for i, c in enumerate(confs):
        if wide[f"__m{i}"].is_null().any():
            raise EmptyInputError(f"confids {c!r}: a group is empty after dropping NaN")
        cols = [*by, pl.lit(c).alias("csf"), pl.col(f"__m{i}").struct.unnest()]
        if ci:
            ci_fields = [f"{m}_{side}" for m in _CI_METRICS for side in ("low", "high")]
            cols.append(pl.col(f"__ci{i}").struct.field(*ci_fields))
        parts.append(wide.select(*cols).with_columns(__k=pl.lit(i)))
    out = pl.concat(parts).sort([*(pl.col(b).cast(pl.String) for b in by), "__k"])
    out = out.drop("__k")
    dropped = int(out["n_dropped"].sum())
    if dropped:
        warnings.warn(
            f"nan_policy='omit': dropped {dropped} (group, CSF) sample(s) with NaN or inf",
            MedtrustWarning,
            stacklevel=2,
        )
    return out
