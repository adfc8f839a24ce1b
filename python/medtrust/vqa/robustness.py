"""Relative robustness RR = S_ood / S_iid per shift, run and question type, over seeds.

For each group (by default shift, model, method, baseline, answer type) and seed: ``S_iid`` and
``S_ood`` are the mean score of the i.i.d. and OOD test items (default: the judge score on its
rubric's scale, as in SURE-VQA: 1-5 for open questions, 0-1 for closed ones), items
whose score is null (judge failures) left out and counted in ``n_missing``;
``rr = S_ood / S_iid`` (equivalently ``1 - (S_iid - S_ood) / S_iid``), ``drop = S_iid - S_ood``.
Over seeds: mean and sample standard deviation (ddof = 1; NaN for one seed) of each. RR is NaN
when ``S_iid`` is 0 or a side has no scored item (with an
:class:`~medtrust.exceptions.UndefinedMetricWarning` and the count of such groups).

Examples
--------
>>> import polars as pl
>>> from medtrust.vqa.robustness import robustness
>>> df = pl.DataFrame({"shift": "s", "model": "m", "method": "lora", "baseline": "none",
...     "seed": [0, 0, 0, 0], "answer_type": "closed", "subset": ["iid", "iid", "ood", "ood"],
...     "judge_score": [1.0, 1.0, 1.0, 0.0]})
>>> robustness(df).summary.select("s_iid_mean", "s_ood_mean", "rr_mean", "drop_mean").row(0)
(1.0, 0.5, 0.5, 0.5)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtrust._deprecation import renamed_kwargs
from medtrust.exceptions import DatasetError, InvalidArgumentError, UndefinedMetricWarning
from medtrust.io.tables import read_table
from medtrust.vqa.plot import plot_robustness  # moved to medtrust.vqa.plot; re-exported

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "DEFAULT_GROUPS",
    "RobustnessResult",
    "default_metric",
    "load_scores",
    "plot_robustness",
    "relative_robustness",
    "robustness",
]

#: Grouping columns of :func:`robustness` (those present are used).
DEFAULT_GROUPS: tuple[str, ...] = ("shift", "model", "method", "baseline", "answer_type")


def relative_robustness(s_iid: float, s_ood: float) -> float:
    """``s_ood / s_iid``; NaN (with a warning) when ``s_iid`` is 0 or either is NaN.

    Parameters
    ----------
    s_iid : float
        Mean score on the i.i.d. test items.
    s_ood : float
        Mean score on the OOD test items (same scale).

    Returns
    -------
    float
        ``s_ood / s_iid``; NaN, with an :class:`~medtrust.exceptions.UndefinedMetricWarning`,
        when ``s_iid`` is 0 or either score is NaN.
    """
    if s_iid == 0 or math.isnan(s_iid) or math.isnan(s_ood):
        warnings.warn(
            "relative robustness undefined (S_iid is 0 or NaN)", UndefinedMetricWarning, 2
        )
        return float("nan")
    return s_ood / s_iid


@dataclass(frozen=True)
class RobustnessResult:
    """``per_seed`` and ``summary`` polars DataFrames; ``metric`` names the score used.

    Attributes
    ----------
    metric : str
        The score column RR was computed on.
    per_seed : polars.DataFrame
        One row per group and seed: ``s_iid``, ``s_ood``, ``n_iid``, ``n_ood``,
        ``n_missing``, ``rr`` (NaN when undefined) and ``drop``.
    summary : polars.DataFrame
        One row per group: ``*_mean`` and ``*_std`` (ddof = 1, over seeds, NaN / null left
        out) of ``s_iid``, ``s_ood``, ``rr`` and ``drop``, ``n_seeds``, the summed counts and
        ``metric``.
    n_undefined : int, default 0
        Number of (group, seed) rows whose RR is undefined.
    """

    metric: str
    per_seed: Any
    summary: Any
    n_undefined: int = 0

    def to_frame(self) -> pl.DataFrame:
        """The summary table (mean +- std over seeds).

        Returns
        -------
        polars.DataFrame
            :attr:`summary`.
        """
        return self.summary

    def to_dict(self) -> dict[str, Any]:
        """Metric, undefined count and the summary rows.

        Returns
        -------
        dict
            ``{"metric": str, "n_undefined": int, "summary": list of row dicts}``.
        """
        return {
            "metric": self.metric,
            "n_undefined": self.n_undefined,
            "summary": self.summary.to_dicts(),
        }


@renamed_kwargs(seed="seed_col")
def robustness(
    scores: Any,
    *,
    metric: str = "judge_score",
    by: Sequence[str] | None = None,
    seed_col: str = "seed",
    subset: str = "subset",
) -> RobustnessResult:
    """RR, S_iid, S_ood and the absolute drop per group and seed, and over seeds.

    Parameters
    ----------
    scores
        Per-item table with ``subset`` (``"iid"`` / ``"ood"``), ``seed``, the ``metric`` column
        and the grouping columns (e.g. the ``scores.parquet`` of ``medtrust vqa evaluate``).
    metric
        Score column (``judge_score``, ``closed_correct``, ``token_f1``, ...); for
        ``closed_*`` metrics only closed questions are used.
    by
        Grouping columns; default those of :data:`DEFAULT_GROUPS` present in ``scores``.
    seed_col
        Column of the run seeds (all 0 when missing); ``seed=`` is its deprecated old name.
    subset
        Column of the ``"iid"`` / ``"ood"`` subset.

    Returns
    -------
    RobustnessResult
        The per-seed and summary tables; ``n_undefined`` counts the (group, seed) rows whose
        RR is NaN (``S_iid`` 0 or a side without scored item, with a warning).

    Raises
    ------
    InvalidArgumentError
        ``metric``, ``subset`` or a column of ``by`` is not in the table.
    DatasetError
        ``subset`` holds a value other than ``"iid"`` / ``"ood"``.
    """
    import polars as pl

    if metric not in scores.columns:
        raise InvalidArgumentError(
            f"score column {metric!r} not in the table; have {scores.columns}"
        )
    for c in (subset,):
        if c not in scores.columns:
            raise InvalidArgumentError(f"the scores need a {c!r} column (iid / ood)")
    groups = [c for c in (DEFAULT_GROUPS if by is None else by) if c in scores.columns]
    if by is not None and len(groups) != len(by):
        missing = [c for c in by if c not in scores.columns]
        raise InvalidArgumentError(f"grouping columns not in the table: {missing}")
    df = scores
    if metric.startswith("closed_") and "answer_type" in df.columns:
        df = df.filter(pl.col("answer_type") == "closed")  # closed-question metrics only
    if seed_col not in df.columns:
        df = df.with_columns(pl.lit(0).alias(seed_col))
    bad = df.filter(~pl.col(subset).is_in(["iid", "ood"]))
    if bad.height:
        raise DatasetError(f"{subset} must be iid or ood; found {bad[subset].unique().to_list()}")
    val = pl.col(metric).cast(pl.Float64)
    agg = df.group_by([*groups, seed_col]).agg(
        val.filter(pl.col(subset) == "iid").mean().alias("s_iid"),
        val.filter(pl.col(subset) == "ood").mean().alias("s_ood"),
        val.filter(pl.col(subset) == "iid").count().alias("n_iid"),
        val.filter(pl.col(subset) == "ood").count().alias("n_ood"),
        val.is_null().sum().alias("n_missing"),
    )
    undefined = pl.col("s_iid").is_null() | pl.col("s_ood").is_null() | (pl.col("s_iid") == 0)
    per_seed = agg.with_columns(
        pl.when(undefined).then(None).otherwise(pl.col("s_ood") / pl.col("s_iid")).alias("rr"),
        (pl.col("s_iid") - pl.col("s_ood")).alias("drop"),
    ).sort([*groups, seed_col])
    n_undefined = int(per_seed.filter(undefined).height)
    if n_undefined:
        warnings.warn(
            f"RR undefined (S_iid = 0 or an empty side) for {n_undefined} (group, seed) rows; "
            "they are NaN and left out of the means",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        per_seed = per_seed.with_columns(pl.col("rr").fill_null(float("nan")))
    stats = []
    for name in ("s_iid", "s_ood", "rr", "drop"):
        col = pl.col(name).filter(pl.col(name).is_not_null() & pl.col(name).is_not_nan())
        stats += [col.mean().alias(f"{name}_mean"), col.std(ddof=1).alias(f"{name}_std")]
    keys: list[Any] = list(groups) or [pl.lit(0).alias("__all")]
    summary = (
        per_seed.group_by(keys)
        .agg(
            *stats,
            pl.col(seed_col).n_unique().alias("n_seeds"),
            pl.col("n_iid").sum(),
            pl.col("n_ood").sum(),
            pl.col("n_missing").sum(),
        )
        .sort(groups or "__all")
    )
    if not groups:
        summary = summary.drop("__all")
    summary = summary.with_columns(pl.lit(metric).alias("metric"))
    return RobustnessResult(
        metric=metric, per_seed=per_seed, summary=summary, n_undefined=n_undefined
    )


def load_scores(folder: str | Path) -> pl.DataFrame:
    """Concatenate every ``scores.parquet`` under ``folder`` (written by ``vqa evaluate``).

    Every folder holding one must carry the completion marker of ``vqa evaluate``; a folder
    left by an interrupted run is refused by name (rerun the evaluation, or delete it).

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder searched recursively, or one scores file read directly.

    Returns
    -------
    polars.DataFrame
        The tables concatenated (``diagonal_relaxed``: missing columns filled with null),
        in sorted path order.

    Raises
    ------
    DatasetError
        No ``scores.parquet`` under ``folder``, or a folder lacks the completion marker.
    """
    import polars as pl

    from medtrust._io import COMPLETE_MARKER, is_complete

    folder = Path(folder)
    if folder.is_file():
        return read_table(folder, what="scores")
    files = sorted(folder.rglob("scores.parquet"))
    if not files:
        raise DatasetError(f"no scores.parquet under {folder} (run `medtrust vqa evaluate`)")
    partial = [str(f.parent) for f in files if not is_complete(f.parent)]
    if partial:
        raise DatasetError(
            f"{len(partial)} result folder(s) lack the {COMPLETE_MARKER} marker (an interrupted "
            f"`medtrust vqa evaluate`?): {', '.join(partial[:5])}; rerun them or remove them"
        )
    return pl.concat([read_table(f, what="scores") for f in files], how="diagonal_relaxed")


def default_metric(scores: Any) -> str:
    """The score column RR is computed on when none is named.

    ``judge_score`` when the table has judge scores (not all null), else ``closed_correct``
    when it has closed questions, else ``token_f1``.

    Examples
    --------
    >>> import polars as pl
    >>> default_metric(pl.DataFrame({"answer_type": ["open"], "token_f1": [0.5],
    ...     "closed_correct": [None]}))
    'token_f1'
    """
    import polars as pl

    cols = scores.columns
    if "judge_score" in cols and scores["judge_score"].null_count() < scores.height:
        return "judge_score"
    if "closed_correct" in cols:
        closed = scores
        if "answer_type" in cols:
            closed = scores.filter(pl.col("answer_type") == "closed")
        if closed.height and closed["closed_correct"].null_count() < closed.height:
            return "closed_correct"
    if "token_f1" in cols:
        return "token_f1"
    raise InvalidArgumentError(f"no score column (judge_score, closed_correct, token_f1) in {cols}")
