"""``al report``: curves, PPM, rankings and nnActive's analyses (tables and figures).

Written to ``out/report``: ``metrics.parquet`` (per seed), ``summary.parquet``,
``fg_eff_pooled.parquet`` + ``fg_eff_fits.png`` (nnActive's FG-Eff protocol: one fit per
strategy over all seeds and rounds, with its standard error), ``ppm.png`` / ``ppm.json`` /
``ppm_summary.parquet`` (mean row), ``ppm_vs_random.parquet``, ``ranking.json`` +
``ranking_cd.png`` (Nemenyi critical difference), ``seed_stability.parquet`` (leave-one-seed-out
Kendall tau), ``curves.png``, ``per_class_dice.parquet`` + ``per_class_dice.png``,
``patch_stats.parquet`` + ``patch_stats.png``, ``queries.png`` and ``report.md``.

Examples
--------
>>> import polars as pl
>>> from medtrust.active.loop.report import summarize_metrics
>>> t = pl.DataFrame({"setting": ["s"] * 2, "strategy": ["a", "a"], "seed": [0, 1],
...                   "aubc": [0.5, 0.7], "final_dice": [0.6, 0.8], "fg_eff": [None, None]})
>>> summarize_metrics(t)["aubc_mean"].round(3).to_list()
[0.6]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._extras import require
from medtrust._figures import OKABE_ITO
from medtrust.active.loop.config import FULL_DATA
from medtrust.exceptions import MedtrustError
from medtrust.io.tables import read_table

__all__ = ["ALReport", "build_report", "plot_curves", "summarize_metrics"]


def summarize_metrics(per_seed: Any) -> Any:
    """Mean and std over seeds of AUBC, final Dice and FG-Eff per (setting, strategy)."""
    import polars as pl

    aggs = []
    for m in ("aubc", "final_dice", "fg_eff"):
        col = pl.col(m).cast(pl.Float64).fill_nan(None)
        aggs += [col.mean().alias(f"{m}_mean"), col.std().alias(f"{m}_std")]
    return (
        per_seed.group_by(["setting", "strategy"])
        .agg([pl.len().alias("n_seeds"), *aggs])
        .sort(["setting", "aubc_mean"], descending=[False, True])
    )


def _full_dice(table: Any) -> dict[str, float]:
    import polars as pl

    full = (
        table.filter(pl.col("strategy") == FULL_DATA)
        .group_by("setting")
        .agg(pl.col("dice_mean").cast(pl.Float64).mean())
    )
    return {s: float(v) for s, v in full.iter_rows()}


def plot_curves(
    table: Any, *, full_dice: dict[str, float] | None = None, x: str = "annotated_fraction"
) -> tuple[Any, Any]:
    """Mean foreground Dice vs budget per strategy (mean over seeds, band: +-1 std).

    One row of panels per setting; left: ``x`` (default: fraction of pool voxels annotated),
    right: fraction of the pool's foreground annotated. Returns ``(fig, axes)``.
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import polars as pl

    t = table.filter(pl.col("strategy") != FULL_DATA)
    settings = sorted(t["setting"].unique().to_list())
    fig, axes = plt.subplots(len(settings), 2, figsize=(10, 3.6 * len(settings)), squeeze=False)
    strategies = sorted(t["strategy"].unique().to_list())
    colors = {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(strategies)}
    for row, setting in zip(axes, settings):
        st = t.filter(pl.col("setting") == setting)
        for ax, xcol, label in (
            (row[0], x, "annotated fraction of the pool (%)"),
            (row[1], "fg_fraction", "annotated foreground fraction (%)"),
        ):
            for s in strategies:
                g = (
                    st.filter(pl.col("strategy") == s)
                    .group_by("round")
                    .agg(
                        pl.col(xcol).mean().alias("x"),
                        pl.col("dice_mean").mean().alias("m"),
                        pl.col("dice_mean").std().fill_null(0.0).alias("sd"),
                        pl.len().alias("n"),
                    )
                    .sort("round")
                )
                if g.height == 0:
                    continue
                xs = g["x"].to_numpy() * 100
                m = g["m"].to_numpy()
                sd = np.nan_to_num(g["sd"].to_numpy())
                ax.plot(xs, m, marker="o", color=colors[s], label=f"{s} (n={g['n'].max()})")
                ax.fill_between(xs, m - sd, m + sd, color=colors[s], alpha=0.2)
            if full_dice and setting in full_dice:
                ax.axhline(full_dice[setting], color="k", ls="--", lw=1, label="full data")
            ax.set_xlabel(label)
            ax.set_ylabel("mean foreground Dice (held-out)")
            ax.set_title(f"{setting}")
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8)
    fig.tight_layout()
    return fig, axes


@dataclass(frozen=True)
class ALReport:
    """Result of :func:`build_report`."""

    per_seed: Any
    summary: Any
    ppm: Any
    ranking: Any
    files: dict[str, Path]
    lines: list[str]


def _fmt(mean: Any, std: Any, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    s = (
        ""
        if std is None or (isinstance(std, float) and math.isnan(std))
        else f" ± {std:.{digits}f}"
    )
    return f"{mean:.{digits}f}{s}"


def _ground_truth_source(out: Path) -> Any:
    """``image_id -> label map`` from the experiment's array cache (None when absent)."""
    caches = sorted((out / "cache").glob("*/meta.json")) if (out / "cache").is_dir() else []
    if not caches:
        return None

    def gt(image_id: str) -> np.ndarray:
        for meta in caches:
            # round files are on the raw grid: a resampled cache keeps the raw map beside
            for name in (f"{image_id}.raw_gt.npy", f"{image_id}.gt.npy"):
                f = meta.parent / name
                if f.is_file():
                    return np.load(f, mmap_mode="r")
        raise MedtrustError(f"no cached label map of {image_id} below {out / 'cache'}")

    return gt


def _nnactive_analyses(
    out: Path,
    rdir: Path,
    table: Any,
    al: Any,
    per_seed: Any,
    pooled: Any,
    ppm: Any,
    ranking: Any,
) -> dict[str, Path]:
    """Write nnActive's analyses (see the module docstring); returns the files written."""
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import polars as pl

    from medtrust._io import atomic_savefig, atomic_write_parquet
    from medtrust.active.loop import analyses as an

    files: dict[str, Path] = {}

    def fig_to(name: str, fig: Any) -> None:
        files[f"{name}_plot"] = rdir / f"{name}.png"
        atomic_savefig(
            fig, files[f"{name}_plot"], dpi=200, bbox_inches="tight"
        )  # medtrust._figures.DPI
        plt.close(fig)

    def table_to(name: str, df: Any) -> None:
        files[name] = rdir / f"{name}.parquet"
        atomic_write_parquet(files[name], df)

    table_to("fg_eff_pooled", pooled)
    fig_to("fg_eff_fits", an.plot_fg_eff_fits(al, pooled)[0])
    table_to("ppm_summary", ppm.summary_frame())
    table_to("ppm_vs_random", an.ppm_vs_random(ppm))
    fig_to("ranking_cd", an.plot_critical_difference(ranking)[0])
    table_to("seed_stability", an.seed_stability(per_seed))
    long = an.per_class_dice(al)
    if long.height:
        table_to("per_class_dice", long)
        fig_to("per_class_dice", an.plot_per_class_dice(long)[0])
    pfiles = sorted((out / "runs").glob("*/*/seed_*/patches.parquet"))
    if pfiles:
        patches = pl.concat([pl.read_parquet(f) for f in pfiles], how="diagonal_relaxed")
        stats = an.patch_stats(patches.filter(pl.col("strategy") != FULL_DATA))
        table_to("patch_stats", stats)
        fig_to("patch_stats", an.plot_patch_stats(stats)[0])
    gt = _ground_truth_source(out)
    runs = sorted(
        d
        for d in (out / "runs").glob("*/*/seed_*")
        if d.parent.name != FULL_DATA and (d / "loop_000.json").is_file()
    )
    if gt is not None and runs:
        # The run of the first non-random strategy (the most informative picture).
        pick = next((d for d in runs if d.parent.name not in an.RANDOM_BASELINES), runs[0])
        fig_to("queries", an.plot_queries(pick, gt)[0])
    return files


def build_report(
    out: str | Path,
    *,
    report_dir: str | Path | None = None,
    full_dice: float | None = None,
    table: Any = None,
) -> ALReport:
    """Metrics, PPM, rankings, curves and a markdown summary of an experiment folder.

    Parameters
    ----------
    out
        Experiment folder (``results.parquet`` or ``runs/``).
    report_dir
        Where to write (default ``out/report``).
    full_dice
        Full-data Dice for FG-Eff (default: the experiment's full-data runs, if any).
    table
        The per-round table (default: read from ``out``).
    """
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import polars as pl

    from medtrust._io import (
        atomic_savefig,
        atomic_write_json,
        atomic_write_parquet,
        atomic_write_text,
    )
    from medtrust.active.fg_eff_pooled import fg_efficiency_pooled
    from medtrust.active.loop.grid import combine_results
    from medtrust.active.metrics import pairwise_penalty_matrix, rank_strategies, run_metrics

    out = Path(out)
    if table is None:
        f = out / "results.parquet"
        table = read_table(f, what="results") if f.is_file() else combine_results(out)
    rdir = Path(report_dir) if report_dir is not None else out / "report"
    rdir.mkdir(parents=True, exist_ok=True)
    full = _full_dice(table)
    if full_dice is not None:
        full = dict.fromkeys(table["setting"].unique().to_list(), float(full_dice))
    al = table.filter(pl.col("strategy") != FULL_DATA)
    if al.height == 0:
        raise MedtrustError(f"no AL runs in {out}")
    per_seed = run_metrics(al, full_dice=full or None)
    summary = summarize_metrics(per_seed)
    pooled = fg_efficiency_pooled(al, full_dice=full or None)
    summary = summary.join(
        pooled.select(["setting", "strategy", "fg_eff", "fg_eff_se"]).rename(
            {"fg_eff": "fg_eff_pooled", "fg_eff_se": "fg_eff_pooled_se"}
        ),
        on=["setting", "strategy"],
        how="left",
    )
    ppm = pairwise_penalty_matrix(al)
    n_settings = al["setting"].n_unique()
    block = "setting" if n_settings >= 2 else "seed"
    ranking = rank_strategies(per_seed, metric="aubc", block=block)
    files = {
        "metrics": rdir / "metrics.parquet",
        "summary": rdir / "summary.parquet",
        "curves": rdir / "curves.png",
        "ppm": rdir / "ppm.png",
        "ppm_json": rdir / "ppm.json",
        "report": rdir / "report.md",
    }
    atomic_write_parquet(files["metrics"], per_seed)
    atomic_write_parquet(files["summary"], summary)
    atomic_write_json(files["ppm_json"], ppm.to_dict())
    from medtrust._figures import palette_context

    # Strategies and classes in the colourblind-safe palette of every medtrust figure.
    with palette_context():
        fig, _ = plot_curves(table, full_dice=full)
        atomic_savefig(fig, files["curves"], dpi=200, bbox_inches="tight")  # medtrust._figures.DPI
        plt.close(fig)
        fig, _ = ppm.plot()
        atomic_savefig(fig, files["ppm"], dpi=200, bbox_inches="tight")  # medtrust._figures.DPI
        plt.close(fig)
        files.update(_nnactive_analyses(out, rdir, table, al, per_seed, pooled, ppm, ranking))

    lines = [
        "| setting | strategy | seeds | AUBC | final Dice | FG-Eff (pooled ± SE) "
        "| FG-Eff (per seed, mean ± std) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary.iter_rows(named=True):
        lines.append(
            f"| {r['setting']} | {r['strategy']} | {r['n_seeds']} | "
            f"{_fmt(r['aubc_mean'], r['aubc_std'])} | "
            f"{_fmt(r['final_dice_mean'], r['final_dice_std'])} | "
            f"{_fmt(r['fg_eff_pooled'], r['fg_eff_pooled_se'], 2)} | "
            f"{_fmt(r['fg_eff_mean'], r['fg_eff_std'], 2)} |"
        )
    lines += [
        "",
        "FG-Eff (pooled) follows nnActive: one fit per strategy over every seed and round, "
        "a = c - mean Dice at the smallest x; ± is the fit's standard error of b.",
    ]
    lines += [
        "",
        "Full-data Dice (FG-Eff's c): "
        + (
            ", ".join(f"{k}: {v:.3f}" for k, v in sorted(full.items()))
            or "none (add `full_data: true` to the config or pass --full-dice)"
        ),
        "",
    ]
    lines += [
        f"Pairwise penalty matrix ({ppm.n_tests} t-tests, {ppm.n_skipped} pairs skipped "
        "for lack of paired seeds); row i, column j: share of budgets where i is "
        "significantly worse than j:",
        "",
        "| worse \\ better | " + " | ".join(ppm.strategies) + " |",
        "| --- |" + " --- |" * len(ppm.strategies),
    ]
    for i, s in enumerate(ppm.strategies):
        lines.append(
            f"| {s} | "
            + " | ".join(
                "-" if i == j else f"{ppm.matrix[i, j]:.2f}" for j in range(len(ppm.strategies))
            )
            + " |"
        )
    lines.append(
        "| **mean** (higher = better) | " + " | ".join(f"{v:.2f}" for v in ppm.mean_row) + " |"
    )
    fried = "n/a" if math.isnan(ranking.friedman_pvalue) else f"{ranking.friedman_pvalue:.3g}"
    lines += [
        "",
        f"Mean rank by AUBC over {ranking.n_blocks} {block}(s) (Friedman p = {fried}, "
        f"Nemenyi CD = {ranking.critical_difference:.2f}): "
        + ", ".join(
            f"{r['strategy']} {r['mean_rank']:.2f}" for r in ranking.mean_rank.iter_rows(named=True)
        ),
    ]
    atomic_write_text(files["report"], "\n".join(["# AL report", "", *lines]) + "\n")
    atomic_write_text(rdir / "ranking.json", json.dumps(ranking.to_dict(), indent=2, default=float))
    return ALReport(per_seed, summary, ppm, ranking, files, lines)
