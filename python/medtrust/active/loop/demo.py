"""Demo step of the AL loop: a **pipeline run**, deliberately printing no strategy ranking.

Why no ranking: a comparison of AL strategies needs converged models, several seeds and
confidence intervals (the paper's protocol: 4 seeds, 5 rounds, 3 budgets). On the 2 CPU cores
a demo may use for a few minutes, the built-in U-Net gets tens of optimiser steps per round;
with that, which strategy ends higher is decided by training noise (an earlier version of this
demo printed clasp_pe below random_fg33, the opposite of the paper). So this step runs every
part of the loop (dataset, starting budget, training an ensemble, inference, querying with two
strategies, resuming, the full-data reference, the report) and reports what ran and how long
it took, not Dice values. For the comparison, run ``medtrust al benchmark`` on a GPU
(:mod:`medtrust.active.loop.benchmark`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

#: The demo's pipeline run (full size); ``QUICK`` overrides it for ``--quick``.
DEMO_CONFIG: dict[str, Any] = {
    "name": "demo",
    "dataset": {
        "synthetic": {"n_cases": 10, "shape": [8, 32, 32], "spacing": [3.0, 1.0, 1.0], "seed": 0}
    },
    "strategies": ["random_fg33", "clasp_pe"],
    "starting_budget": "random_fg33_all_classes",
    "patch_size": [4, 12, 12],
    "query_size": 8,
    "rounds": 3,
    "pooling_stride": [1, 4, 4],
    "patches_per_image": 20,
    "seeds": [0],
    "ensemble_size": 2,
    "full_data": True,
    "full_data_trainer": {"iterations": 30},
    "trainer": {
        "backend": "unet",
        "iterations": 20,
        "batch_size": 2,
        "base_channels": 8,
        "patch_size": [8, 32, 32],
        "device": "cpu",
    },
}

QUICK: dict[str, Any] = {
    "dataset": {
        "synthetic": {"n_cases": 6, "shape": [8, 24, 24], "spacing": [3.0, 1.0, 1.0], "seed": 0}
    },
    "patch_size": [4, 8, 8],
    "query_size": 4,
    "rounds": 2,
    "full_data": False,
    "full_data_trainer": {},
    "trainer": {
        "backend": "unet",
        "iterations": 4,
        "batch_size": 1,
        "base_channels": 4,
        "patch_size": [8, 16, 16],
        "device": "cpu",
    },
}


def demo_config(quick: bool = False) -> Any:
    """The demo's :class:`~medtrust.active.loop.config.ExperimentConfig`.

    Examples
    --------
    >>> cfg = demo_config(quick=True)
    >>> cfg.strategies, cfg.rounds
    (('random_fg33', 'clasp_pe'), 2)
    """
    from medtrust.active.loop.config import ExperimentConfig

    raw = {**DEMO_CONFIG, **(QUICK if quick else {})}
    return ExperimentConfig.from_dict(raw)


def run(out: Path, *, quick: bool = False, progress: bool = False) -> list[str]:
    """Run the pipeline into ``out/active_learning``; returns markdown summary lines."""
    import polars as pl

    from medtrust._io import atomic_write_json
    from medtrust.active.loop.grid import run_grid
    from medtrust.active.loop.report import build_report

    folder = Path(out) / "active_learning"
    cfg = demo_config(quick)
    atomic_write_json(folder / "config.json", cfg.to_dict())
    t0 = time.perf_counter()
    res = run_grid(cfg, folder, workers=1 if quick else 2, progress=progress)
    wall = time.perf_counter() - t0
    if res.failed:
        raise RuntimeError(f"AL demo runs failed: {res.failed}")
    # The report is built to exercise that code path; its numbers are not shown here.
    build_report(folder, table=res.table)
    syn = cfg.dataset["synthetic"]
    trainer = cfg.trainer_settings()
    steps = (
        res.table.group_by("strategy", "seed")
        .agg(
            pl.col("round").max().alias("last_round"),
            pl.col("n_patches").max().alias("patches"),
            pl.col("train_s").sum().alias("train_s"),
            pl.col("query_s").fill_nan(None).sum().alias("query_s"),
        )
        .sort("strategy", "seed")
    )
    lines = [
        "## Active learning loop (pipeline run, no comparison)",
        "",
        f"The AL loop ran end to end: {len(cfg.strategies)} strategies "
        f"({', '.join(f'`{s}`' for s in cfg.strategies)}) x {len(cfg.seeds)} seed(s), "
        f"{cfg.rounds} rounds of {cfg.query_size} patches of {list(cfg.patch_size)} voxels on "
        f"{syn['n_cases']} synthetic {list(syn['shape'])} volumes (25 % held out), an ensemble "
        f"of {cfg.ensemble_size} built-in 3D U-Nets trained for {trainer.iterations} steps per "
        f"round on the CPU{', plus a full-data reference' if cfg.full_data else ''}; "
        f"{len(res.ran)} run(s) took {wall:.0f} s ({len(res.skipped)} already finished).",
        "",
        "| strategy | seed | rounds done | patches annotated | training (s) | querying (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in steps.iter_rows(named=True):
        if r["strategy"] not in cfg.strategies:
            continue  # the full-data reference
        lines.append(
            f"| {r['strategy']} | {r['seed']} | {r['last_round'] + 1} | {r['patches']} | "
            f"{r['train_s']:.1f} | {r['query_s']:.2f} |"
        )
    lines += [
        "",
        f"**This is a pipeline check, not a strategy comparison.** With {trainer.iterations} "
        f"training steps per round and {len(cfg.seeds)} seed(s), the models are far from "
        "converged and no confidence interval can be formed, so which strategy ends higher "
        "would be decided by training noise; no Dice or ranking is printed. The report in "
        "`active_learning/report/` is written to exercise the reporting code; its numbers are "
        "not evidence either. To compare strategies, run the documented benchmark on a GPU: "
        "`medtrust al benchmark --out al_benchmark` (Hippocampus-like synthetic dataset, "
        "4 seeds, 5 rounds, 3 budgets; see `medtrust al benchmark --help`).",
    ]
    return lines
