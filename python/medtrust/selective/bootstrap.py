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
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    NAN_POLICIES,
    NanPolicy,
    as_float_1d,
    as_int,
    as_real,
    check_choice,
    check_same_length,
)
from medtrust.exceptions import (
    EmptyInputError,
    InvalidArgumentError,
    MedtrustWarning,
    ShapeMismatchError,
)
from medtrust.selective._inputs import Samples, prepare

if TYPE_CHECKING:
    import polars as pl

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
    """A percentile bootstrap interval; unpacks as ``low, high``.

    Attributes
    ----------
    low
        Lower bound (the ``alpha / 2`` percentile of the resampled values).
    high
        Upper bound (the ``1 - alpha / 2`` percentile).
    estimate
        The metric on the full data.
    alpha
        Two-sided level of the interval.
    n_resamples
        Resamples whose metric was defined (those used for the percentiles).
    """

    low: float
    high: float
    estimate: float
    alpha: float
    n_resamples: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict.

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row: low, high, estimate, alpha, n_resamples.

        Returns
        -------
        polars.DataFrame
            One row: ``low, high, estimate, alpha, n_resamples``.
        """
        import polars as pl

        return pl.DataFrame([self.to_dict()])


def _check_common(n_resamples: int, alpha: float, seed: int) -> None:
    # Fixed-width bounds: the kernel takes n_resamples as usize and the seed as u64 (a larger
    # Python int raised a bare OverflowError); the memory bound of n_resamples is the kernel's.
    as_int(n_resamples, "n_resamples", lo=1, hi=2**63 - 1)
    as_real(alpha, "alpha", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    as_int(seed, "seed", lo=0, hi=2**64 - 1)


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
    nan_policy: NanPolicy = "raise",
    check_range: bool = True,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of one metric (any name of :data:`METRIC_NAMES`).

    Resamples whose metric is undefined (e.g. AUROC of a resample with one class) are left out
    of the percentiles.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    metric
        Metric name (any of :data:`METRIC_NAMES`).
    n_resamples
        Number of bootstrap resamples.
    alpha
        Two-sided level: intervals are ``1 - alpha`` intervals.
    seed
        Seed of the random generator (results are identical for any thread count).
    labels
        Class labels per sample (for the balanced metrics).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    ConfidenceInterval
        Percentile interval (unpacks as ``low, high``) with the estimate on the full data.
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
    """Metrics of every CSF on shared resamples: ``values[b, k, m]``.

    Attributes
    ----------
    csfs
        CSF names, in the order of axis 1 of ``values``.
    metric_names
        Metric names, in the order of axis 2 of ``values``.
    values
        Array ``[n_resamples, n_csfs, n_metrics]`` of the metrics on each shared resample.
    estimates
        Array ``[n_csfs, n_metrics]`` of the metrics on the full data.
    seed
        Seed the resamples were drawn with.
    n_dropped
        Rows dropped by ``nan_policy='omit'``.
    """

    csfs: tuple[str, ...]
    metric_names: tuple[str, ...]
    values: np.ndarray
    estimates: np.ndarray
    seed: int
    #: Samples dropped under ``nan_policy="omit"``: the union over every CSF (and the
    #: residuals and labels) of the rows holding NaN or inf, so that resample ``b`` draws the
    #: same cases for every CSF.
    n_dropped: int = 0

    def metric(self, name: str) -> np.ndarray:
        """Array [n_resamples, n_csfs] of one metric.

        Parameters
        ----------
        name
            Metric name (one of ``metric_names``).

        Returns
        -------
        numpy.ndarray
            Array ``[n_resamples, n_csfs]`` of that metric.
        """
        check_choice(name, "metric", self.metric_names)
        return self.values[:, :, self.metric_names.index(name)]

    def ci(self, name: str, *, alpha: float = 0.05) -> dict[str, ConfidenceInterval]:
        """Percentile CI of metric ``name`` per CSF.

        Parameters
        ----------
        name
            Metric name (one of ``metric_names``).
        alpha
            Two-sided level: intervals are ``1 - alpha`` intervals.

        Returns
        -------
        dict of str to ConfidenceInterval
            Percentile interval of the metric per CSF name.
        """
        j = self.metric_names.index(check_choice(name, "metric", self.metric_names))
        return {
            csf: _interval(self.values[:, k, j], self.estimates[k, j], alpha)
            for k, csf in enumerate(self.csfs)
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with nested lists (``values[b][k][m]``).

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {
            "csfs": list(self.csfs),
            "metric_names": list(self.metric_names),
            "values": self.values.tolist(),
            "estimates": self.estimates.tolist(),
            "seed": self.seed,
        }

    def to_frame(self) -> pl.DataFrame:
        """Long table, one row per (resample, csf, metric): resample, csf, metric, value.

        Returns
        -------
        polars.DataFrame
            Long table, one row per (resample, csf, metric): ``resample, csf, metric, value``.
        """
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
    nan_policy: NanPolicy = "raise",
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
    nan_policy
        ``"omit"`` drops the union of the rows holding NaN or inf in any CSF, residual or label
        array (warning with the count, kept in ``n_dropped``): every CSF is then evaluated on
        the same cases and the resamples stay paired. ``"raise"`` (default) refuses them;
        ``"propagate"`` acts as ``"raise"`` here (a resample of NaN has no interval).
    n_resamples
        Number of bootstrap resamples.
    seed
        Seed of the random generator (results are identical for any thread count).
    labels
        Class labels per sample (for the balanced metrics).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    PairedBootstrap
        Every metric of every CSF on each shared resample.

    Examples
    --------
    >>> import warnings
    >>> a = [float("nan"), 0.7, 0.6, 0.2, 0.9, 0.1]
    >>> b = [0.5, float("nan"), 0.6, 0.2, 0.9, 0.1]
    >>> with warnings.catch_warnings(record=True):
    ...     res = paired_bootstrap({"a": a, "b": b}, [1, 0, 0, 1, 0, 1], n_resamples=20,
    ...                            nan_policy="omit")
    >>> res.n_dropped
    2
    """
    _check_common(n_resamples, 0.05, seed)
    if not isinstance(confids, Mapping) or not confids:
        raise InvalidArgumentError("confids must be a non-empty mapping name -> confidences")
    names = tuple(confids)
    res_of = residuals if isinstance(residuals, Mapping) else dict.fromkeys(names, residuals)
    if set(res_of) != set(names):
        raise InvalidArgumentError("residual mapping must have the same keys as confids")
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    n_dropped = 0
    if nan_policy == "omit":
        confids, res_of, labels, n_dropped = _drop_union_of_nan_rows(names, confids, res_of, labels)
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
    return PairedBootstrap(names, METRIC_NAMES, values, estimates, int(seed), n_dropped)


def _drop_union_of_nan_rows(
    names: tuple[str, ...], confids: Mapping[str, Any], res_of: Mapping[str, Any], labels: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None, int]:
    """Drop every row that holds NaN or inf in any compared array (one mask for all CSFs).

    Each CSF dropping only its own NaN rows would make resample ``b`` point at different cases
    per CSF: the comparison would no longer be paired.
    """
    conf = {n: as_float_1d(confids[n], f"confids[{n!r}]") for n in names}
    res = {n: as_float_1d(res_of[n], f"residuals[{n!r}]") for n in names}
    lab = None if labels is None else as_float_1d(labels, "labels")
    arrays = {f"confids[{n!r}]": a for n, a in conf.items()}
    arrays.update({f"residuals[{n!r}]": a for n, a in res.items()})
    if lab is not None:
        arrays["labels"] = lab
    n = check_same_length(**arrays)
    bad = np.zeros(n, dtype=bool)
    for a in arrays.values():
        bad |= ~np.isfinite(a)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return conf, res, lab, 0
    if n_bad == n:
        raise EmptyInputError(
            f"nan_policy='omit': all {n} sample(s) hold NaN or inf in some CSF, residual or label"
        )
    warnings.warn(
        f"nan_policy='omit': dropped {n_bad} of {n} sample(s) holding NaN or inf in any of the "
        f"{len(names)} compared CSF(s), residuals or labels (the same rows for every CSF)",
        MedtrustWarning,
        stacklevel=3,
    )
    keep = ~bad
    conf = {k: np.ascontiguousarray(a[keep]) for k, a in conf.items()}
    res = {k: np.ascontiguousarray(a[keep]) for k, a in res.items()}
    return conf, res, None if lab is None else np.ascontiguousarray(lab[keep]), n_bad
