"""Streaming accumulation of (confids, residuals) batches for evaluation loops.

Exact results need every sample (the metrics depend on the global ranking), so memory is O(n);
batches are concatenated once at :meth:`RiskCoverageAccumulator.compute`.

Examples
--------
>>> from medtrust.selective import RiskCoverageAccumulator
>>> acc = RiskCoverageAccumulator()
>>> acc.update([0.9, 0.8], [0, 1]); acc.update([0.8, 0.3], [0, 1])
>>> acc.compute().aurc
0.1875
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtrust._arrays import NAN_POLICIES, as_float_1d, check_choice, check_same_length
from medtrust.exceptions import EmptyInputError, InvalidArgumentError
from medtrust.selective._inputs import check_targets
from medtrust.selective.curve import RiskCoverageCurve, risk_coverage_curve
from medtrust.selective.metrics import SelectiveMetrics, metrics

__all__ = ["RiskCoverageAccumulator"]

#: The keywords of :func:`medtrust.selective.metrics` an accumulator passes on.
_METRIC_KWARGS = ("tpr", "coverage", "risk", "bins", "nan_policy", "check_range")


class RiskCoverageAccumulator:
    """Collects batches with :meth:`update`; :meth:`compute` gives :class:`SelectiveMetrics`.

    Parameters
    ----------
    **metric_kwargs
        Passed to :func:`medtrust.selective.metrics` (``nan_policy``, ``check_range``, ...).
    """

    def __init__(self, **metric_kwargs: Any) -> None:
        # Checked now, not at compute(): a misspelled keyword must fail where it is written.
        unknown = sorted(set(metric_kwargs) - set(_METRIC_KWARGS))
        if unknown:
            raise InvalidArgumentError(
                f"unknown keyword(s) {unknown} for RiskCoverageAccumulator; "
                f"expected some of {list(_METRIC_KWARGS)}"
            )
        check_targets(
            **{k: v for k, v in metric_kwargs.items() if k in ("tpr", "coverage", "risk", "bins")}
        )
        if "nan_policy" in metric_kwargs:
            check_choice(metric_kwargs["nan_policy"], "nan_policy", NAN_POLICIES)
        self._kw = metric_kwargs
        self.reset()

    def reset(self) -> None:
        """Forget every batch."""
        self._conf: list[np.ndarray] = []
        self._res: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, confids: Any, residuals: Any, labels: Any = None) -> None:
        """Add one batch (validated now, so a bad batch fails where it is added).

        Parameters
        ----------
        confids
            Confidence per sample (1-D array-like), higher = more confident. Equal confidences form
            a tie group that is accepted or rejected as a whole.
        residuals
            Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
        labels
            Class labels of the batch (give them with every batch or with none).
        """
        c = as_float_1d(confids, "confids")
        r = as_float_1d(residuals, "residuals")
        check_same_length(confids=c, residuals=r)
        if labels is not None:
            lab = as_float_1d(labels, "labels")
            check_same_length(confids=c, labels=lab)
            self._labels.append(lab.copy())
        self._conf.append(c.copy())
        self._res.append(r.copy())

    @property
    def n(self) -> int:
        """Samples seen so far."""
        return sum(len(c) for c in self._conf)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not self._conf:
            raise EmptyInputError("no batches were added before compute()")
        labels = np.concatenate(self._labels) if self._labels else None
        if labels is not None and len(labels) != self.n:
            raise EmptyInputError("labels were given for some batches only")
        return np.concatenate(self._conf), np.concatenate(self._res), labels

    def compute(self) -> SelectiveMetrics:
        """Metrics over every sample added so far.

        Returns
        -------
        SelectiveMetrics
            The metrics of :func:`metrics` over every sample added so far.
        """
        c, r, labels = self._arrays()
        return metrics(c, r, labels=labels, **self._kw)

    def curve(self) -> RiskCoverageCurve:
        """Risk-coverage curve over every sample added so far.

        Returns
        -------
        RiskCoverageCurve
            The curve of :func:`risk_coverage_curve` over every sample added so far.
        """
        c, r, _ = self._arrays()
        kw = {k: v for k, v in self._kw.items() if k in ("nan_policy", "check_range")}
        return risk_coverage_curve(c, r, **kw)
