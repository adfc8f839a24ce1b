"""Run every (setting, strategy, seed) of a config, in-process or in local worker processes.

Examples
--------
>>> from medtrust.active.loop.grid import default_threads
>>> default_threads(workers=1) >= 1
True
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from medtrust._io import atomic_write_json, atomic_write_parquet
from medtrust._parallel import Outcome, map_local
from medtrust.active.loop.config import ExperimentConfig, RunSpec
from medtrust.active.loop.runner import run_dir, run_experiment, run_is_done
from medtrust.exceptions import MedtrustError
from medtrust.io.tables import read_table

__all__ = [
    "GridPlan",
    "GridResult",
    "combine_results",
    "default_threads",
    "finish_grid",
    "plan_grid",
    "run_grid",
    "select_runs",
]

log = logging.getLogger("medtrust.al")


def default_threads(workers: int) -> int:
    """Torch threads per worker: the CPU cores shared evenly."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def select_runs(
    cfg: ExperimentConfig,
    *,
    strategies: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    settings: Sequence[str] | None = None,
) -> list[RunSpec]:
    """The config's runs, optionally filtered."""
    runs = cfg.runs()
    if strategies:
        runs = [r for r in runs if r.strategy in strategies]
    if seeds:
        runs = [r for r in runs if r.seed in seeds]
    if settings:
        runs = [r for r in runs if r.config.setting in settings]
    if not runs:
        raise MedtrustError("no run of the config matches the given filters")
    return runs


def _worker(spec: RunSpec, out: str, threads: int) -> tuple[str, float]:
    """One run in a worker process (torch threads set for the worker's share of the cores)."""
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    run_experiment(spec, Path(out), progress=False)
    return spec.key, time.perf_counter() - t0


def combine_results(out: str | Path) -> Any:
    """Concatenate every run's ``results.parquet`` below ``out/runs`` (polars)."""
    import polars as pl

    files = sorted((Path(out) / "runs").glob("*/*/seed_*/results.parquet"))
    if not files:
        raise MedtrustError(f"no results.parquet below {Path(out) / 'runs'}")
    return pl.concat([read_table(f, what="results") for f in files], how="diagonal_relaxed").sort(
        ["setting", "strategy", "seed", "round"]
    )


class GridResult:
    """Outcome of :func:`run_grid`: the combined table and what ran, was skipped or failed."""

    def __init__(
        self, table: Any, ran: list[str], skipped: list[str], failed: dict[str, str]
    ) -> None:
        self.table = table
        self.ran = ran
        self.skipped = skipped
        self.failed = failed


@dataclass
class GridPlan:
    """What :func:`plan_grid` prepared: the runs, those still to do, the datasets' views."""

    out: Path
    runs: list[RunSpec]
    todo: list[RunSpec]
    skipped: list[str]
    views: dict[str, Any]


def plan_grid(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    runs: Sequence[RunSpec] | None = None,
    progress: bool = False,
) -> GridPlan:
    """Validate, write ``config.json``, materialise the data and list the unfinished runs.

    The first half of :func:`run_grid`, shared with the engines of :mod:`medtrust.engine`.
    """
    from medtrust.active.loop.data import materialize_dataset

    out = Path(out)
    cfg.validate()
    runs = list(runs) if runs is not None else cfg.runs()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", cfg.to_dict())
    views = {c.setting: materialize_dataset(c, out, progress=progress) for c in cfg.expand()}
    todo = [r for r in runs if not run_is_done(out, r)]
    skipped = [r.key for r in runs if r not in todo]
    for k in skipped:
        log.info("skipping finished run %s", k)
    return GridPlan(out, runs, todo, skipped, views)


def finish_grid(plan: GridPlan, outcomes: Sequence[Outcome]) -> GridResult:
    """Record what ran or failed and write ``out/results.parquet`` (every finished run)."""
    ran: list[str] = []
    failed: dict[str, str] = {}
    for o in outcomes:
        key = plan.todo[o.index].key
        if o.ok:
            ran.append(key)
        else:
            failed[key] = str(o.error)
            log.error("run %s failed: %s", key, o.error)
    finished = [r for r in plan.runs if (run_dir(plan.out, r) / "results.parquet").is_file()]
    table = combine_results(plan.out) if finished else None
    if table is not None:
        atomic_write_parquet(plan.out / "results.parquet", table)
    return GridResult(table, ran, plan.skipped, failed)


def run_grid(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    workers: int = 1,
    runs: Sequence[RunSpec] | None = None,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> GridResult:
    """Validate, materialise the data, run what is not finished, combine the tables.

    On one machine; :func:`medtrust.engine.run_grid` runs the same grid on a Ray cluster.

    Parameters
    ----------
    cfg
        The experiment.
    out
        Experiment folder.
    workers
        Local worker processes (``1``: run in this process, with per-step progress).
    runs
        Subset of ``cfg.runs()`` (default: all).
    progress
        Progress bars.
    on_step
        Step callback (in-process runs only).

    Returns
    -------
    GridResult
        Finished runs are skipped; a failing run does not stop the others (its error is in
        ``failed``); ``out/results.parquet`` holds every finished run's rounds.
    """
    if workers < 1:
        raise MedtrustError(f"workers must be >= 1, got {workers}")
    plan = plan_grid(cfg, out, runs=runs, progress=progress)
    tbar = None
    if progress and len(plan.todo) > 1:
        from medtrust._io import progress_bar

        tbar = progress_bar(total=len(plan.todo), desc=f"runs ({workers} workers)")
    try:
        if workers == 1 or len(plan.todo) <= 1:

            def one(spec: RunSpec) -> str:
                view = plan.views[spec.config.setting]
                run_experiment(spec, plan.out, view=view, progress=progress, on_step=on_step)
                return spec.key

            # In this process only medtrust's errors are a run's failure; a bug propagates.
            outcomes = map_local(one, plan.todo, progress=tbar, catch=(MedtrustError,))
        else:
            worker = partial(_worker, out=str(plan.out), threads=default_threads(workers))
            outcomes = map_local(worker, plan.todo, workers=workers, progress=tbar)
    finally:
        if tbar is not None:
            tbar.close()
    return finish_grid(plan, outcomes)
