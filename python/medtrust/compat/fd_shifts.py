"""fd-shifts' risk-coverage analysis (``RiskCoverageStats``, ``StatsCache`` + metric functions).

(Over 400 lines: one module per peer module, so that a user of fd-shifts' ``analysis``
finds every name where fd-shifts has it; ``RiskCoverageStats``, ``StatsCache`` and the metric
functions share the one sort and the display scale.)

fd-shifts (IML-DKFZ, ``fd_shifts.analysis``) is not on the package registry; this module gives
objects with its property names, conventions and scale, computed with one shared sort and
vectorised numpy instead of per-sample Python loops:

- :class:`RiskCoverageStats` ``(confids, residuals, labels=None)``: RC points at achievable
  thresholds (coverages descending from 1 to 0, ``thresholds`` ascending, ``working_point_mask``),
  ``aurc`` / ``augrc`` / ``aurc_ba`` / ``augrc_ba`` / ``aurc_optimal`` / ``augrc_optimal`` /
  ``eaurc`` / ``eaugrc`` / ``aurc_achievable`` / ``eaurc_achievable`` on fd-shifts' display
  scale (x ``AUC_DISPLAY_SCALE`` = 1000), ``dominant_point_mask`` (vertices of the ROC convex
  hull, for binary residuals), ``evaluate_auc(cov_min, cov_max, achievable, interpolation)``
  and ``get_working_point(risk, target_risk | target_cov) -> (coverage, risk, threshold)``;
- :class:`StatsCache` ``(confids, correct, n_bins=20, labels=None, legacy=False)`` (correctness,
  not residuals) and the metric functions of fd-shifts' ``metrics.py``: ``failauc``,
  ``fpr_at_95_tpr``, ``failap_suc``, ``failap_err``, ``aurc`` (``legacy=True``: the older
  weighted-trapezoid curve), ``eaurc``, ``augrc``, ``expected_calibration_error``,
  ``maximum_calibration_error`` (confidences clipped to [0, 1], bins up to 1 + 1e-8) and
  ``failnll`` (``log(p + 1e-7)``), also reachable by name via :func:`get_metric_function`.

medtrust's own :mod:`medtrust.selective` returns the same areas on the raw [0, 1] scale.
(One module over 400 lines: it mirrors two peer classes property by property plus the metric
functions that read them, so a user finds the whole peer surface in one place.)

Deliberate differences: fd-shifts returns a partial-coverage AUC *without* the x1000 scale when no
RC point falls inside ``[cov_min, cov_max]`` and, when both limits fall in one segment above
another RC point, mixes two normalisations of the upper limit; the shim returns the exact
integral of the same curve on the x1000 scale in every case. NaN inputs give NaN areas (fd-shifts
logs a warning; ``RAISE_ON_NAN = True`` raises instead). Bootstrap CIs (``evaluate_ci``,
``aurc_ci_bs``, ``augrc_ci_bs``, ``aurc_ba_ci_bs``, ``augrc_ba_ci_bs``) follow fd-shifts'
protocol on numpy's global random state (same numbers after the same ``np.random.seed``), see
:mod:`medtrust.compat._fd_bootstrap`.

Examples
--------
>>> rc = RiskCoverageStats([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
>>> float(rc.aurc), float(rc.augrc)
(187.5, 156.25)
>>> rc.coverages.tolist()
[1.0, 0.75, 0.25, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
from scipy.spatial import ConvexHull

from medtrust import _native
from medtrust.exceptions import (
    InvalidArgumentError,
    InvalidValueError,
    MedtrustError,
    NaNInputError,
    ShapeMismatchError,
)

__all__ = [
    "AURC_DISPLAY_SCALE",
    "RiskCoverageStats",
    "StatsCache",
    "augrc",
    "aurc",
    "eaurc",
    "expected_calibration_error",
    "failap_err",
    "failap_suc",
    "failauc",
    "failnll",
    "fpr_at_95_tpr",
    "get_metric_function",
    "maximum_calibration_error",
]

#: fd-shifts reports areas multiplied by this.
AURC_DISPLAY_SCALE = 1000
RISKS: tuple[str, ...] = (
    "selective-risk",
    "generalized-risk",
    "selective-risk-ba",
    "generalized-risk-ba",
)


def _vector(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1) if x is not None else None
    if a is None or a.size == 0:
        raise InvalidValueError(f"{name} must hold at least one value")
    return a


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


class RiskCoverageStats:
    """fd-shifts' ``RiskCoverageStats``: risk-coverage points and areas (x1000), see module docs.

    Parameters
    ----------
    confids
        Confidence per sample (higher = more confident).
    residuals
        Residual per sample in [0, 1] (1 = failure; continuous allowed).
    labels
        Class labels (for the balanced-accuracy risks).

    Examples
    --------
    >>> rc = RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
    >>> rc.get_working_point(risk="selective-risk", target_cov=0.5)
    (0.75, 0.3333333333333333, 0.7)
    """

    AUC_DISPLAY_SCALE: int = AURC_DISPLAY_SCALE
    RAISE_ON_NAN: bool = False

    def __init__(self, confids: Any, residuals: Any, labels: Any = None) -> None:
        self.confids = _vector(confids, "confids")
        self.residuals = _vector(residuals, "residuals")
        if self.confids.shape != self.residuals.shape:
            raise ShapeMismatchError(
                f"confids ({self.confids.size}) and residuals ({self.residuals.size}) "
                "differ in length"
            )
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self.labels is not None and self.labels.shape != self.confids.shape:
            raise ShapeMismatchError("labels must have one value per sample")

    # -- basics ---------------------------------------------------------------------------------
    @cached_property
    def n(self) -> int:
        """Number of predictions."""
        return int(self.residuals.size)

    @cached_property
    def contains_nan(self) -> bool:
        """Whether confidences or residuals hold NaN."""
        return bool(np.isnan(self.residuals).any() or np.isnan(self.confids).any())

    @cached_property
    def is_binary(self) -> bool:
        """Whether every residual is 0 or 1."""
        return bool(np.all((self.residuals == 0) | (self.residuals == 1)))

    @cached_property
    def _order(self) -> np.ndarray:
        # One sort shared by every curve (fd-shifts sorts per curve).
        return np.argsort(self.confids)

    def _validate(self) -> None:
        if self.contains_nan and self.RAISE_ON_NAN:
            raise NaNInputError(
                f"There are {int(np.isnan(self.confids).sum())} NaN confidence values and "
                f"{int(np.isnan(self.residuals).sum())} NaN residuals."
            )

    # -- curves ---------------------------------------------------------------------------------
    def _curve(
        self, risk: str, confids: np.ndarray, residuals: np.ndarray, order: np.ndarray
    ) -> dict[str, Any]:
        """RC points (descending coverage), thresholds and working-point mask of one risk."""
        n = residuals.size
        c, r = confids[order], residuals[order]
        cut = np.flatnonzero(c[:-1] != c[1:])  # last index of each rejected tie group
        left = n - 1 - cut  # accepted samples after each cut
        coverages = np.concatenate([[1.0], left / n, [0.0]])
        thresholds = np.concatenate([c[:1], c[cut + 1]])
        if risk in ("selective-risk", "generalized-risk"):
            total = float(np.sum(r))
            remaining = total - np.cumsum(r)[cut]
            if risk == "selective-risk":
                inner = np.concatenate([[total / n], remaining / left])
                risks = np.concatenate([inner, inner[-1:]])
            else:
                inner = np.concatenate([[total / n], remaining / n])
                risks = np.concatenate([inner, [0.0]])
        elif risk == "selective-risk-ba":
            inner = self._selective_ba(r, self._sorted_labels(order), cut, left)
            risks = np.concatenate([inner, inner[-1:]])
        else:  # generalized-risk-ba: prevalence-reweighted residuals, generalized risk
            lab = self._require_labels()
            classes, inv, counts = np.unique(lab, return_inverse=True, return_counts=True)
            w = n / (len(classes) * counts[inv])
            return self._curve("generalized-risk", confids, residuals * w, order)
        # A working point improves strictly on every point of higher coverage.
        best_before = np.minimum.accumulate(inner)[:-1]
        wpm = np.concatenate([[True], inner[1:] < best_before])
        last = bool(inner[-1] > 0) if risk.startswith("generalized") else False
        return {
            "coverages": coverages,
            "risks": risks,
            "thresholds": thresholds,
            "working_point_mask": [*wpm.tolist(), last],
        }

    def _require_labels(self) -> np.ndarray:
        if self.labels is None:
            raise InvalidArgumentError("labels are required for the balanced-accuracy risks")
        return self.labels

    def _sorted_labels(self, order: np.ndarray) -> np.ndarray:
        return self._require_labels()[order]

    @staticmethod
    def _selective_ba(r: np.ndarray, lab: np.ndarray, cut: np.ndarray, left: np.ndarray) -> Any:
        classes = np.unique(lab)
        out = np.zeros(len(cut) + 1)
        first = np.zeros(len(classes))
        for k, cls in enumerate(classes):
            m = lab == cls
            err_k, cnt_k = np.cumsum(r * m), np.cumsum(m)
            tot_e, tot_c = err_k[-1], cnt_k[-1]
            first[k] = tot_e / tot_c
            rem_e, rem_c = tot_e - err_k[cut], tot_c - cnt_k[cut]
            out[1:] += np.divide(rem_e, rem_c, out=np.zeros(len(cut)), where=rem_c != 0)
        out[1:] /= len(classes)
        out[0] = first.mean()
        return out

    @cached_property
    def _native_curves(self) -> tuple[np.ndarray, ...] | None:
        """(coverages, SR, GR, thresholds) from the Rust kernel (one parallel sort), or None."""
        if self.contains_nan:
            return None
        try:
            return _native.risk_curve(self.confids, self.residuals)
        except MedtrustError:  # e.g. residuals outside [0, 1]: the numpy path takes any value
            return None

    def _stats(self, risk: str) -> dict[str, Any]:
        self._validate()
        native = self._native_curves
        if native is None or risk not in ("selective-risk", "generalized-risk"):
            return self._curve(risk, self.confids, self.residuals, self._order)
        cov, sr, gr, thr = native
        risks = sr if risk == "selective-risk" else gr
        inner = risks[:-1]
        best_before = np.minimum.accumulate(inner)[:-1]
        wpm = np.concatenate([[True], inner[1:] < best_before])
        last = bool(inner[-1] > 0) if risk == "generalized-risk" else False
        return {
            "coverages": cov,
            "risks": risks,
            "thresholds": thr[:-1],
            "working_point_mask": [*wpm.tolist(), last],
        }

    @cached_property
    def curve_stats_selective_risk(self) -> dict[str, Any]:
        """Selective-risk curve: coverages, risks, thresholds, working_point_mask."""
        return self._stats("selective-risk")

    @cached_property
    def curve_stats_generalized_risk(self) -> dict[str, Any]:
        """Generalized-risk curve: coverages, risks, thresholds, working_point_mask."""
        return self._stats("generalized-risk")

    @cached_property
    def curve_stats_selective_risk_ba(self) -> dict[str, Any]:
        """Balanced-accuracy selective-risk curve."""
        return self._stats("selective-risk-ba")

    @cached_property
    def curve_stats_generalized_risk_ba(self) -> dict[str, Any]:
        """Balanced-accuracy generalized-risk curve."""
        return self._stats("generalized-risk-ba")

    def get_curve_stats(self, *, risk: str) -> dict[str, Any]:
        """The curve dict of ``risk`` (one of :data:`RISKS`)."""
        if risk not in RISKS:
            raise InvalidArgumentError(f"Unknown risk type {risk!r}; choose from {RISKS}")
        return getattr(self, "curve_stats_" + risk.replace("-", "_"))

    @property
    def coverages(self) -> np.ndarray:
        """Coverages in [0, 1], descending."""
        return self.curve_stats_generalized_risk["coverages"]

    @property
    def thresholds(self) -> np.ndarray:
        """Confidence thresholds, ascending."""
        return self.curve_stats_generalized_risk["thresholds"]

    @property
    def working_point_mask(self) -> list[bool]:
        """Potential working points of the generalized-risk curve."""
        return self.curve_stats_generalized_risk["working_point_mask"]

    @property
    def selective_risks(self) -> np.ndarray:
        """Selective risks (descending coverage)."""
        return self.curve_stats_selective_risk["risks"]

    @property
    def generalized_risks(self) -> np.ndarray:
        """Generalized risks (descending coverage)."""
        return self.curve_stats_generalized_risk["risks"]

    @property
    def selective_risks_ba(self) -> np.ndarray:
        """Balanced-accuracy selective risks."""
        return self.curve_stats_selective_risk_ba["risks"]

    @property
    def generalized_risks_ba(self) -> np.ndarray:
        """Balanced-accuracy generalized risks."""
        return self.curve_stats_generalized_risk_ba["risks"]

    # -- areas ----------------------------------------------------------------------------------
    @cached_property
    def aurc(self) -> float:
        """Area under the selective-risk curve (x1000)."""
        return self.evaluate_auc(risk="selective-risk")

    @cached_property
    def augrc(self) -> float:
        """Area under the generalized-risk curve (x1000)."""
        return self.evaluate_auc(risk="generalized-risk")

    @cached_property
    def aurc_ba(self) -> float:
        """AURC of the balanced-accuracy selective risk (x1000)."""
        return self.evaluate_auc(risk="selective-risk-ba")

    @cached_property
    def augrc_ba(self) -> float:
        """AUGRC of prevalence-reweighted residuals (x1000)."""
        return self.evaluate_auc(risk="generalized-risk-ba")

    @cached_property
    def aurc_achievable(self) -> float:
        """AURC over the dominant RC points, with the exact (non-linear) interpolation."""
        return self.evaluate_auc(risk="selective-risk", achievable=True, interpolation="non-linear")

    def _optimal_curve(self, risk: str) -> dict[str, Any]:
        idx = np.argsort(self.residuals, kind="stable")
        conf = np.linspace(1, 0, self.n)
        return self._curve(risk, conf, self.residuals[idx], np.argsort(conf, kind="stable"))

    @cached_property
    def aurc_optimal(self) -> float:
        """AURC of an oracle ranking (binary: ``err + (1 - err) log(1 - err + eps)``), x1000."""
        if self.contains_nan:
            return math.nan
        if self.is_binary:
            err = float(np.mean(self.residuals))
            eps = float(np.finfo(np.float64).eps)
            return self.AUC_DISPLAY_SCALE * (err + (1 - err) * math.log(1 - err + eps))
        s = self._optimal_curve("selective-risk")
        return self.evaluate_auc(coverages=s["coverages"], risks=s["risks"])

    @cached_property
    def augrc_optimal(self) -> float:
        """AUGRC of an oracle ranking (binary: ``err^2 / 2``), x1000."""
        if self.contains_nan:
            return math.nan
        if self.is_binary:
            return 0.5 * float(np.mean(self.residuals)) ** 2 * self.AUC_DISPLAY_SCALE
        s = self._optimal_curve("generalized-risk")
        return self.evaluate_auc(coverages=s["coverages"], risks=s["risks"])

    @cached_property
    def eaurc(self) -> float:
        """Excess AURC: ``aurc - aurc_optimal``."""
        return self.aurc - self.aurc_optimal

    @cached_property
    def eaurc_achievable(self) -> float:
        """``aurc_achievable - aurc_optimal``."""
        return self.aurc_achievable - self.aurc_optimal

    @cached_property
    def eaugrc(self) -> float:
        """Excess AUGRC: ``augrc - augrc_optimal``."""
        return self.augrc - self.augrc_optimal

    @cached_property
    def dominant_point_mask(self) -> np.ndarray:
        """RC points on the ROC convex hull (binary residuals), in descending coverage.

        All correct or all wrong: only the coverage-1 point. Continuous residuals: every point
        but the coverage-0 one.
        """
        k = len(self.coverages)
        if not (self.is_binary and not self.contains_nan):
            mask = np.ones(k, dtype=bool)
            mask[-1] = False
            return mask
        errors = float(np.sum(self.residuals))
        mask = np.zeros(k, dtype=bool)
        if errors in (0.0, float(self.n)):
            mask[-1] = True
            return mask[::-1]
        if k == 2:
            return np.array([True, False])
        # ROC points of "correct" (positive), from the strictest threshold: the RC points read
        # backwards (accepted = coverage * n, accepted errors = generalized risk * n).
        acc = np.rint(self.coverages[::-1] * self.n)
        fp = np.rint(self.generalized_risks[::-1] * self.n)
        tp = acc - fp
        pts = np.column_stack([np.append(fp / fp[-1], 2.0), np.append(tp / tp[-1], -1.0)])
        v = ConvexHull(pts).vertices
        v = v[(v != 0) & (v != k)]
        mask[v] = True
        return mask[::-1]

    # -- partial areas and working points -----------------------------------------------------
    def evaluate_auc(
        self,
        *,
        risk: str | None = None,
        coverages: Any = None,
        risks: Any = None,
        cov_min: float = 0,
        cov_max: float = 1,
        achievable: bool = False,
        interpolation: str = "linear",
    ) -> float:
        """Area under a risk-coverage curve over ``[cov_min, cov_max]``, x1000.

        ``interpolation="linear"``: trapezoid rule (full range only, as fd-shifts);
        ``"non-linear"`` (selective risks): the error count and the accepted count vary
        linearly between RC points, so the exact area of each segment has a log term; below
        the lowest RC point the risk stays constant. ``achievable`` keeps the dominant points.

        Examples
        --------
        >>> rc = RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
        >>> round(rc.evaluate_auc(risk="selective-risk", interpolation="non-linear"), 3)
        284.238
        """
        if interpolation not in ("linear", "non-linear"):
            raise InvalidArgumentError(
                f"interpolation must be 'linear' or 'non-linear', got {interpolation!r}"
            )
        if self.contains_nan:
            return math.nan
        if cov_max <= cov_min or cov_max <= 0 or cov_min >= 1:
            return 0.0
        if (coverages is None) != (risks is None):
            raise InvalidArgumentError("give both coverages and risks, or neither")
        if coverages is None:
            if risk is None:
                raise InvalidArgumentError("give a risk type or coverages and risks")
            s = self.get_curve_stats(risk=risk)
            coverages, risks = s["coverages"], s["risks"]
        cov, rsk = np.asarray(coverages, float), np.asarray(risks, float)
        if achievable:
            m = self.dominant_point_mask
            cov, rsk = cov[m], rsk[m]
        if interpolation == "linear" or (risk is not None and "generalized" in risk):
            if cov_min != 0 or cov_max != 1:
                raise InvalidArgumentError(
                    "a partial coverage range needs interpolation='non-linear' (fd-shifts "
                    "implements the trapezoid rule over [0, 1] only)"
                )
            return float(-_trapezoid(rsk, cov) * self.AUC_DISPLAY_SCALE)
        area = self._exact_area(cov, rsk, float(cov_min), float(cov_max))
        return float(area * self.AUC_DISPLAY_SCALE)

    @staticmethod
    def _exact_area(cov: np.ndarray, rsk: np.ndarray, lo: float, hi: float) -> float:
        """Exact area of SR(c) over [lo, hi]: E(c) = SR * c linear between points."""
        if cov[-1] == 0:
            cov, rsk = cov[:-1], rsk[:-1]
        # Knots ascending in coverage, with the constant-risk piece from coverage 0.
        c = np.concatenate([[0.0], cov[::-1]])
        e = np.concatenate([[0.0], (rsk * cov)[::-1]])
        const = rsk[-1]  # risk below the lowest point
        total = 0.0
        for i in range(len(c) - 1):
            a, b = max(c[i], lo), min(c[i + 1], hi)
            if b <= a:
                continue
            if i == 0:
                total += const * (b - a)
                continue
            slope = (e[i + 1] - e[i]) / (c[i + 1] - c[i])
            icpt = e[i] - slope * c[i]
            total += slope * (b - a) + icpt * math.log(b / a)
        return total

    def get_working_point(
        self, *, risk: str, target_risk: float | None = None, target_cov: float | None = None
    ) -> tuple[float, float, float]:
        """(coverage, risk, threshold) of the working point for a risk or coverage target.

        ``target_risk``: the highest-coverage working point with risk <= target;
        ``target_cov``: the lowest-risk working point with coverage >= target.
        """
        if (target_risk is None) == (target_cov is None):
            raise InvalidArgumentError("give exactly one of target_risk and target_cov")
        s = self.get_curve_stats(risk=risk)
        m = np.asarray(s["working_point_mask"], dtype=bool)
        cov, rsk = s["coverages"][m], s["risks"][m]
        thr = np.append(s["thresholds"], -np.inf)[m]
        if self.contains_nan:
            return math.nan, math.nan, math.nan
        if target_risk is not None:
            sel = np.flatnonzero(rsk <= target_risk)
            pick = np.argmax(cov[sel]) if sel.size else None
        else:
            sel = np.flatnonzero(cov >= target_cov)
            pick = np.argmin(rsk[sel]) if sel.size else None
        if pick is None:
            raise InvalidValueError("no working point meets the target")
        j = sel[pick]
        return float(cov[j]), float(rsk[j]), float(thr[j])

    # -- bootstrap CIs (fd-shifts' evaluate_ci; protocol in medtrust.compat._fd_bootstrap) ------
    def evaluate_ci(
        self,
        *,
        risk: str,
        confids: Any = None,
        residuals: Any = None,
        labels: Any = None,
        n_bs: int = 10000,
        stratified: bool = False,
    ) -> np.ndarray:
        """Percentile bootstrap CI ``[2.5 %, 97.5 %]`` of the area of ``risk`` (x1000).

        Resamples come from numpy's global random state in fd-shifts' order, so
        ``np.random.seed(s)`` before the call gives fd-shifts' numbers; the areas of the
        selective / generalized risks are computed for whole chunks of resamples at once.

        Parameters
        ----------
        risk
            "selective-risk", "generalized-risk", "selective-risk-ba" or
            "generalized-risk-ba".
        confids, residuals, labels
            Other data than the object's (each None: the object's).
        n_bs
            Number of resamples (fd-shifts' default 10 000).
        stratified
            Stratify the resamples by residual when residuals are binary (scikit-learn's
            ``resample``, as fd-shifts).

        Returns
        -------
        numpy.ndarray
            ``[low, high]`` on the x1000 scale; ``[nan, nan]`` when this object's inputs hold
            NaN.

        Examples
        --------
        >>> np.random.seed(0)
        >>> rc = RiskCoverageStats([0.9, 0.8, 0.7, 0.3, 0.2], [0, 0, 1, 0, 1])
        >>> lo, hi = rc.evaluate_ci(risk="generalized-risk", n_bs=500)
        >>> bool(0 <= lo < rc.augrc < hi)
        True
        """
        from medtrust._arrays import check_choice
        from medtrust.compat._fd_bootstrap import bootstrap_areas_ci

        check_choice(risk, "risk", RISKS)
        c = self.confids if confids is None else _vector(confids, "confids")
        r = self.residuals if residuals is None else _vector(residuals, "residuals")
        lab = self.labels if labels is None else np.asarray(labels).reshape(-1)
        if c.shape != r.shape:
            raise ShapeMismatchError("confids and residuals differ in length")
        if self.contains_nan:  # fd-shifts' areas are NaN then, and so are their percentiles
            # Consume the global random stream as fd-shifts' n_bs draws would.
            np.random.choice(np.arange(c.size), size=(n_bs, c.size))  # noqa: NPY002
            return np.array([math.nan, math.nan])

        def one(idx: np.ndarray) -> float:
            sub = RiskCoverageStats(c[idx], r[idx], None if lab is None else lab[idx])
            st = sub._curve(risk, sub.confids, sub.residuals, sub._order)
            return float(
                np.sum(
                    (st["coverages"][:-1] - st["coverages"][1:])
                    * (st["risks"][:-1] + st["risks"][1:])
                    / 2
                )
                * self.AUC_DISPLAY_SCALE
            )

        if risk.endswith("-ba") and lab is None:
            raise InvalidArgumentError("labels are required for the balanced-accuracy risks")
        return bootstrap_areas_ci(
            c,
            r,
            risk,
            n_bs=n_bs,
            stratified=stratified,
            scale=float(self.AUC_DISPLAY_SCALE),
            per_resample=one,
        )

    @cached_property
    def aurc_ci_bs(self) -> np.ndarray:
        """Bootstrap CI (2.5 / 97.5 percentiles, x1000) of the AURC (see :meth:`evaluate_ci`)."""
        return self.evaluate_ci(risk="selective-risk")

    @cached_property
    def augrc_ci_bs(self) -> np.ndarray:
        """Bootstrap CI (x1000) of the AUGRC (see :meth:`evaluate_ci`)."""
        return self.evaluate_ci(risk="generalized-risk")

    @cached_property
    def aurc_ba_ci_bs(self) -> np.ndarray:
        """Bootstrap CI (x1000) of the balanced-accuracy AURC (see :meth:`evaluate_ci`)."""
        return self.evaluate_ci(risk="selective-risk-ba")

    @cached_property
    def augrc_ba_ci_bs(self) -> np.ndarray:
        """Bootstrap CI (x1000) of the balanced-accuracy AUGRC (see :meth:`evaluate_ci`)."""
        return self.evaluate_ci(risk="generalized-risk-ba")


# -- StatsCache and metric functions (fd-shifts' metrics.py) ---------------------------------------
class StatsCache:
    """fd-shifts' ``StatsCache``: confidences and *correctness* (1 = correct), with cached stats.

    Examples
    --------
    >>> sc = StatsCache([0.9, 0.8, 0.8, 0.3], [1, 0, 1, 0])
    >>> float(aurc(sc)), float(failauc(sc))
    (187.5, 0.875)
    """

    def __init__(
        self,
        confids: Any,
        correct: Any,
        n_bins: int = 20,
        labels: Any = None,
        legacy: bool = False,
    ) -> None:
        self.confids = _vector(confids, "confids")
        self.correct = _vector(correct, "correct")
        if self.confids.shape != self.correct.shape:
            raise ShapeMismatchError("confids and correct must have the same length")
        if int(n_bins) < 1:
            raise InvalidArgumentError(f"n_bins must be >= 1, got {n_bins}")
        self.n_bins = int(n_bins)
        self.labels = labels
        self.legacy = bool(legacy)

    @property
    def residuals(self) -> np.ndarray:
        """``1 - correct``."""
        return 1 - self.correct

    @cached_property
    def rc_stats(self) -> RiskCoverageStats:
        """The :class:`RiskCoverageStats` of these samples."""
        return RiskCoverageStats(self.confids, self.residuals, self.labels)

    @cached_property
    def roc_curve_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr) of "correct" as the positive class, one point per distinct confidence."""
        order = np.argsort(-self.confids, kind="stable")
        c, y = self.confids[order], self.correct[order]
        ends = np.concatenate([np.flatnonzero(c[:-1] != c[1:]), [len(c) - 1]])
        tp = np.concatenate([[0.0], np.cumsum(y)[ends]])
        fp = np.concatenate([[0.0], np.cumsum(1 - y)[ends]])
        with np.errstate(invalid="ignore", divide="ignore"):
            return fp / fp[-1], tp / tp[-1]

    @cached_property
    def legacy_rc_curve_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """fd-shifts' older curve: (coverages, risks, weights) of the weighted trapezoid.

        A point is emitted after removing the least confident sample and whenever the removed
        sample's confidence differs from the previous one; each weight is the coverage removed
        since the last point, and a final coverage-0 point repeats the last risk.
        """
        r = self.residuals[np.argsort(self.confids)]
        c = np.sort(self.confids)
        n = r.size
        if n < 2:
            return np.array([1.0]), np.array([float(np.sum(r)) / n]), np.zeros(0)
        i = np.arange(n - 1)
        sr = (np.sum(r) - np.cumsum(r)[:-1]) / (n - 1 - i)
        emit = np.concatenate([[True], c[1 : n - 1] != c[: n - 2]])
        pts = i[emit]
        w = np.diff(np.concatenate([[-1], pts])) / n
        risks = [np.sum(r) / n, *sr[pts]]
        covs = [1.0, *((n - 1 - pts) / n)]
        tail = n - 2 - pts[-1]
        if tail > 0:
            risks.append(risks[-1])
            covs.append(0.0)
            w = np.append(w, tail / n)
        return np.asarray(covs), np.asarray(risks, dtype=float), w

    @cached_property
    def calibration_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bin weight, bin accuracy, bin confidence) of the non-empty bins."""
        p = np.clip(self.confids, 0, 1)
        y = self.correct
        classes = np.unique(y)
        if len(classes) > 2:
            raise InvalidValueError(f"correct must be binary, got values {classes.tolist()}")
        # scikit-learn's label_binarize: the larger class is positive; one class -> all 0.
        y = (y == classes[-1]).astype(float) if len(classes) == 2 else np.zeros_like(y)
        edges = np.linspace(0.0, 1.0 + 1e-8, self.n_bins + 1)
        ids = np.digitize(p, edges) - 1
        tot = np.bincount(ids, minlength=len(edges))
        s_p = np.bincount(ids, weights=p, minlength=len(edges))
        s_y = np.bincount(ids, weights=y, minlength=len(edges))
        nz = tot != 0
        return tot[nz] / tot.sum(), s_y[nz] / tot[nz], s_p[nz] / tot[nz]

    @cached_property
    def bin_discrepancies(self) -> np.ndarray:
        """|accuracy - confidence| per non-empty bin."""
        _, acc, conf = self.calibration_stats
        return np.abs(acc - conf)


def failauc(stats_cache: StatsCache) -> float:
    """Failure AUROC (correct = positive; ties by the trapezoid rule)."""
    fpr, tpr = stats_cache.roc_curve_stats
    if not (np.all(np.isfinite(fpr)) and np.all(np.isfinite(tpr))):
        return math.nan
    return _trapezoid(tpr, fpr)


def fpr_at_95_tpr(stats_cache: StatsCache) -> float:
    """Smallest FPR among ROC points with TPR >= 0.9495."""
    fpr, tpr = stats_cache.roc_curve_stats
    ok = tpr >= 0.9495
    return float(np.min(fpr[ok])) if ok.any() else math.nan


def _average_precision(pos: np.ndarray, score: np.ndarray) -> float:
    """Step-wise average precision (scikit-learn's definition); NaN without positives."""
    order = np.argsort(-score, kind="stable")
    s, y = score[order], pos[order]
    ends = np.concatenate([np.flatnonzero(s[:-1] != s[1:]), [len(s) - 1]])
    tp = np.cumsum(y)[ends]
    fp = np.cumsum(1 - y)[ends]
    if tp[-1] == 0:
        return math.nan
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def failap_suc(stats_cache: StatsCache) -> float:
    """Average precision of detecting successes by confidence."""
    return _average_precision(stats_cache.correct, stats_cache.confids)


def failap_err(stats_cache: StatsCache) -> float:
    """Average precision of detecting failures by negative confidence."""
    return _average_precision(1 - stats_cache.correct, -stats_cache.confids)


def aurc(stats_cache: StatsCache) -> float:
    """AURC x1000 (``legacy``: fd-shifts' older weighted trapezoid curve)."""
    if stats_cache.legacy:
        _, risks, w = stats_cache.legacy_rc_curve_stats
        return float(np.sum((risks[:-1] + risks[1:]) * 0.5 * w)) * AURC_DISPLAY_SCALE
    return stats_cache.rc_stats.aurc


def eaurc(stats_cache: StatsCache) -> float:
    """Excess AURC x1000 (``legacy``: against ``err + (1 - err) log(1 - err)``)."""
    if stats_cache.legacy:
        err = float(np.mean(stats_cache.residuals))
        with np.errstate(divide="ignore", invalid="ignore"):
            star = err + (1 - err) * float(np.log(1 - err))
        return aurc(stats_cache) - star * AURC_DISPLAY_SCALE
    return stats_cache.rc_stats.eaurc


def augrc(stats_cache: StatsCache) -> float:
    """AUGRC x1000."""
    return stats_cache.rc_stats.augrc


def maximum_calibration_error(stats_cache: StatsCache) -> float:
    """Largest |accuracy - confidence| over the non-empty bins."""
    return float(stats_cache.bin_discrepancies.max())


def expected_calibration_error(stats_cache: StatsCache) -> float:
    """Bin-weighted mean |accuracy - confidence| (confidences clipped to [0, 1])."""
    weight, _, _ = stats_cache.calibration_stats
    return float(np.dot(stats_cache.bin_discrepancies, weight))


def failnll(stats_cache: StatsCache) -> float:
    """Failure NLL with confidence as P(correct): ``-mean(y log(p + 1e-7) + ...)``."""
    y, p = stats_cache.correct, stats_cache.confids
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7)))


_METRICS: dict[str, Callable[[StatsCache], float]] = {
    "failauc": failauc,
    "fpr@95tpr": fpr_at_95_tpr,
    "failap_suc": failap_suc,
    "failap_err": failap_err,
    "aurc": aurc,
    "e-aurc": eaurc,
    "augrc": augrc,
    "mce": maximum_calibration_error,
    "ece": expected_calibration_error,
    "fail-NLL": failnll,
}


def get_metric_function(metric_name: str) -> Callable[[StatsCache], float]:
    """The metric function registered under fd-shifts' name (e.g. "e-aurc", "fpr@95tpr").

    Examples
    --------
    >>> get_metric_function("e-aurc") is eaurc
    True
    """
    try:
        return _METRICS[metric_name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown fd-shifts metric {metric_name!r}; choose from {sorted(_METRICS)}"
        ) from None
