"""Active-learning evaluation metrics: AUBC, final Dice, FG-Eff, PPM, rankings.

Definitions follow the nnActive benchmark (spec "AL evaluation metrics"):

- AUBC: trapezoid area under the mean-Dice-per-round curve, x axis normalised to [0, 1];
- final Dice: the last round's mean foreground Dice;
- FG-Eff: ``b`` of the fit ``Dice(x) = -a exp(-b (x - x0)) + c`` with ``x`` the fraction of the
  pool's foreground voxels inside annotated patches, ``c`` the full-data Dice, ``x0`` the
  smallest ``x`` and ``a = c - Dice(x0)``;
- PPM: pairwise penalty matrix from seed-paired t-tests per budget level;
- rankings across settings with a Friedman test and the Nemenyi post-hoc test.

One module per concern: :mod:`~medtrust.active.metrics.budget` (AUBC, final Dice),
:mod:`~medtrust.active.metrics.efficiency` (FG-Eff), :mod:`~medtrust.active.metrics.penalty`
(PPM), :mod:`~medtrust.active.metrics.ranking` (Friedman / Nemenyi rankings) and
:mod:`~medtrust.active.metrics.table` (the per-run table); the statistical tests themselves
live in :mod:`medtrust.analysis`.

Examples
--------
>>> from medtrust.active.metrics import aubc, final_dice
>>> aubc([0.2, 0.4, 0.5, 0.6, 0.6])
0.475
>>> final_dice([0.2, 0.4, 0.5, 0.6, 0.6])
0.6
"""

from medtrust.active.metrics.budget import aubc, final_dice
from medtrust.active.metrics.efficiency import FGEfficiency, fg_efficiency
from medtrust.active.metrics.penalty import PairwisePenaltyMatrix, pairwise_penalty_matrix
from medtrust.active.metrics.ranking import (
    StrategyRanking,
    friedman_test,
    nemenyi_test,
    rank_strategies,
)
from medtrust.active.metrics.table import run_metrics

__all__ = [
    "FGEfficiency",
    "PairwisePenaltyMatrix",
    "StrategyRanking",
    "aubc",
    "fg_efficiency",
    "final_dice",
    "friedman_test",
    "nemenyi_test",
    "pairwise_penalty_matrix",
    "rank_strategies",
    "run_metrics",
]
