"""The documented AL benchmark: strategies compared under the papers' protocol, on one GPU.

:data:`BENCHMARK_FILE` (``benchmark_hippocampus.yaml`` beside this module, commented) holds the
configuration: a Hippocampus-like synthetic dataset (260 cases of 36 x 50 x 36 voxels at 1 mm),
the strategies ``random``, ``random_fg33``, ``pe``, ``power_bald`` and ``clasp_pe``, 4 seeds,
5 rounds and 3 budgets (query sizes 20 / 40 / 80 patches of 16^3 voxels), an ensemble of 3
built-in U-Nets per round and a full-data reference for FG-Eff. ``medtrust al benchmark`` runs
it (resumable; ``--workers`` processes share the GPU) and writes the report;
:func:`benchmark_plan` says how much training that is before anything starts. ``smoke=True``
shrinks everything to check the pipeline on a CPU in a few minutes; its numbers mean nothing.

Examples
--------
>>> from medtrust.active.loop.benchmark import benchmark_config, benchmark_plan
>>> cfg = benchmark_config()
>>> cfg.seeds, cfg.rounds, sorted(cfg.settings)
((0, 1, 2, 3), 5, ['high', 'low', 'medium'])
>>> benchmark_plan(cfg)["runs"]
60
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtrust._extras import require

__all__ = ["BENCHMARK_FILE", "SMOKE", "benchmark_config", "benchmark_plan"]

#: The benchmark's configuration file (YAML, shipped with the package).
BENCHMARK_FILE: Path = Path(__file__).with_name("benchmark_hippocampus.yaml")

#: Overrides of the smoke run: tiny data and training, one seed, two rounds, two strategies.
SMOKE: dict[str, Any] = {
    "name": "hippocampus_synth_smoke",
    "dataset": {
        "synthetic": {"n_cases": 6, "shape": [12, 16, 12], "spacing": [1.0, 1.0, 1.0], "seed": 0}
    },
    "strategies": ["random_fg33", "clasp_pe"],
    "patch_size": [4, 4, 4],
    "pooling_stride": [1, 1, 1],
    "seeds": [0],
    "rounds": 2,
    "ensemble_size": 2,
    "full_data": False,
    "trainer": {
        "backend": "unet",
        "iterations": 2,
        "batch_size": 1,
        "base_channels": 4,
        "patch_size": [8, 16, 8],
        "device": "cpu",
        "amp": False,
    },
    "settings": {"low": {"query_size": 2}, "medium": {"query_size": 4}, "high": {"query_size": 6}},
}


def _raw() -> dict[str, Any]:
    require("yaml", "io")
    import yaml

    return dict(yaml.safe_load(BENCHMARK_FILE.read_text()))


def benchmark_config(*, smoke: bool = False) -> Any:
    """The benchmark's :class:`~medtrust.active.loop.config.ExperimentConfig`.

    Parameters
    ----------
    smoke
        Apply :data:`SMOKE` (a pipeline check on the CPU, not a comparison).
    """
    from medtrust.active.loop.config import ExperimentConfig

    raw = _raw()
    if smoke:
        raw.update(SMOKE)
    return ExperimentConfig.from_dict(raw, base_dir=BENCHMARK_FILE.parent)


def benchmark_plan(cfg: Any) -> dict[str, int]:
    """How much work a config is: runs, training jobs, patches annotated per setting.

    ``trainings`` counts ensemble members trained: every AL run trains ``ensemble_size``
    members in each of its ``rounds``; a full-data reference trains ``ensemble_size`` once.

    Examples
    --------
    >>> p = benchmark_plan(benchmark_config())
    >>> p["trainings"] == 60 * 5 * 3 + 12 * 3
    True
    """
    from medtrust.active.loop.config import FULL_DATA

    runs = cfg.runs()
    al = [r for r in runs if r.strategy != FULL_DATA]
    full = [r for r in runs if r.strategy == FULL_DATA]
    trainings = sum(r.config.rounds * r.config.ensemble_size for r in al)
    trainings += sum(r.config.ensemble_size for r in full)
    plan = {"runs": len(al), "full_data_runs": len(full), "trainings": trainings}
    for c in cfg.expand():
        plan[f"patches_{c.setting}"] = c.total_patches()
    return plan
