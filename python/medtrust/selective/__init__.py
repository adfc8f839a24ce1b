"""Selective classification: risk-coverage metrics, bootstrap CIs, CSFs, rankings.

Examples
--------
>>> from medtrust import selective
>>> c, r = [0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1]
>>> selective.aurc(c, r), selective.augrc(c, r)
(0.1875, 0.15625)
"""

from medtrust.selective import csf
from medtrust.selective.accumulator import RiskCoverageAccumulator
from medtrust.selective.bootstrap import (
    METRIC_NAMES,
    ConfidenceInterval,
    PairedBootstrap,
    bootstrap_ci,
    paired_bootstrap,
)
from medtrust.selective.csf import (
    energy,
    mcd_ee,
    mcd_mi,
    mcd_msr,
    mcd_pe,
    mls,
    msr,
    pe,
    residuals_from_predictions,
)
from medtrust.selective.curve import RiskCoverageCurve, risk_coverage_curve
from medtrust.selective.evaluate import evaluate
from medtrust.selective.metrics import (
    SelectiveMetrics,
    augrc,
    augrc_ba,
    augrc_optimal,
    aurc,
    aurc_ba,
    aurc_optimal,
    coverage_at_risk,
    eaugrc,
    eaurc,
    ece,
    failure_auroc,
    failure_nll,
    fpr_at_tpr,
    mce,
    metrics,
    naurc,
    selective_risk_at_coverage,
)
from medtrust.selective.plot import plot_risk_coverage
from medtrust.selective.ranking import CSFRanking, holm, rank_csfs

__all__ = [
    "METRIC_NAMES",
    "CSFRanking",
    "ConfidenceInterval",
    "PairedBootstrap",
    "RiskCoverageAccumulator",
    "RiskCoverageCurve",
    "SelectiveMetrics",
    "augrc",
    "augrc_ba",
    "augrc_optimal",
    "aurc",
    "aurc_ba",
    "aurc_optimal",
    "bootstrap_ci",
    "coverage_at_risk",
    "csf",
    "eaugrc",
    "eaurc",
    "ece",
    "energy",
    "evaluate",
    "failure_auroc",
    "failure_nll",
    "fpr_at_tpr",
    "holm",
    "mcd_ee",
    "mcd_mi",
    "mcd_msr",
    "mcd_pe",
    "mce",
    "metrics",
    "mls",
    "msr",
    "naurc",
    "paired_bootstrap",
    "pe",
    "plot_risk_coverage",
    "rank_csfs",
    "residuals_from_predictions",
    "risk_coverage_curve",
    "selective_risk_at_coverage",
]
