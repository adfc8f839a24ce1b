"""Agreement of the judge (or any metric) with human ratings: Kendall tau-b and Spearman rho.

A ratings file (CSV, JSONL or Parquet) has ``qid`` and a human score column (``human_score``
by default), optionally a ``rater`` column (several raters are averaged per item) and run
columns (``model, method, seed, baseline``) used for the join when both tables have them.

Examples
--------
>>> import polars as pl
>>> from medtrust.vqa.agreement import agreement
>>> r = pl.DataFrame({"qid": ["1", "2", "3", "4"], "human_score": [1, 2, 4, 5]})
>>> s = pl.DataFrame({"qid": ["1", "2", "3", "4"], "judge_score": [1.0, 3.0, 4.0, 5.0]})
>>> agreement(r, s).select("metric", "n", "kendall_tau", "spearman").row(0)
('judge_score', 4, 1.0, 1.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtrust.analysis import kendall_tau, spearman
from medtrust.exceptions import DatasetError, InvalidArgumentError, UndefinedMetricWarning
from medtrust.io.tables import read_table

if TYPE_CHECKING:
    import polars as pl

__all__ = ["agreement", "read_ratings"]


def read_ratings(path: str | Path) -> pl.DataFrame:
    """Read a ratings (or scores) table from CSV, JSONL, JSON or Parquet.

    Parameters
    ----------
    path
        A CSV, JSONL, JSON or Parquet file.

    Returns
    -------
    polars.DataFrame
        The table as read.
    """
    import polars as pl

    df = read_table(path, formats=("csv", "jsonl", "json", "parquet"), what="ratings")
    if "qid" in df.columns:
        df = df.with_columns(pl.col("qid").cast(pl.String))
    return df


def agreement(
    ratings: Any,
    scores: Any | None = None,
    *,
    human: str = "human_score",
    metrics: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Kendall tau-b and Spearman rho of each metric column against the human ratings.

    Parameters
    ----------
    ratings
        Table or file with ``qid`` and ``human`` (and optionally ``rater`` and run columns).
    scores
        Table or file with ``qid`` and the metric columns; ``None`` when ``ratings`` already
        holds them.
    human
        Human score column.
    metrics
        Columns to compare; default ``judge_score`` plus every token metric present.

    Returns
    -------
    polars.DataFrame
        ``metric, n, kendall_tau, kendall_p, spearman, spearman_p``; items with a null score
        are left out and the count is in ``n_missing``. A constant column gives NaN with an
        :class:`~medtrust.exceptions.UndefinedMetricWarning`.
    """
    import polars as pl

    from medtrust.vqa.metrics import METRIC_NAMES

    r = read_ratings(ratings) if isinstance(ratings, (str, Path)) else ratings
    for c in ("qid", human):
        if c not in r.columns:
            raise DatasetError(f"ratings lack the column {c!r}; have {r.columns}")
    r = r.with_columns(pl.col("qid").cast(pl.String))
    run_cols = [c for c in ("model", "method", "seed", "baseline") if c in r.columns]
    if scores is not None:
        s = read_ratings(scores) if isinstance(scores, (str, Path)) else scores
        s = s.with_columns(pl.col("qid").cast(pl.String))
        run_cols = [c for c in run_cols if c in s.columns]
    key = ["qid", *run_cols]
    human_mean = r.group_by(key).agg(pl.col(human).cast(pl.Float64).mean().alias("__human"))
    if scores is None:
        extra = [c for c in r.columns if c not in (*key, human, "rater")]
        s = r.group_by(key).agg([pl.col(c).first() for c in extra])
    joined = human_mean.join(s, on=key, how="inner")
    if joined.height == 0:
        raise DatasetError("no qid of the ratings is in the scores table")
    if metrics is None:
        metrics = [m for m in ("judge_score", *METRIC_NAMES) if m in joined.columns]
    if not metrics:
        raise InvalidArgumentError("no metric column to compare; pass metrics=[...]")
    rows = []
    for m in metrics:
        if m not in joined.columns:
            raise InvalidArgumentError(f"metric column {m!r} not in the scores; have {s.columns}")
        sub = joined.select("__human", pl.col(m).cast(pl.Float64)).drop_nulls().drop_nans()
        x, y = sub["__human"].to_numpy(), sub[m].to_numpy()
        row: dict[str, Any] = {"metric": m, "n": len(x), "n_missing": joined.height - len(x)}
        if len(x) < 2 or (x == x[0]).all() or (y == y[0]).all():
            warnings.warn(
                f"agreement for {m!r} is undefined (n={len(x)} or a constant column); NaN",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            row.update(kendall_tau=float("nan"), kendall_p=float("nan"))
            row.update(spearman=float("nan"), spearman_p=float("nan"))
        else:
            kt, sp = kendall_tau(x, y), spearman(x, y)
            row.update(kendall_tau=float(kt.statistic), kendall_p=float(kt.pvalue))
            row.update(spearman=float(sp.statistic), spearman_p=float(sp.pvalue))
        rows.append(row)
    return pl.DataFrame(rows)
