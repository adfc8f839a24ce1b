"""Overhead of the Ray engine against the local engine, and scaling of failure scoring.

Run: ``.venv/bin/python tools/engine_overhead.py [--out DIR]`` (a few minutes on 2 cores). It
prints, from one run on this machine:

1. the same AL grid (2 strategies x 2 seeds, 2 rounds, 2 members) with the local engine in this
   process and with a private local Ray instance (2 CPUs): wall times and their ratio;
2. the bytes one round moves: task arguments and results through Ray's object store (pickled
   sizes) and the files a member task reads from / writes to the shared folder;
3. failure-detection scoring of 16 synthetic 96x96x64 cases with 1 and 2 local workers and on
   Ray (``--skip-grid``: only this part).
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

GRID = {
    "name": "overhead",
    "dataset": {"synthetic": {"n_cases": 8, "shape": [8, 32, 32]}},
    "strategies": ["random", "clasp_pe"],
    "patch_size": [4, 8, 8],
    "query_size": 4,
    "rounds": 2,
    "pooling_stride": [1, 4, 4],
    "seeds": [0, 1],
    "ensemble_size": 2,
    "trainer": {
        "backend": "unet",
        "iterations": 40,
        "batch_size": 2,
        "base_channels": 8,
        "patch_size": [8, 16, 16],
        "device": "cpu",
        "num_threads": 1,
    },
}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _failure_scaling(root: Path) -> None:
    from medtrust.data import synthetic_failure_cases
    from medtrust.engine import RayEngine, score_folder

    cases = synthetic_failure_cases(root / "fd", n_cases=16, shape=(96, 96, 64), seed=0)
    times = {}
    for label, kw in (
        ("local, 1 worker", {"engine": "local", "workers": 1}),
        ("local, 2 workers", {"engine": "local", "workers": 2}),
    ):
        t0 = time.perf_counter()
        score_folder(cases["pred"], cases["labels"], cases["domains"], **kw)
        times[label] = time.perf_counter() - t0
    with RayEngine(num_cpus=2) as eng:
        eng.start()
        t0 = time.perf_counter()
        score_folder(cases["pred"], cases["labels"], cases["domains"], engine=eng)
        times["ray, 2 CPUs"] = time.perf_counter() - t0
    base = times["local, 1 worker"]
    for label, t in times.items():
        print(
            f"failure scoring, 16 cases of 96x96x64, {label}: {t:.2f} s (speed-up {base / t:.2f}x)"
        )


def main() -> None:
    """Measure and print."""
    from medtrust.active.loop import ExperimentConfig
    from medtrust.active.loop.runner import TIMING_COLUMNS
    from medtrust.engine import RayEngine, run_grid

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", help="work folder (default: a temporary one, removed)")
    p.add_argument("--skip-grid", action="store_true", help="only the failure-scoring part")
    args = p.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="mt-engine-"))
    cfg = ExperimentConfig.from_dict(GRID)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")

    # Materialise the dataset once for both, so neither pays the generator.
    from medtrust.active.loop.grid import plan_grid

    if args.skip_grid:
        _failure_scaling(root)
        return
    for name in ("local", "ray"):
        plan_grid(cfg, root / name)
    t0 = time.perf_counter()
    local = run_grid(cfg, root / "local", engine="local")
    t_local = time.perf_counter() - t0
    with RayEngine(num_cpus=os.cpu_count()) as eng:
        eng.start()  # before timing: Ray's start-up is paid once per cluster
        t0 = time.perf_counter()
        remote = run_grid(cfg, root / "ray", engine=eng)
        t_ray = time.perf_counter() - t0
    same = local.table.drop(TIMING_COLUMNS).equals(remote.table.drop(TIMING_COLUMNS))
    ratio = t_ray / t_local
    print(f"AL grid (4 runs): local {t_local:.1f} s, ray {t_ray:.1f} s, ratio {ratio:.2f}")
    print(f"  same results.parquet (timing columns aside): {same}")

    run = root / "ray" / "runs" / "default" / "clasp_pe" / "seed_0"
    spec = cfg.runs()[0]
    member = run / "round_001" / "model" / "member_0"
    labels = run / "round_001" / "labels"
    cache = next((root / "ray" / "cache").iterdir())
    print("bytes per round (round 1 of one run):")
    print(f"  object store: run spec {len(pickle.dumps(spec))} B per task argument")
    print(f"  member task writes {_size(member) / 1e6:.2f} MB (its weights) to the shared folder")
    print(
        f"  member task reads {_size(labels) / 1e6:.2f} MB of partial labels and up to "
        f"{_size(cache) / 1e6:.2f} MB of image cache from the shared folder"
    )

    _failure_scaling(root)
    if not args.out:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
