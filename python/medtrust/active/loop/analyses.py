"""What nnActive users analyse, as polars tables and figures for ``al report``.

- per-class Dice against the annotated share of the pool and of each class's foreground;
- patch statistics: foreground share per patch, class coverage per round;
- query visualisations: the chosen boxes over image slices;
- FG-Eff fits (nnActive's pooled protocol) with their points;
- Nemenyi critical-difference / mean-rank plot;
- leave-one-seed-out ranking stability (Kendall tau against the all-seed ranking);
- PPM improvement of each strategy over the random baselines.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.loop.analyses import ppm_vs_random
>>> from medtrust.active.metrics import PairwisePenaltyMatrix
>>> m = PairwisePenaltyMatrix(("clasp_pe", "random"), np.array([[0.0, 0.0], [0.75, 0.0]]),
...                           1, 0.05, None, 4, 0)
>>> ppm_vs_random(m).row(0, named=True)["net"]
0.75
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._extras import require
from medtrust._figures import OKABE_ITO

__all__ = [
    "RANDOM_BASELINES",
    "patch_stats",
    "per_class_dice",
    "plot_critical_difference",
    "plot_fg_eff_fits",
    "plot_patch_stats",
    "plot_per_class_dice",
    "plot_queries",
    "ppm_vs_random",
    "seed_stability",
]

#: Strategies counted as random baselines in :func:`ppm_vs_random`.
RANDOM_BASELINES = ("random", "random_fg66", "random_fg33")


def _fg_classes(table: Any) -> list[str]:
    return [c[len("fg_voxels_") :] for c in table.columns if c.startswith("fg_voxels_")]


def per_class_dice(table: Any) -> Any:
    """Per-class Dice per round, mean / std over seeds, as a long table.

    Columns ``setting, strategy, round, class, annotated_fraction, class_fg_fraction,
    dice_mean, dice_std, n_seeds`` (``class_fg_fraction``: share of the pool's voxels of that
    class inside annotated boxes).
    """
    import polars as pl

    frames = []
    for c in _fg_classes(table):
        fx = f"fg_fraction_{c}"
        x2 = pl.col(fx) if fx in table.columns else pl.lit(float("nan"))
        frames.append(
            table.group_by(["setting", "strategy", "round"])
            .agg(
                pl.col("annotated_fraction").mean(),
                x2.cast(pl.Float64).mean().alias("class_fg_fraction"),
                pl.col(f"dice_{c}").mean().alias("dice_mean"),
                pl.col(f"dice_{c}").std().alias("dice_std"),
                pl.len().alias("n_seeds"),
            )
            .with_columns(pl.lit(c).alias("class"))
        )
    if not frames:
        return pl.DataFrame()
    cols = ["setting", "strategy", "round", "class", "annotated_fraction", "class_fg_fraction"]
    return (
        pl.concat(frames)
        .select([*cols, "dice_mean", "dice_std", "n_seeds"])
        .sort(["setting", "class", "strategy", "round"])
    )


def _colors(names: list[str]) -> dict[str, Any]:
    require("matplotlib", "plot")

    return {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(sorted(names))}


def plot_per_class_dice(long: Any) -> tuple[Any, Any]:
    """Per-class Dice curves, one row of panels per (setting, class).

    x: annotated share of the pool (left) and of that class's foreground voxels (right).
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import polars as pl

    keys = long.select(["setting", "class"]).unique().sort(["setting", "class"]).rows()
    fig, axes = plt.subplots(len(keys), 2, figsize=(10, 3.0 * len(keys)), squeeze=False)
    colors = _colors(long["strategy"].unique().to_list())
    for row, (setting, cls) in zip(axes, keys):
        part = long.filter((pl.col("setting") == setting) & (pl.col("class") == cls))
        for s, g in sorted(part.partition_by("strategy", as_dict=True).items()):
            g = g.sort("round")
            m = g["dice_mean"].to_numpy()
            sd = np.nan_to_num(g["dice_std"].fill_null(0.0).to_numpy())
            for ax, xc in ((row[0], "annotated_fraction"), (row[1], "class_fg_fraction")):
                x = g[xc].to_numpy() * 100
                ax.plot(x, m, marker="o", color=colors[s[0]], label=s[0])
                ax.fill_between(x, m - sd, m + sd, color=colors[s[0]], alpha=0.15)
        row[0].set_xlabel("annotated share of the pool (%)")
        row[1].set_xlabel(f"annotated share of the pool's {cls} voxels (%)")
        for ax in row:
            ax.set_ylabel(f"Dice {cls}")
            ax.set_title(f"{setting}: {cls}")
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    return fig, axes


def patch_stats(patches: Any) -> Any:
    """Patch statistics per ``setting, strategy, round``.

    Number of patches, mean / median foreground share per patch, share of patches with any
    foreground, and per class the share of patches containing it (``covers_<class>``).
    """
    import polars as pl

    classes = [c[len("voxels_") :] for c in patches.columns if c.startswith("voxels_")]
    aggs = [
        pl.len().alias("n_patches"),
        pl.col("fg_share").mean().alias("fg_share_mean"),
        pl.col("fg_share").median().alias("fg_share_median"),
        (pl.col("fg_share") > 0).mean().alias("with_fg"),
    ] + [(pl.col(f"voxels_{c}") > 0).mean().alias(f"covers_{c}") for c in classes]
    keys = ["setting", "strategy", "round"]
    return patches.group_by(keys).agg(aggs).sort(keys)


def plot_patch_stats(stats: Any) -> tuple[Any, Any]:
    """Mean foreground share per patch by round (left); class coverage, all rounds (right)."""
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import polars as pl

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = sorted(stats["strategy"].unique().to_list())
    colors = _colors(names)
    agg = stats.group_by(["strategy", "round"]).agg(pl.col("fg_share_mean").mean()).sort("round")
    for s in names:
        g = agg.filter(pl.col("strategy") == s)
        a.plot(g["round"], g["fg_share_mean"] * 100, marker="o", color=colors[s], label=s)
    a.set_xticks(sorted(agg["round"].unique().to_list()))
    a.set_xlabel("round (0 = starting budget)")
    a.set_ylabel("foreground share per patch (%)")
    a.set_title("Patch foreground share")
    a.grid(alpha=0.3)
    a.legend(fontsize=7)
    classes = [c[len("covers_") :] for c in stats.columns if c.startswith("covers_")]
    width = 0.8 / max(len(names), 1)
    for i, s in enumerate(names):
        g = stats.filter(pl.col("strategy") == s)
        vals = [float(g[f"covers_{c}"].mean()) * 100 for c in classes]
        b.bar(np.arange(len(classes)) + i * width, vals, width, color=colors[s], label=s)
    b.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes)
    b.set_ylabel("patches containing the class (%)")
    b.set_title("Class coverage (all rounds)")
    b.legend(fontsize=7)  # the bars' colours, as in the left panel
    fig.tight_layout()
    return fig, (a, b)


def plot_queries(run_dir: Path, ground_truth: Any, *, max_images: int = 3) -> tuple[Any, Any]:
    """The boxes of one run drawn over its images.

    Per image (most boxes first), the slice through the most boxes along the last array axis
    (through-plane for scans), label map underneath, each box outlined in its round's colour.
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from medtrust.active.rounds import read_round
    from medtrust.io.rounds import round_files

    files = round_files(run_dir)
    boxes = [(k, p) for k, f in files for p in read_round(f)]
    by_image: dict[str, list[Any]] = {}
    for k, p in boxes:
        by_image.setdefault(p.image_id, []).append((k, p))
    images = sorted(by_image, key=lambda i: (-len(by_image[i]), i))[:max_images]
    fig, axes = plt.subplots(1, max(len(images), 1), figsize=(4.2 * max(len(images), 1), 4.4))
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("autumn", max(len(files), 1))
    for ax, image_id in zip(axes, images):
        gt = np.asarray(ground_truth(image_id))
        hits = np.zeros(gt.shape[2], int)
        for _, p in by_image[image_id]:
            hits[p.start[2] : p.stop[2]] += 1
        z = int(np.argmax(hits))
        ax.imshow(gt[:, :, z], cmap="gray", interpolation="nearest")
        for k, p in by_image[image_id]:
            if p.start[2] <= z < p.stop[2]:
                ax.add_patch(
                    Rectangle(
                        (p.start[1] - 0.5, p.start[0] - 0.5), p.size[1], p.size[0],
                        fill=False, lw=1.5, ec=cmap(k), label=f"round {k}",
                    )
                )  # fmt: skip
        handles = {h.get_label(): h for h in ax.patches}
        ax.legend(handles.values(), handles.keys(), fontsize=7, loc="upper right")
        ax.set_title(f"{image_id}: slice {z} ({hits[z]} boxes)", fontsize=9)
        ax.set_xlabel("array axis 1")
        ax.set_ylabel("array axis 0")
    fig.suptitle(f"Queried boxes over ground-truth labels: {run_dir.parent.name}", fontsize=10)
    fig.tight_layout()
    return fig, axes


def plot_fg_eff_fits(table: Any, fits: Any) -> tuple[Any, Any]:
    """Points (all seeds and rounds) and the pooled FG-Eff fit per strategy, per setting."""
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import polars as pl

    settings = sorted(fits["setting"].unique().to_list())
    fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4), squeeze=False)
    colors = _colors(fits["strategy"].unique().to_list())
    for ax, setting in zip(axes[0], settings):
        for r in fits.filter(pl.col("setting") == setting).iter_rows(named=True):
            pts = table.filter(
                (pl.col("setting") == setting) & (pl.col("strategy") == r["strategy"])
            )
            x, d = pts["fg_fraction"].to_numpy(), pts["dice_mean"].to_numpy()
            c = colors[r["strategy"]]
            ax.scatter(x * 100, d, s=14, color=c, alpha=0.6)
            label = r["strategy"]
            if r["status"] == "ok":
                xs = np.linspace(float(x.min()), float(x.max()), 100)
                ys = -r["a"] * np.exp(-r["fg_eff"] * (xs - r["x0"])) + r["c"]
                ax.plot(xs * 100, ys, color=c)
                label += f": b = {r['fg_eff']:.2f} ± {r['fg_eff_se']:.2f}"
            else:
                label += f": {r['status']}"
            ax.plot([], [], color=c, label=label)
            if r["c"] is not None and not math.isnan(r["c"]):
                ax.axhline(r["c"], color="k", ls="--", lw=0.8)
        ax.set_xlabel("annotated share of the pool's foreground (%)")
        ax.set_ylabel("mean foreground Dice")
        ax.set_title(f"{setting}: FG-Eff, pooled fit (b ± SE)", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig, axes


def plot_critical_difference(ranking: Any) -> tuple[Any, Any]:
    """Mean ranks on a line with the Nemenyi critical difference (CD).

    Strategies whose mean ranks differ by less than CD are joined by a bar (not significantly
    different).
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt

    mr = ranking.mean_rank.sort("mean_rank")
    names, ranks = mr["strategy"].to_list(), mr["mean_rank"].to_numpy()
    k = len(names)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.35 * k))
    cd = ranking.critical_difference
    ax.set_xlim(0.5, max(k, 1 + cd if math.isfinite(cd) else k) + 0.5)
    ax.set_ylim(-(k + 2), 1.5)
    ax.hlines(0, 1, k, color="k")
    for i in range(1, k + 1):
        ax.vlines(i, -0.1, 0.1, color="k")
        ax.text(i, 0.25, str(i), ha="center", fontsize=8)
    for i, (n, r) in enumerate(zip(names, ranks)):
        label_y = -(i + 1)
        ax.plot([r, r], [0, label_y], color="C0", lw=0.8)
        ax.plot(r, 0, "o", color="C0")
        ax.text(r + 0.05, label_y, f"{n} ({r:.2f})", va="center", fontsize=8)
    if math.isfinite(cd):
        ax.plot([1, 1 + cd], [1.0, 1.0], color="r", lw=2)
        ax.text(1 + cd / 2, 1.15, f"CD = {cd:.2f}", ha="center", fontsize=8, color="r")
        bar_y = -(k + 1.0)
        for i in range(k):
            j = max(j for j in range(k) if ranks[j] - ranks[i] < cd)
            if j > i:
                ax.plot([ranks[i], ranks[j]], [bar_y, bar_y], color="k", lw=3, alpha=0.6)
                bar_y -= 0.3
    p = ranking.friedman_pvalue
    ax.set_title(
        f"Mean rank by {ranking.metric} over {ranking.n_blocks} block(s) (1 = best); "
        f"Friedman p = {'n/a' if math.isnan(p) else f'{p:.3g}'}",
        fontsize=9,
    )
    ax.axis("off")
    fig.tight_layout()
    return fig, ax


def seed_stability(per_seed: Any, *, metric: str = "aubc") -> Any:
    """Leave-one-seed-out ranking stability per setting.

    For each seed left out, strategies are ranked by the mean ``metric`` of the other seeds
    and compared with the all-seed ranking by Kendall's tau-b (ties as scipy treats them).
    Returns ``setting, left_out_seed, kendall_tau, best, best_all_seeds`` (empty with fewer
    than three seeds or two strategies).
    """
    import polars as pl
    from scipy.stats import kendalltau

    rows = []
    for (setting,), sdf in sorted(per_seed.partition_by("setting", as_dict=True).items()):
        seeds = sorted(sdf["seed"].unique().to_list())
        strategies = sorted(sdf["strategy"].unique().to_list())
        if len(seeds) < 3 or len(strategies) < 2:
            continue

        full = _strategy_means(sdf, metric, strategies)
        for s in seeds:
            part = _strategy_means(sdf.filter(pl.col("seed") != s), metric, strategies)
            tau = kendalltau(full, part).statistic
            rows.append(
                {
                    "setting": setting,
                    "left_out_seed": s,
                    "kendall_tau": float(tau),
                    "best": strategies[int(np.nanargmax(part))],
                    "best_all_seeds": strategies[int(np.nanargmax(full))],
                }
            )
    schema = {
        "setting": pl.Utf8,
        "left_out_seed": pl.Int64,
        "kendall_tau": pl.Float64,
        "best": pl.Utf8,
        "best_all_seeds": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


def _strategy_means(df: Any, metric: str, strategies: list[str]) -> np.ndarray:
    import polars as pl

    g = df.group_by("strategy").agg(pl.col(metric).cast(pl.Float64).mean())
    d = dict(zip(g["strategy"].to_list(), g[metric].to_list()))
    return np.array([d.get(s, np.nan) for s in strategies], dtype=float)


def ppm_vs_random(ppm: Any, baselines: tuple[str, ...] = RANDOM_BASELINES) -> Any:
    """PPM improvement of each strategy over the random baselines present.

    ``better``: share of budgets (summed over settings) where the strategy is significantly
    better than the baseline; ``worse``: the reverse; ``net = better - worse``.
    """
    import polars as pl

    idx = {s: i for i, s in enumerate(ppm.strategies)}
    rows = []
    for s in ppm.strategies:
        if s in baselines:
            continue
        for b in baselines:
            if b in idx:
                better = float(ppm.matrix[idx[b], idx[s]])
                worse = float(ppm.matrix[idx[s], idx[b]])
                rows.append(
                    {"strategy": s, "baseline": b, "better": better, "worse": worse,
                     "net": better - worse}
                )  # fmt: skip
    schema = {
        "strategy": pl.Utf8,
        "baseline": pl.Utf8,
        "better": pl.Float64,
        "worse": pl.Float64,
        "net": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
