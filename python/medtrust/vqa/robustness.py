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
from medtrust._extras import require
from medtrust.exceptions import DatasetError, InvalidArgumentError, UndefinedMetricWarning
from medtrust.io.tables import read_table

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
    """``s_ood / s_iid``; NaN (with a warning) when ``s_iid`` is 0 or either is NaN."""
    if s_iid == 0 or math.isnan(s_iid) or math.isnan(s_ood):
        warnings.warn(
            "relative robustness undefined (S_iid is 0 or NaN)", UndefinedMetricWarning, 2
        )
        return float("nan")
    return s_ood / s_iid


@dataclass(frozen=True)
class RobustnessResult:
    """``per_seed`` and ``summary`` polars DataFrames; ``metric`` names the score used."""

    metric: str
    per_seed: Any
    summary: Any
    n_undefined: int = 0

    def to_frame(self) -> pl.DataFrame:
        """The summary table (mean +- std over seeds)."""
        return self.summary

    def to_dict(self) -> dict[str, Any]:
        """Metric, undefined count and the summary rows."""
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


def plot_robustness(
    summary: Any,
    *,
    value: str = "rr",
    answer_type: str | None = None,
    hue: Sequence[str] = ("model", "method", "baseline"),
    ax: Any = None,
    title: str | None = None,
):  # -> tuple[Figure, Axes]
    """Bars of ``value`` (``rr`` or ``drop``) per shift, one bar per run; error bars = std.

    Parameters
    ----------
    summary
        :attr:`RobustnessResult.summary`.
    answer_type
        Keep only this answer type (``"open"`` / ``"closed"``); default: all, one panel row.
    hue
        Columns whose values label the bars.
    ax
        Axes to draw into (default: a new figure).
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import numpy as np
    import polars as pl

    df = summary
    if answer_type is not None and "answer_type" in df.columns:
        df = df.filter(pl.col("answer_type") == answer_type)
    if df.height == 0:
        raise InvalidArgumentError("nothing to plot (no rows for this answer type)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
    else:
        fig = ax.figure
    xcol = "shift" if "shift" in df.columns else None
    hues = [c for c in hue if c in df.columns]
    if answer_type is None and "answer_type" in df.columns:
        hues.append("answer_type")
    xs = df[xcol].unique(maintain_order=True).to_list() if xcol else ["all"]
    labels = df.select(hues).unique(maintain_order=True).rows() if hues else [()]
    width = 0.8 / max(len(labels), 1)
    n_undefined = 0
    for j, lab in enumerate(labels):
        sub = df
        for c, v in zip(hues, lab):
            sub = sub.filter(pl.col(c) == v)
        means, errs = [], []
        for x in xs:
            row = sub.filter(pl.col(xcol) == x) if xcol else sub
            means.append(_num(row[f"{value}_mean"][0]) if row.height else np.nan)
            errs.append(_num(row[f"{value}_std"][0]) if row.height else np.nan)
        pos = np.arange(len(xs)) - 0.4 + width * (j + 0.5)
        m = np.asarray(means, dtype=float)
        e = np.nan_to_num(np.asarray(errs, dtype=float))
        ok = ~np.isnan(m)
        bars = ax.bar(pos[ok], m[ok], width, yerr=e[ok], capsize=2, label="/".join(map(str, lab)))
        color = bars.patches[0].get_facecolor() if bars.patches else "0.5"
        # an undefined value (S_iid = 0, no scored item) is marked, not drawn as 0
        for p in pos[~ok]:
            ax.text(
                p,
                0.02,
                "n/a",
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=7,
                color=color,
                transform=ax.get_xaxis_transform(),
            )
            n_undefined += 1
    if value == "rr":
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(xs)), [str(x) for x in xs], rotation=15)
    ax.set_ylabel(
        {"rr": "relative robustness (S_ood / S_iid)", "drop": "S_iid - S_ood"}.get(value, value)
    )
    if title:
        ax.set_title(title)
    if len(labels) > 1:
        ax.legend(fontsize=7, ncols=2)
    if n_undefined:
        ax.annotate(
            f"n/a: {value} undefined (S_iid = 0 or no scored item)",
            (0.01, 0.98),
            xycoords="axes fraction",
            va="top",
            fontsize=7,
        )
    fig.tight_layout()
    return fig, ax


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


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
