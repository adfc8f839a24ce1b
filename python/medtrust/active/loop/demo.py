"""Demo step of the AL loop: ``random_fg33`` vs ``clasp_pe`` on the synthetic dataset.

Two seeds, a few rounds, the built-in U-Net on the CPU (two worker processes), plus a
full-data reference per seed for FG-Eff. ``quick`` shrinks everything for the tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

#: The demo's experiment (full size); ``QUICK`` overrides it for ``--quick``.
DEMO_CONFIG: dict[str, Any] = {
    "name": "demo",
    "dataset": {
        "synthetic": {"n_cases": 16, "shape": [16, 48, 48], "spacing": [3.0, 1.0, 1.0], "seed": 0}
    },
    "strategies": ["random_fg33", "clasp_pe"],
    "starting_budget": "random_fg33_all_classes",
    "patch_size": [4, 12, 12],
    "query_size": 10,
    "rounds": 4,
    "pooling_stride": [1, 4, 4],
    "patches_per_image": 20,
    "seeds": [0, 1],
    "ensemble_size": 2,
    "full_data": True,
    "full_data_trainer": {"iterations": 600},
    "trainer": {
        "backend": "unet",
        "iterations": 200,
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
    """The demo's :class:`~medtrust.active.loop.config.ExperimentConfig`."""
    from medtrust.active.loop.config import ExperimentConfig

    raw = {**DEMO_CONFIG, **(QUICK if quick else {})}
    return ExperimentConfig.from_dict(raw)


def run(out: Path, *, quick: bool = False, progress: bool = False) -> list[str]:
    """Run the comparison into ``out/active_learning``; returns markdown summary lines."""
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
    rep = build_report(folder, table=res.table)
    syn = cfg.dataset["synthetic"]
    return [
        "## Active learning (3D segmentation)",
        "",
        f"{len(cfg.strategies)} strategies x {len(cfg.seeds)} seeds, {cfg.rounds} rounds of "
        f"{cfg.query_size} patches of {list(cfg.patch_size)} voxels on {syn['n_cases']} "
        f"synthetic {list(syn['shape'])} volumes (25 % held out), built-in 3D U-Net, "
        f"M = {cfg.ensemble_size} members; {len(res.ran)} run(s) took {wall:.0f} s "
        f"({len(res.skipped)} already finished). Files in `active_learning/` "
        "(`report/curves.png`, `report/ppm.png`).",
        "",
        *rep.lines,
    ]
