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

from medtrust._arrays import as_float_1d, check_same_length
from medtrust.exceptions import EmptyInputError
from medtrust.selective.curve import RiskCoverageCurve, risk_coverage_curve
from medtrust.selective.metrics import SelectiveMetrics, metrics

__all__ = ["RiskCoverageAccumulator"]


class RiskCoverageAccumulator:
    """Collects batches with :meth:`update`; :meth:`compute` gives :class:`SelectiveMetrics`.

    Parameters
    ----------
    **metric_kwargs
        Passed to :func:`medtrust.selective.metrics` (``nan_policy``, ``check_range``, ...).
    """

    def __init__(self, **metric_kwargs: Any) -> None:
        self._kw = metric_kwargs
        self.reset()

    def reset(self) -> None:
        """Forget every batch."""
        self._conf: list[np.ndarray] = []
        self._res: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, confids: Any, residuals: Any, labels: Any = None) -> None:
        """Add one batch (validated now, so a bad batch fails where it is added)."""
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
        """Metrics over every sample added so far."""
        c, r, labels = self._arrays()
        return metrics(c, r, labels=labels, **self._kw)

    def curve(self) -> RiskCoverageCurve:
        """Risk-coverage curve over every sample added so far."""
        c, r, _ = self._arrays()
        kw = {k: v for k, v in self._kw.items() if k in ("nan_policy", "check_range")}
        return risk_coverage_curve(c, r, **kw)
