"""Bootstrap confidence intervals, single and paired across CSFs.

Resampling and metric evaluation run in Rust, in parallel, from one grouping per CSF: a resample
is a vector of multiplicities, so it costs O(n). Resample ``b`` uses its own random stream
derived from ``(seed, b)``: results are identical for any thread count.

Examples
--------
>>> import numpy as np
>>> from medtrust.selective import bootstrap_ci
>>> rng = np.random.default_rng(0)
>>> c = rng.random(500); r = (rng.random(500) > c).astype(float)
>>> low, high = bootstrap_ci(c, r, metric="augrc", n_resamples=200, seed=1)
>>> bool(low < high)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtrust import _native
from medtrust._arrays import check_choice
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError
from medtrust.selective._inputs import Samples, prepare

__all__ = [
    "METRIC_NAMES",
    "ConfidenceInterval",
    "PairedBootstrap",
    "bootstrap_ci",
    "paired_bootstrap",
]

#: Metrics available in bootstrap results, in the order of the result arrays.
METRIC_NAMES: tuple[str, ...] = tuple(_native.RISK_METRIC_NAMES)


@dataclass(frozen=True)
class ConfidenceInterval:
    """A percentile bootstrap interval; unpacks as ``low, high``."""

    low: float
    high: float
    estimate: float
    alpha: float
    n_resamples: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))


def _check_common(n_resamples: int, alpha: float, seed: int) -> None:
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise InvalidArgumentError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")


def _interval(values: np.ndarray, estimate: float, alpha: float) -> ConfidenceInterval:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        low = high = float("nan")
    else:
        low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return ConfidenceInterval(float(low), float(high), float(estimate), alpha, len(values))


def bootstrap_ci(
    confids: Any,
    residuals: Any,
    *,
    metric: str = "aurc",
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    labels: Any = None,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of one metric (any name of :data:`METRIC_NAMES`).

    Resamples whose metric is undefined (e.g. AUROC of a resample with one class) are left out
    of the percentiles.
    """
    check_choice(metric, "metric", METRIC_NAMES)
    _check_common(n_resamples, alpha, seed)
    res = paired_bootstrap(
        {"csf": confids},
        residuals,
        n_resamples=n_resamples,
        seed=seed,
        labels=labels,
        nan_policy=nan_policy,
        check_range=check_range,
    )
    return res.ci(metric, alpha=alpha)["csf"]


@dataclass(frozen=True)
class PairedBootstrap:
    """Metrics of every CSF on shared resamples: ``values[b, k, m]``."""

    csfs: tuple[str, ...]
    metric_names: tuple[str, ...]
    values: np.ndarray
    estimates: np.ndarray
    seed: int

    def metric(self, name: str) -> np.ndarray:
        """Array [n_resamples, n_csfs] of one metric."""
        check_choice(name, "metric", self.metric_names)
        return self.values[:, :, self.metric_names.index(name)]

    def ci(self, name: str, *, alpha: float = 0.05) -> dict[str, ConfidenceInterval]:
        """Percentile CI of metric ``name`` per CSF."""
        j = self.metric_names.index(check_choice(name, "metric", self.metric_names))
        return {
            csf: _interval(self.values[:, k, j], self.estimates[k, j], alpha)
            for k, csf in enumerate(self.csfs)
        }

    def to_frame(self):  # -> polars.DataFrame
        """Long table: resample, csf, metric, value."""
        import polars as pl

        b, k, m = self.values.shape
        return pl.DataFrame(
            {
                "resample": np.repeat(np.arange(b), k * m),
                "csf": np.tile(np.repeat(np.array(self.csfs), m), b),
                "metric": np.tile(np.array(self.metric_names), b * k),
                "value": self.values.reshape(-1),
            }
        )


def paired_bootstrap(
    confids: Mapping[str, Any],
    residuals: Any,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    labels: Any = None,
    nan_policy: str = "raise",
    check_range: bool = True,
) -> PairedBootstrap:
    """Bootstrap every CSF on the same resamples (needed for rankings and paired tests).

    Parameters
    ----------
    confids
        Mapping CSF name -> confidences (all of the same length).
    residuals
        One residual array shared by all CSFs, or a mapping CSF name -> residuals (e.g. CSFs
        of different models on the same samples).
    """
    _check_common(n_resamples, 0.05, seed)
    if not isinstance(confids, Mapping) or not confids:
        raise InvalidArgumentError("confids must be a non-empty mapping name -> confidences")
    names = tuple(confids)
    res_of = residuals if isinstance(residuals, Mapping) else dict.fromkeys(names, residuals)
    if set(res_of) != set(names):
        raise InvalidArgumentError("residual mapping must have the same keys as confids")
    prepared: list[Samples] = []
    for name in names:
        s = prepare(
            confids[name],
            res_of[name],
            labels=labels,
            nan_policy="raise" if nan_policy == "propagate" else nan_policy,
            check_range=check_range,
        )
        prepared.append(s)
    sizes = {len(s.confids) for s in prepared}
    if len(sizes) > 1:
        raise ShapeMismatchError(
            "paired bootstrap needs the same samples for every CSF; got sizes "
            + ", ".join(f"{n}={len(s.confids)}" for n, s in zip(names, prepared))
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sets = [(s.confids, s.residuals, s.labels) for s in prepared]
        values = _native.bootstrap_risk(sets, int(n_resamples), int(seed))
        estimates = np.array([[_native.risk_metrics(*st)[m] for m in METRIC_NAMES] for st in sets])
    return PairedBootstrap(names, METRIC_NAMES, values, estimates, int(seed))
