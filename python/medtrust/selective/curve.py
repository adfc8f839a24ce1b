"""The risk-coverage curve in plotting order.

Examples
--------
>>> from medtrust.selective import risk_coverage_curve
>>> c = risk_coverage_curve([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
>>> c.coverages.tolist(), c.generalized_risks.tolist()
([1.0, 0.75, 0.25, 0.0], [0.5, 0.25, 0.0, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust import _native
from medtrust._arrays import NanPolicy
from medtrust.selective._inputs import prepare

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RiskCoverageCurve", "risk_coverage_curve"]


@dataclass(frozen=True)
class RiskCoverageCurve:
    """Curve points, coverage descending from 1 to the coverage-0 end point.

    ``thresholds[i]`` accepts samples with confidence >= it (``inf`` at the end point).

    Attributes
    ----------
    coverages
        Fraction of samples accepted at each point, descending from 1 to 0.
    selective_risks
        Mean residual of the accepted samples at each point.
    generalized_risks
        Residual sum of the accepted samples over all n samples at each point.
    thresholds
        Confidence threshold of each point (``inf`` at the coverage-0 end point).
    """

    coverages: np.ndarray
    selective_risks: np.ndarray
    generalized_risks: np.ndarray
    thresholds: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        """Plain dict of lists.

        Returns
        -------
        dict of str to list of float
            The four arrays as lists.
        """
        return {
            "coverages": self.coverages.tolist(),
            "selective_risks": self.selective_risks.tolist(),
            "generalized_risks": self.generalized_risks.tolist(),
            "thresholds": self.thresholds.tolist(),
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per curve point: coverage, selective_risk, generalized_risk, threshold.

        Returns
        -------
        polars.DataFrame
            One row per point: ``coverage, selective_risk, generalized_risk, threshold``.
        """
        import polars as pl

        return pl.DataFrame(
            {
                "coverage": self.coverages,
                "selective_risk": self.selective_risks,
                "generalized_risk": self.generalized_risks,
                "threshold": self.thresholds,
            }
        )


def risk_coverage_curve(
    confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise", check_range: bool = True
) -> RiskCoverageCurve:
    """Coverages, selective risks, generalized risks and thresholds of every curve point.

    One point per distinct confidence (tie groups are accepted together) plus the coverage-0
    end point, where the selective risk repeats its last value and the generalized risk is 0.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    RiskCoverageCurve
        The curve's points, coverage descending.
    """
    s = prepare(confids, residuals, nan_policy=nan_policy, check_range=check_range)
    if s.propagate_nan:
        nan = np.array([np.nan])
        return RiskCoverageCurve(nan, nan, nan, nan)
    cov, sr, gr, th = _native.risk_curve(s.confids, s.residuals)
    return RiskCoverageCurve(cov, sr, gr, th)
