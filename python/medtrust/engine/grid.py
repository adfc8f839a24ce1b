"""An AL experiment grid on an engine: runs as tasks, a round's members as parallel tasks.

Granularity follows the cost: each (setting, strategy, seed) run is one task; inside a run the
ensemble members of a round are trained as parallel tasks (each asking for the trainer's
resources), while the run's own task evaluates and queries, streaming the members' softmax
slabs into the accumulator as in a local run. Nothing large crosses the network through the
object store: members write their weights to the experiment folder (shared storage) and the
run task reads them from there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medtrust.active.loop.config import ExperimentConfig, RunSpec
from medtrust.active.loop.grid import GridResult, finish_grid, plan_grid
from medtrust.active.loop.runner import run_experiment
from medtrust.engine.base import Engine
from medtrust.engine.select import EngineName, get_engine

__all__ = ["default_resources", "run_grid"]


def default_resources(cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Resources of a run task and of a member task.

    The config's ``resources`` block, over defaults derived from the trainer: a GPU each with a
    CUDA device, and ``num_threads`` CPUs (1 when unset).

    Examples
    --------
    >>> from medtrust.active.loop import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({"dataset": {"synthetic": {}}, "strategies": ["random"],
    ...     "patch_size": [4, 8, 8], "query_size": 2,
    ...     "trainer": {"backend": "unet", "device": "cpu", "num_threads": 2}})
    >>> default_resources(cfg)
    {'run': {'num_cpus': 2}, 'member': {'num_cpus': 2}}
    """
    device = str(cfg.trainer.get("device", "auto"))
    threads = int(cfg.trainer.get("num_threads") or 1)
    base: dict[str, Any] = {"num_cpus": threads}
    if device.startswith("cuda"):
        base["num_gpus"] = 1
    own = cfg.resources or {}
    return {"run": {**base, **own.get("run", {})}, "member": {**base, **own.get("member", {})}}


class _RunTask:
    """Picklable unit of work: one run, its members trained by ``member_trainer``."""

    def __init__(self, out: str, member_trainer: Any) -> None:
        self.out = out
        self.member_trainer = member_trainer

    def __call__(self, spec: RunSpec) -> tuple[str, float]:
        t0 = time.perf_counter()
        run_experiment(spec, Path(self.out), train_members=self.member_trainer)
        return spec.key, time.perf_counter() - t0


def run_grid(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    engine: EngineName | Engine | None = "local",
    runs: Sequence[RunSpec] | None = None,
    progress: bool = False,
    **engine_options: Any,
) -> GridResult:
    """Run (or resume) every unfinished run of ``cfg`` on ``engine``; same table as locally.

    Parameters
    ----------
    cfg
        The experiment (its ``resources`` block sizes the tasks; see :func:`default_resources`).
    out
        Experiment folder; with a cluster it must be on storage every node sees (checked first).
    engine
        ``"local"`` (default; ``workers=N`` for N processes), ``"ray"`` (``address=...``), or
        an :class:`~medtrust.engine.Engine`.
    runs
        Subset of ``cfg.runs()`` (default: all).
    progress
        A progress bar over finished runs (on the driver, from task completions).
    **engine_options
        Options of the named engine (``workers``; ``address``, ``resources``, ...).

    Returns
    -------
    GridResult
        As :func:`medtrust.active.loop.run_grid`: finished runs skipped, failures reported per
        run, ``out/results.parquet`` written.
    """
    eng = get_engine(engine, **engine_options)
    try:
        plan = plan_grid(cfg, out, runs=runs, progress=progress)
        eng.check_storage(plan.out)
        bar = None
        if progress and plan.todo:
            from medtrust._io import progress_bar

            bar = progress_bar(total=len(plan.todo), desc=f"runs ({eng.name})")
        # One resources block per setting would need one map per setting; runs of a grid share
        # the trainer's device, so the first setting's block sizes every task.
        res = default_resources(cfg.expand()[0])
        task = _RunTask(str(plan.out), eng.member_trainer(res["member"]))
        try:
            outcomes = eng.map(task, plan.todo, resources=res["run"], progress=bar)
        finally:
            if bar is not None:
                bar.close()
        return finish_grid(plan, outcomes)
    finally:
        if isinstance(engine, str) or engine is None:
            eng.close()
