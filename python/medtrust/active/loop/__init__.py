"""The AL loop: configs, resumable runs, grids, reports (nnActive-style simulation).

Examples
--------
>>> from medtrust.active.loop import ExperimentConfig
>>> ExperimentConfig.from_dict({"dataset": "data/Dataset004", "strategy": "clasp_pe",
...                             "patch_size": 20, "query_size": 20}).strategies
('clasp_pe',)
"""

from medtrust.active.loop.config import ExperimentConfig, RunSpec, load_config
from medtrust.active.loop.grid import combine_results, run_grid
from medtrust.active.loop.runner import run_experiment

__all__ = [
    "ExperimentConfig",
    "RunSpec",
    "combine_results",
    "load_config",
    "run_experiment",
    "run_grid",
]
