"""Segmentation failure detection: confidence aggregation and risk-coverage evaluation.

- :mod:`~medtrust.failure.aggregation`: one confidence per case from a pixel-confidence map
  (mean, non-boundary mean, foreground mean, patch minimum, distance- and volume-weighted
  means), every confidence of an ensemble accumulator at once without materialising the maps
  (:func:`aggregate_ensemble`), plus pairwise Dice of ensemble members
  (:func:`medtrust.segmentation.pairwise_dice`);
- :mod:`~medtrust.failure.cases`: per-case risks and CSFs, from arrays or a prediction folder;
- :mod:`~medtrust.failure.evaluate`: AURC, e-AURC, NAURC, AUGRC, correlations, failure AUROC,
  bootstrap intervals and CSF rank distributions per domain;
- :mod:`~medtrust.failure.comparison`: is each CSF distinguishable from the best one (paired
  bootstrap, simultaneous intervals); :mod:`~medtrust.failure.plot`: readable figures.

Examples
--------
>>> import numpy as np
>>> from medtrust.failure import case_confidences
>>> rng = np.random.default_rng(0)
>>> base = np.zeros((16, 16, 16), np.uint8); base[4:12, 4:12, 4:12] = 1
>>> members = [np.where(rng.random(base.shape) < 0.02, 1 - base, base) for _ in range(3)]
>>> csfs, pred = case_confidences(members=members)
>>> sorted(csfs)[:3]
['pairwise_dice', 'vote_distw', 'vote_fg']
"""

from medtrust.failure.aggregation import (
    AGGREGATIONS,
    PIXEL_CONFIDENCES,
    aggregate,
    aggregate_ensemble,
    boundary_band,
    distance_weighted_mean,
    foreground_mean,
    mean,
    non_boundary_mean,
    patch_min,
    volume_weighted_mean,
)
from medtrust.failure.cases import case_confidences, case_risks, score_folder
from medtrust.failure.columns import score_table_csfs
from medtrust.failure.comparison import compare_to_best
from medtrust.failure.evaluate import RISKS, FailureDetectionResult, evaluate_failure_detection
from medtrust.segmentation.pairwise import pairwise_dice

__all__ = [
    "AGGREGATIONS",
    "PIXEL_CONFIDENCES",
    "RISKS",
    "FailureDetectionResult",
    "aggregate",
    "aggregate_ensemble",
    "boundary_band",
    "case_confidences",
    "case_risks",
    "compare_to_best",
    "distance_weighted_mean",
    "evaluate_failure_detection",
    "foreground_mean",
    "mean",
    "non_boundary_mean",
    "pairwise_dice",
    "patch_min",
    "score_folder",
    "score_table_csfs",
    "volume_weighted_mean",
]
