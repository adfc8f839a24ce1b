"""Risk-coverage metrics of selective classification (AURC, AUGRC and their family).

All values come from the Rust core, computed from one grouping of the samples by confidence
with the discrete convention of fd-shifts (tie groups accepted together, a coverage-0 end point,
trapezoid rule), on the raw [0, 1] scale.

Undefined cases
---------------
- empty input: :class:`~medtrust.exceptions.EmptyInputError`;
- one sample: defined by the convention (AURC = AUGRC = its residual);
- ties: a tie group is accepted or rejected as a whole, so results never depend on input order;
- NaN / inf: ``nan_policy="raise"`` (default), ``"omit"`` (drop and warn with the count) or
  ``"propagate"`` (return NaN);
- all correct or all wrong: AURC / AUGRC are defined; AUROC and FPR@TPR return NaN with an
  :class:`~medtrust.exceptions.UndefinedMetricWarning`;
- residuals outside [0, 1]: error unless ``check_range=False`` (e.g. HD95 risks).

Examples
--------
>>> from medtrust.selective import aurc, augrc, metrics
>>> aurc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
0.1875
>>> round(metrics([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1]).naurc, 4)
0.0983
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, make_dataclass
from typing import TYPE_CHECKING, Any

from medtrust import _native
from medtrust._arrays import (
    NanPolicy,
    check_unit_interval,
)
from medtrust.exceptions import UndefinedMetricWarning
from medtrust.selective._inputs import Samples, check_targets, coerce, prepare, require_binary

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "SelectiveMetrics",
    "augrc",
    "augrc_ba",
    "augrc_optimal",
    "aurc",
    "aurc_ba",
    "aurc_optimal",
    "coverage_at_risk",
    "eaugrc",
    "eaurc",
    "ece",
    "failure_auroc",
    "failure_nll",
    "fpr_at_tpr",
    "mce",
    "metrics",
    "naurc",
    "selective_risk_at_coverage",
]


class _MetricsMethods:
    """Methods of :class:`SelectiveMetrics` (its fields come from the native metric list)."""

    def to_dict(self) -> dict[str, float]:
        """Plain dict of every field."""
        return asdict(self)  # type: ignore[call-overload]

    def to_frame(self) -> pl.DataFrame:
        """One row with every field (the item is the set of samples)."""
        import polars as pl

        return pl.DataFrame([self.to_dict()])

    def scaled(self, factor: float = 1000.0) -> dict[str, float]:
        """Areas multiplied by ``factor`` (fd-shifts displays AURC x 1000)."""
        keys = ("aurc", "augrc", "aurc_optimal", "augrc_optimal", "eaurc", "eaugrc")
        d = self.to_dict()
        return {k: (v * factor if k in keys else v) for k, v in d.items()}


# The metric list is written once, in the Rust core (`metric_family!` in risk/metrics.rs):
# the fields here are derived from it, so the struct, the names, the array order and this class
# cannot drift apart.
_FIELDS = [(k, int if k == "n" else float) for k in _native.RISK_METRIC_NAMES]

if TYPE_CHECKING:

    class SelectiveMetrics(_MetricsMethods):
        """Typing view of the class built below: every metric is a float attribute."""

        n: int
        n_dropped: int

        def __init__(self, **fields: float) -> None: ...
        def __getattr__(self, name: str) -> float: ...

else:
    SelectiveMetrics = make_dataclass(
        "SelectiveMetrics",
        [*_FIELDS, ("n_dropped", int)],
        bases=(_MetricsMethods,),
        frozen=True,
    )
    SelectiveMetrics.__module__ = __name__
    SelectiveMetrics.__doc__ = """Every risk-coverage metric of one set of samples (raw scale).

    Fields, in order: the metric names of ``medtrust._native.RISK_METRIC_NAMES`` (floats; the
    last, ``n``, an int), then ``n_dropped``; each metric has a function of its name in
    :mod:`medtrust.selective`. Lower is better unless noted: ``failure_auroc`` (higher is
    better) and ``fpr_at_tpr`` are NaN for continuous residuals or a single class; ``aurc_ba`` /
    ``augrc_ba`` are NaN without labels; ``ece``, ``mce`` and ``failure_nll`` are NaN unless
    confidences lie in [0, 1] and residuals are binary.

    Examples
    --------
    >>> m = SelectiveMetrics(**dict.fromkeys(_native.RISK_METRIC_NAMES, 0.0), n_dropped=0)
    >>> m.aurc, list(m.to_dict())[-2:]
    (0.0, ['n', 'n_dropped'])
    """


_NAN_FIELDS = dict.fromkeys(_native.RISK_METRIC_NAMES, math.nan)


def _core(
    s: Samples,
    *,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
) -> dict:
    if s.propagate_nan:
        return dict(_NAN_FIELDS, n=float(len(s.confids)))
    return _native.risk_metrics(s.confids, s.residuals, s.labels, tpr, coverage, risk, bins)


def metrics(
    confids: Any,
    residuals: Any,
    *,
    labels: Any = None,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
    nan_policy: NanPolicy = "raise",
    check_range: bool = True,
) -> SelectiveMetrics:
    """All risk-coverage metrics at once, from a single grouping pass in Rust.

    Parameters
    ----------
    confids, residuals
        Confidence per sample (higher = more confident) and its residual (0/1 failure or a
        continuous loss in [0, 1]).
    labels
        Class labels, enabling the class-balanced ``aurc_ba`` / ``augrc_ba``.
    tpr, coverage, risk
        Targets of ``fpr_at_tpr``, ``selective_risk_at_coverage`` and ``coverage_at_risk``.
    bins
        Equal-width bins of ECE / MCE.
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).

    Returns
    -------
    SelectiveMetrics
        Every metric of :data:`METRIC_NAMES` on the raw [0, 1] scale, plus ``n`` (samples used) and
        ``n_dropped`` (samples omitted by ``nan_policy='omit'``).

    Examples
    --------
    >>> m = metrics([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
    >>> round(m.aurc, 6), m.augrc
    (0.270833, 0.1875)
    """
    targets = check_targets(tpr=tpr, coverage=coverage, risk=risk, bins=bins)
    arrays = coerce(confids, residuals, labels, nan_policy)
    c, r, lab = arrays["confids"], arrays["residuals"], arrays.get("labels")
    # The kernel checks the values in its own first pass; None means an input needs the full
    # validation (NaN / inf, residuals out of range, non-integer labels), which then raises or
    # applies the NaN policy. The arrays are coerced once: prepare() gets the float64 vectors.
    screened = _native.risk_metrics_screened(c, r, lab, check_range=check_range, **targets)
    if screened is not None:
        d, binary = screened
        n_dropped, propagate = 0, False
    else:
        s = prepare(c, r, labels=lab, nan_policy=nan_policy, check_range=check_range)
        d = _core(s, **targets)
        binary, n_dropped, propagate = s.binary, s.n_dropped, s.propagate_nan
    if math.isnan(d["failure_auroc"]) and not propagate and binary:
        _warn_single_class("failure_auroc / fpr_at_tpr")
    return SelectiveMetrics(
        **{k: float(v) for k, v in d.items() if k != "n"},
        n=int(d["n"]),
        n_dropped=n_dropped,
    )


def _warn_single_class(what: str) -> None:
    warnings.warn(
        f"{what} is undefined with only one class (all correct or all failures); returning NaN",
        UndefinedMetricWarning,
        stacklevel=3,
    )


def _one(name: str, confids: Any, residuals: Any, **kw: Any) -> float:
    targets = check_targets(**{k: kw.pop(k) for k in ("tpr", "coverage", "risk") if k in kw})
    s = prepare(confids, residuals, **kw)
    return float(_core(s, **targets)[name])


def aurc(
    confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise", check_range: bool = True
) -> float:
    """Area under the selective-risk-coverage curve.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        AURC on the raw [0, 1] scale (lower is better; fd-shifts prints x 1000).

    Examples
    --------
    >>> aurc([0.5] * 4, [0, 1, 0, 1])
    0.5
    """
    return _one("aurc", confids, residuals, nan_policy=nan_policy, check_range=check_range)


def augrc(
    confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise", check_range: bool = True
) -> float:
    """Area under the generalized-risk-coverage curve (Traub et al., 2024).

    Equals (1/n^2) sum_i l_i (r_i - 1/2) with r_i the ascending mid-rank of confidence i.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    check_range
        Refuse residuals outside [0, 1] (default); False accepts any finite loss (e.g. HD95 in mm).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        AUGRC on the raw [0, 1] scale (lower is better).

    Examples
    --------
    >>> augrc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    0.15625
    """
    return _one("augrc", confids, residuals, nan_policy=nan_policy, check_range=check_range)


def aurc_optimal(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """AURC of the oracle ranking: ``err + (1 - err) ln(1 - err)`` for binary residuals.

    For continuous residuals, the AURC of confidence = -residual with one point per sample.

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

    Returns
    -------
    float
        The oracle AURC on the raw [0, 1] scale.

    Examples
    --------
    >>> round(aurc_optimal([0.1, 0.2], [0, 1]), 6)
    0.153426
    """
    return _one("aurc_optimal", confids, residuals, nan_policy=nan_policy)


def augrc_optimal(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """AUGRC of the oracle ranking (``err^2 / 2`` for binary residuals).

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

    Returns
    -------
    float
        The oracle AUGRC on the raw [0, 1] scale.

    Examples
    --------
    >>> augrc_optimal([0.1, 0.2], [0, 1])
    0.125
    """
    return _one("augrc_optimal", confids, residuals, nan_policy=nan_policy)


def eaurc(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """Excess AURC, ``aurc - aurc_optimal``.

    Slightly negative for a perfect ranking of binary residuals: the analytic optimum is the
    large-n limit of the discrete one.

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

    Returns
    -------
    float
        AURC minus its oracle value (0 = oracle ranking).

    Examples
    --------
    >>> round(eaurc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1]), 6)
    0.034074
    """
    return _one("eaurc", confids, residuals, nan_policy=nan_policy)


def eaugrc(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """Excess AUGRC, ``augrc - augrc_optimal``.

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

    Returns
    -------
    float
        AUGRC minus its oracle value (0 = oracle ranking).

    Examples
    --------
    >>> eaugrc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    0.03125
    """
    return _one("eaugrc", confids, residuals, nan_policy=nan_policy)


def naurc(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """Normalized AURC, ``(aurc - aurc*) / (err - aurc*)``: 0 = oracle, 1 = random.

    NaN when the denominator is 0 (e.g. no failures at all).

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

    Returns
    -------
    float
        Normalized AURC: 0 for the oracle ranking, 1 for a random one; NaN when undefined.

    Examples
    --------
    >>> round(naurc([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1]), 6)
    0.338765
    """
    return _one("naurc", confids, residuals, nan_policy=nan_policy)


def failure_auroc(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """AUROC of separating correct (positive) from failed samples; ties count 1/2.

    Binary residuals only. NaN with an :class:`UndefinedMetricWarning` when only one class is
    present.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        0/1 failure per sample (1 = failed).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        AUROC in [0, 1] (higher is better); NaN with an
        :class:`~medtrust.exceptions.UndefinedMetricWarning` when all samples are correct or all
        failed.

    Examples
    --------
    >>> failure_auroc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    0.875
    """
    s = prepare(confids, residuals, nan_policy=nan_policy)
    require_binary(s, "failure_auroc")
    v = float(_core(s)["failure_auroc"])
    if math.isnan(v) and not s.propagate_nan:
        _warn_single_class("failure_auroc")
    return v


def fpr_at_tpr(
    confids: Any, residuals: Any, *, tpr: float = 0.95, nan_policy: NanPolicy = "raise"
) -> float:
    """Smallest FPR among ROC points with TPR >= ``tpr`` (correct = positive).

    Points with TPR >= tpr - 0.0005 count (0.9495 for 0.95, as fd-shifts) to absorb float
    error. Binary residuals only; NaN with a warning for a single class.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        0/1 failure per sample (1 = failed).
    tpr
        Target true-positive rate (correct samples are positives).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        False-positive rate in [0, 1] (lower is better); NaN with a warning for a single class.

    Examples
    --------
    >>> fpr_at_tpr([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    0.5
    """
    targets = check_targets(tpr=tpr)
    s = prepare(confids, residuals, nan_policy=nan_policy)
    require_binary(s, "fpr_at_tpr")
    v = float(_core(s, **targets)["fpr_at_tpr"])
    if math.isnan(v) and not s.propagate_nan:
        _warn_single_class("fpr_at_tpr")
    return v


def selective_risk_at_coverage(
    confids: Any, residuals: Any, coverage: float, *, nan_policy: NanPolicy = "raise"
) -> float:
    """Minimum selective risk over curve points with coverage >= ``coverage``.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    coverage
        Smallest coverage (fraction of accepted samples) in (0, 1].
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        Selective risk (mean residual of the accepted samples) at that coverage.

    Examples
    --------
    >>> selective_risk_at_coverage([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1], 0.5)
    0.3333333333333333
    """
    return _one(
        "selective_risk_at_coverage",
        confids,
        residuals,
        coverage=coverage,
        nan_policy=nan_policy,
        check_range=False,
    )


def coverage_at_risk(
    confids: Any, residuals: Any, risk: float, *, nan_policy: NanPolicy = "raise"
) -> float:
    """Maximum coverage over curve points with selective risk <= ``risk`` (NaN when none).

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    risk
        Largest allowed selective risk.
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        Coverage in [0, 1]; NaN when no operating point reaches the risk.

    Examples
    --------
    >>> coverage_at_risk([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1], 0.4)
    0.75
    """
    return _one(
        "coverage_at_risk",
        confids,
        residuals,
        risk=risk,
        nan_policy=nan_policy,
        check_range=False,
    )


def aurc_ba(confids: Any, residuals: Any, labels: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """Class-balanced AURC, as fd-shifts' ``selective_risk_ba_stats``.

    The selective risk of an accepted set is the mean over the K classes in the data of each
    class's mean residual among the accepted samples of that class, a class with no accepted
    sample contributing 0 (one minus the balanced accuracy of the accepted set, for 0/1
    residuals). Tie groups and the trapezoid rule as :func:`aurc`.

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    labels
        Class label per sample (one of K classes in the data).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        Class-balanced AURC on the raw [0, 1] scale.

    Examples
    --------
    >>> aurc_ba([0, 1, 2, 3], [0, 1, 0, 1], [0, 0, 1, 1])
    0.5
    """
    s = prepare(confids, residuals, labels=labels, nan_policy=nan_policy)
    return float(_core(s)["aurc_ba"])


def augrc_ba(
    confids: Any, residuals: Any, labels: Any, *, nan_policy: NanPolicy = "raise"
) -> float:
    """Class-balanced AUGRC (see :func:`aurc_ba`).

    The generalized risk of an accepted set is the mean over the K classes of (residual sum of
    class k among the accepted) / n_k, i.e. residuals reweighted by n / (K n_k).

    Parameters
    ----------
    confids
        Confidence per sample (1-D array-like), higher = more confident. Equal confidences form a
        tie group that is accepted or rejected as a whole.
    residuals
        Residual per sample: a 0/1 failure or a continuous loss in [0, 1] (higher = worse).
    labels
        Class label per sample (one of K classes in the data).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        Class-balanced AUGRC on the raw [0, 1] scale.

    Examples
    --------
    >>> augrc_ba([0, 1, 2, 3], [0, 1, 0, 1], [0, 0, 1, 1])
    0.3125
    """
    s = prepare(confids, residuals, labels=labels, nan_policy=nan_policy)
    return float(_core(s)["augrc_ba"])


def _calibration(
    name: str, confids: Any, residuals: Any, bins: int, nan_policy: NanPolicy
) -> float:
    targets = check_targets(bins=bins)
    s = prepare(confids, residuals, nan_policy=nan_policy)
    if not s.propagate_nan and (s.conf_min < 0.0 or s.conf_max > 1.0):
        check_unit_interval(s.confids, "confids (as probabilities of being correct)")
    return float(_core(s, **targets)[name])


def ece(confids: Any, residuals: Any, *, bins: int = 20, nan_policy: NanPolicy = "raise") -> float:
    """Expected calibration error with ``bins`` equal-width confidence bins over [0, 1].

    Bin b holds confidences in [b/bins, (b+1)/bins) (the last includes 1); a bin's accuracy is
    1 - its mean residual. Confidences must lie in [0, 1].

    Parameters
    ----------
    confids
        Confidence per sample in [0, 1], read as the probability of being correct (higher = more
        confident).
    residuals
        0/1 failure per sample (1 = failed).
    bins
        Number of equal-width confidence bins in [0, 1].
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        ECE in [0, 1] (lower is better); NaN unless confidences lie in [0, 1] and residuals are
        binary.

    Examples
    --------
    >>> round(ece([0.9, 0.2], [0, 0]), 6)
    0.45
    """
    return _calibration("ece", confids, residuals, bins, nan_policy)


def mce(confids: Any, residuals: Any, *, bins: int = 20, nan_policy: NanPolicy = "raise") -> float:
    """Maximum calibration error over non-empty bins.

    Parameters
    ----------
    confids
        Confidence per sample in [0, 1], read as the probability of being correct (higher = more
        confident).
    residuals
        0/1 failure per sample (1 = failed).
    bins
        Number of equal-width confidence bins in [0, 1].
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        MCE in [0, 1] (lower is better).

    Examples
    --------
    >>> round(mce([0.9, 0.2], [0, 0]), 6)
    0.8
    """
    return _calibration("mce", confids, residuals, bins, nan_policy)


def failure_nll(confids: Any, residuals: Any, *, nan_policy: NanPolicy = "raise") -> float:
    """NLL of the failure labels with confidence as P(correct), clipped to [1e-12, 1 - 1e-12].

    Parameters
    ----------
    confids
        Confidence per sample in [0, 1], read as the probability of being correct (higher = more
        confident).
    residuals
        0/1 failure per sample (1 = failed).
    nan_policy
        What NaN / inf in the inputs do: ``"raise"`` (default,
        :class:`~medtrust.exceptions.NaNInputError`), ``"omit"`` (drop those samples and warn once
        with their count) or ``"propagate"`` (return NaN).

    Returns
    -------
    float
        Mean negative log-likelihood in nats (lower is better).

    Examples
    --------
    >>> round(failure_nll([0.5], [1]), 6)
    0.693147
    """
    return _calibration("failure_nll", confids, residuals, 20, nan_policy)
