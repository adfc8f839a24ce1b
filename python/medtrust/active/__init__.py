"""Active learning for 3D segmentation: the query side (nnActive protocol, ClaSP PE).

Everything between "M models have predicted softmax maps for the pool" and "here are the boxes
to annotate": streamed uncertainty (:mod:`medtrust.uncertainty`), patch scores on a strided grid
(summed-area tables), greedy non-overlapping selection, power (Gumbel) sampling, strategies by
registry name, and nnActive-compatible round files (``loop_XXX.json``).

Strategies: ``random``, ``random_fg66``, ``random_fg33``, ``random_all_classes``,
``random_fg66_all_classes``, ``random_fg33_all_classes``, ``pe``, ``bald``, ``exp_entropy``,
``power_pe``, ``power_bald``, ``power_bald_b5`` / ``_b10`` / ``_b20`` / ``_b40``,
``softrank_bald``, ``kmeans_bald``, ``class_pe``, ``clap_pe``, ``clasp_pe``,
``clasp_pe_smooth``, ``clasp_pe_sharp``, ``precomputed``, ``precomputed_start``.

Modules by job: :mod:`~medtrust.active.patch` (the box type), :mod:`~medtrust.active.rounds`
(round files), :mod:`~medtrust.active.selection` (patch scores, the greedy pick and its tie
rule), :mod:`~medtrust.active.pool` (the pool), :mod:`~medtrust.active.sources` (softmax
folders), :mod:`~medtrust.active.grids` (pooled uncertainty score grids),
:mod:`~medtrust.active.spacing` (the working grid at a target spacing).

Examples
--------
>>> import numpy as np
>>> from medtrust.active import Pool, get_strategy
>>> rng = np.random.default_rng(0)
>>> logits = rng.normal(size=(3, 3, 16, 16, 16))  # [M, C, Z, Y, X]
>>> probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
>>> pool = Pool.from_arrays({"case_0": probs.astype(np.float32)})
>>> strategy = get_strategy("clasp_pe", patch_size=8, stride=4, n_patch_per_image=6)
>>> result = strategy.query(pool, [], size=4, round_index=0, seed=0)
>>> len(result.patches), sorted(result.log.quotas)
(4, ['class_1', 'class_2', 'pe'])
"""

# AL loop evaluation metrics (medtrust.active.metrics); the loop itself is medtrust.active.loop.
from medtrust.active.fg_eff_pooled import fg_efficiency_pooled
from medtrust.active.grids import score_grids
from medtrust.active.metrics import (
    aubc,
    fg_efficiency,
    final_dice,
    pairwise_penalty_matrix,
    rank_strategies,
)
from medtrust.active.patch import Patch
from medtrust.active.pool import Pool, UncertaintySource
from medtrust.active.result import CANDIDATE_COLUMNS, QueryLog, QueryResult
from medtrust.active.rounds import read_round, read_rounds, round_file_name, write_round
from medtrust.active.schedule import SCHEDULES, beta_schedule
from medtrust.active.selection import patch_scores, select_patches
from medtrust.active.sources import probs_dir_source
from medtrust.active.strategies import (
    QueryShortfallWarning,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)
from medtrust.active.strategies.clasp import clasp_quotas

__all__ = [
    "CANDIDATE_COLUMNS",
    "SCHEDULES",
    "Patch",
    "Pool",
    "QueryLog",
    "QueryResult",
    "QueryShortfallWarning",
    "Strategy",
    "UncertaintySource",
    "aubc",
    "beta_schedule",
    "clasp_quotas",
    "fg_efficiency",
    "fg_efficiency_pooled",
    "final_dice",
    "get_strategy",
    "list_strategies",
    "pairwise_penalty_matrix",
    "patch_scores",
    "probs_dir_source",
    "rank_strategies",
    "read_round",
    "read_rounds",
    "register_strategy",
    "round_file_name",
    "score_grids",
    "select_patches",
    "write_round",
]
