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
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from medtrust._io import atomic_write_json, atomic_write_parquet
from medtrust.active.loop.config import ExperimentConfig, RunSpec
from medtrust.active.loop.runner import run_dir, run_experiment, run_is_done
from medtrust.exceptions import MedtrustError
from medtrust.io.tables import read_table

__all__ = ["GridResult", "combine_results", "default_threads", "run_grid", "select_runs"]

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
    from medtrust._io import progress as bar
    from medtrust.active.loop.data import materialize_dataset

    out = Path(out)
    if workers < 1:
        raise MedtrustError(f"workers must be >= 1, got {workers}")
    cfg.validate()
    runs = list(runs) if runs is not None else cfg.runs()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", cfg.to_dict())
    views = {}
    for c in cfg.expand():
        views[c.setting] = materialize_dataset(c, out, progress=progress)
    todo = [r for r in runs if not run_is_done(out, r)]
    skipped = [r.key for r in runs if r not in todo]
    for k in skipped:
        log.info("skipping finished run %s", k)
    ran: list[str] = []
    failed: dict[str, str] = {}
    threads = default_threads(workers)
    if workers == 1 or len(todo) <= 1:
        for spec in bar(todo, desc="runs", enabled=progress and len(todo) > 1):
            try:
                run_experiment(
                    spec, out, view=views[spec.config.setting], progress=progress, on_step=on_step
                )
                ran.append(spec.key)
            except MedtrustError as e:
                failed[spec.key] = str(e)
                log.error("run %s failed: %s", spec.key, e)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        tbar = None
        if progress:
            from tqdm.auto import tqdm

            tbar = tqdm(total=len(todo), desc=f"runs ({workers} workers)")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(_worker, s, str(out), threads): s for s in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    spec = futures[fut]
                    try:
                        key, secs = fut.result()
                        ran.append(key)
                        log.info("run %s finished in %.1f s", key, secs)
                    except Exception as e:  # worker errors are reported, others continue
                        failed[spec.key] = f"{type(e).__name__}: {e}"
                        log.error("run %s failed: %s", spec.key, e)
                    if tbar is not None:
                        tbar.update(1)
        if tbar is not None:
            tbar.close()
    finished = [r for r in runs if (run_dir(out, r) / "results.parquet").is_file()]
    table = combine_results(out) if finished else None
    if table is not None:
        atomic_write_parquet(out / "results.parquet", table)
    return GridResult(table, ran, skipped, failed)
