"""Evaluate CSFs on a polars DataFrame: one row per (group, CSF) with every metric.

This is how papers compare many CSFs across datasets and shifts. One polars query runs the
plugin function ``evaluate_groups`` (``rust/python/src/polars_expr_eval.rs``): every CSF of a
group in one task, all groups in parallel in Rust. When the rows of each group are contiguous
in a DataFrame (the usual layout of a results table), groups are the runs of
``pl.struct(by).rle()``, whose lengths reach Rust as keyword arguments, and each group a slice
of the columns: no hash ``group_by`` and no per-group copy (implode); otherwise the query is
``group_by(by).agg(...)`` over imploded rows.

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
    progress: bool | None = False,
) -> pl.DataFrame:
    """Every selective metric per group and CSF, in one polars query.

    One query of the Rust plugin gets every group and CSF at once and computes the groups in
    parallel (see the module docs and :mod:`medtrust.polars`); no Python loop over groups, and
    each row equals :func:`~medtrust.selective.metrics` on that group bit for bit.

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
    progress
        With ``ci``: a progress bar that advances as each (group, CSF) bootstrap finishes inside
        the query; None: on when stderr is a terminal (:func:`medtrust._io.progress_enabled`).

    Returns
    -------
    polars.DataFrame
        One row per (group, CSF): the ``by`` columns, ``csf`` and every metric of
        :data:`METRIC_NAMES` (plus ``<metric>_low`` / ``<metric>_high`` with ``ci=True``).
    """
    import polars as pl

    from medtrust import _plugin
    from medtrust._io import progress_enabled

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
    kw = _plugin.kwargs(nan_policy, check_range, names=confs, has_labels=labels is not None, ci=ci)
    if ci:
        from medtrust.selective.bootstrap import _check_common

        _check_common(n_resamples, alpha, seed)
        kw.update(metrics=list(_CI_METRICS), n_resamples=n_resamples, seed=seed)
        kw["alpha"] = float(alpha)
    values = [pl.col(c) for c in (*confs, residual, *([labels] if labels else []))]
    runs = _runs(df, by) if isinstance(df, pl.DataFrame) and by else None
    show = ci and progress_enabled(progress)
    n_groups = (runs[0].height if runs is not None else _n_groups(df, by)) if show else 0
    with _plugin.progress(n_groups * len(confs), "bootstrap (group x CSF)", show) as token:
        kw["progress"] = token
        if not by:
            query = df.lazy().select(_plugin.call("evaluate_groups", values, kw).alias("__m"))
        elif runs is not None:
            # Contiguous groups: the runs are the groups (see the module docs); their keys and
            # lengths are those `_runs` found (no second pass over the keys, no run id a row).
            run_keys, kw["run_lengths"] = runs
            m = _plugin.call_columns("evaluate_groups", values, kw)
            query = pl.concat([run_keys.lazy(), df.lazy().select(m.alias("__m"))], how="horizontal")
        else:
            m = _plugin.call("evaluate_groups", values, kw)
            query = df.lazy().group_by(by).agg(m.alias("__m"))
        if by:
            query = query.sort([pl.col(b).cast(pl.String) for b in by], maintain_order=True)
        # A DataFrame is already in memory: polars' streaming engine (its default for
        # `collect` since 2.0) would cut it into morsels and concatenate them again (a copy of
        # every column) before the plugin, which needs whole groups; in-memory passes the
        # columns as they are. A LazyFrame keeps the engine polars picks (e.g. streaming a
        # Parquet scan larger than memory).
        engine = "in-memory" if isinstance(df, pl.DataFrame) else "auto"
        with _plugin.medtrust_errors():
            out = query.explode("__m").unnest("__m").collect(engine=engine)
    empty = out.filter(pl.col("n").is_null())
    if empty.height:
        c = empty["csf"][0]
        raise EmptyInputError(f"confids {c!r}: a group is empty after dropping NaN")
    dropped = int(out["n_dropped"].sum())
    if dropped:
        warnings.warn(
            f"nan_policy='omit': dropped {dropped} (group, CSF) sample(s) with NaN or inf",
            MedtrustWarning,
            stacklevel=2,
        )
    return out


def _runs(df: pl.DataFrame, by: list[str]) -> tuple[pl.DataFrame, list[int]] | None:
    """The groups' keys (a row per group) and row counts if each group is one run, else None.

    Keys and counts are in row order. One pass comparing neighbouring keys plus a hash of the
    run keys only: a few ms on millions of rows, against a hash ``group_by`` and a copy of
    every group.

    >>> import polars as pl
    >>> keys, lengths = _runs(pl.DataFrame({"g": [1, 1, 2]}), ["g"])
    >>> keys["g"].to_list(), lengths
    ([1, 2], [2, 1])
    >>> _runs(pl.DataFrame({"g": [1, 2, 1]}), ["g"]) is None
    True
    """
    import polars as pl

    rle = df.select(pl.struct(by).rle().alias("__r")).unnest("__r")
    if rle["value"].n_unique() != rle.height:
        return None
    return rle.select("value").unnest("value"), rle["len"].to_list()


def _n_groups(df: Any, by: list[str]) -> int:
    import polars as pl

    if not by:
        return 1
    return int(df.lazy().select(pl.struct(by).n_unique()).collect().item())
