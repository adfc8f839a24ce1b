"""medtrust.compat.fd_shifts: fd-shifts' conventions from its documented definitions.

fd-shifts is not on the package registry, so the oracles are hand-derived values (the issue's
and spec/selective.md's worked examples), a plain-Python loop of the documented curve
(tests/reference/fd_shifts_loop.py), numerical integration (scipy.integrate.quad) for the
partial-coverage areas and scikit-learn for ROC / AP.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from medtrust.compat import fd_shifts as fd
from medtrust.exceptions import InvalidArgumentError
from reference.fd_shifts_loop import rc_points, trapezoid_area

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def samples(draw, binary=None):
    n = draw(st.integers(1, 30))
    # Few distinct confidences -> many ties; residuals on a dyadic grid so sums are exact.
    conf = draw(
        st.lists(st.sampled_from([0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0]), min_size=n, max_size=n)
    )
    is_bin = draw(st.booleans()) if binary is None else binary
    grid = [0.0, 1.0] if is_bin else [0.0, 0.25, 0.5, 0.75, 1.0]
    res = draw(st.lists(st.sampled_from(grid), min_size=n, max_size=n))
    return np.array(conf), np.array(res)


# -- worked examples (spec/selective.md, raw scale x1000) ----------------------------------------
@pytest.mark.parametrize(
    ("confids", "residuals", "aurc", "augrc"),
    [
        ([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1], 187.5, 156.25),
        ([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1], 270.833333, 187.5),
        ([0.9, 0.8, 0.7, 0.3], [1, 0, 0, 1], 645.833333, 250.0),
        ([0.5] * 4, [0, 1, 0, 1], 500.0, 250.0),
        ([0.9, 0.8, 0.7, 0.3], [0.1, 0.6, 0.2, 0.9], 256.25, 162.5),
    ],
)
def test_worked_examples_on_the_x1000_scale(confids, residuals, aurc, augrc):
    rc = fd.RiskCoverageStats(confids, residuals)
    assert rc.aurc == pytest.approx(aurc, rel=1e-6)
    assert rc.augrc == pytest.approx(augrc, rel=1e-6)
    assert rc.AUC_DISPLAY_SCALE == 1000
    # Order invariance: a tie group is accepted or rejected as a whole.
    perm = np.random.default_rng(0).permutation(len(confids))
    rp = fd.RiskCoverageStats(np.array(confids)[perm], np.array(residuals)[perm])
    assert rp.aurc == pytest.approx(rc.aurc) and rp.augrc == pytest.approx(rc.augrc)


def test_continuous_optimal_values():
    rc = fd.RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0.1, 0.6, 0.2, 0.9])
    assert rc.aurc_optimal == pytest.approx(206.25)
    assert rc.augrc_optimal == pytest.approx(137.5)
    assert rc.eaugrc == pytest.approx(162.5 - 137.5)


def test_binary_optimal_closed_forms():
    rc = fd.RiskCoverageStats([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    err = 0.5
    assert rc.aurc_optimal == pytest.approx(1000 * (err + (1 - err) * math.log(1 - err)))
    assert rc.augrc_optimal == pytest.approx(1000 * err**2 / 2)
    assert rc.eaurc == pytest.approx(34.07359, rel=1e-5)


@SETTINGS
@given(case=samples())
def test_curves_match_the_plain_loop(case):
    confids, residuals = case
    rc = fd.RiskCoverageStats(confids, residuals)
    for gen, stats in (
        (False, rc.curve_stats_selective_risk),
        (True, rc.curve_stats_generalized_risk),
    ):
        covs, risks, thr, mask = rc_points(confids, residuals, generalized=gen)
        np.testing.assert_allclose(stats["coverages"], covs, rtol=1e-12)
        np.testing.assert_allclose(stats["risks"], risks, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(stats["thresholds"], thr)
        assert list(stats["working_point_mask"]) == mask
        area = rc.augrc if gen else rc.aurc
        assert area == pytest.approx(trapezoid_area(covs, risks), rel=1e-9, abs=1e-12)


def _sr_function(rc):
    """SR(c) with the error count linear in the accepted count between RC points."""
    cov = rc.coverages[:-1][::-1]
    err = (rc.selective_risks[:-1] * rc.coverages[:-1])[::-1]

    def sr(c):
        if c <= cov[0]:
            return err[0] / cov[0]
        return np.interp(c, cov, err) / c

    return sr, cov


@SETTINGS
@given(case=samples(), lo=st.floats(0, 1), width=st.floats(0.01, 1))
def test_partial_coverage_area_is_the_exact_integral(case, lo, width):
    confids, residuals = case
    hi = min(1.0, lo + width)
    rc = fd.RiskCoverageStats(confids, residuals)
    got = rc.evaluate_auc(risk="selective-risk", cov_min=lo, cov_max=hi, interpolation="non-linear")
    if hi <= lo or lo >= 1:
        assert got == 0.0
        return
    sr, knots = _sr_function(rc)
    pts = [k for k in knots if lo < k < hi]
    want = quad(sr, lo, hi, points=pts or None, limit=200)[0] * 1000
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_partial_linear_area_is_refused_like_fd_shifts():
    rc = fd.RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
    with pytest.raises(InvalidArgumentError, match="non-linear"):
        rc.evaluate_auc(risk="selective-risk", cov_min=0.2)
    assert rc.evaluate_auc(risk="selective-risk", cov_min=0.7, cov_max=0.7) == 0.0


def test_dominant_points_and_achievable_aurc():
    # Hand-derived: B has RC points at coverages 1, .75, .5, .25, 0; ROC (correct positive) from
    # the strictest threshold: (0,0), (0,.5), (.5,.5), (.5,1), (1,1). Hull vertices: (0,.5),
    # (.5,1), (1,1) -> RC points at coverages .25, .75 and 1.
    rc = fd.RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
    assert rc.dominant_point_mask.tolist() == [True, True, False, True, False]
    # All correct: one dominant point at coverage 1.
    assert fd.RiskCoverageStats([0.2, 0.4], [0, 0]).dominant_point_mask.tolist() == [
        True,
        False,
        False,
    ]
    # Achievable AURC integrates the dominant points exactly (values by quad).
    cov = np.array([1.0, 0.75, 0.25])
    err = np.array([0.5, 0.25, 0.0])

    def sr(c):
        return np.interp(c, cov[::-1], err[::-1]) / c if c > 0.25 else 0.0

    want = quad(sr, 0, 1, points=[0.25, 0.75])[0] * 1000
    assert rc.aurc_achievable == pytest.approx(want, rel=1e-9)
    assert rc.eaurc_achievable == pytest.approx(want - rc.aurc_optimal)


def test_get_working_point():
    rc = fd.RiskCoverageStats([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
    # Selective risks at coverages 1, .75, .5, .25: .5, 1/3, .5, 0 -> working points 1, .75, .25.
    assert rc.get_working_point(risk="selective-risk", target_risk=0.4) == (0.75, 1 / 3, 0.7)
    assert rc.get_working_point(risk="selective-risk", target_cov=0.2) == (0.25, 0.0, 0.9)
    with pytest.raises(InvalidArgumentError):
        rc.get_working_point(risk="selective-risk")


def test_balanced_accuracy_risk_example():
    rc = fd.RiskCoverageStats([0, 1, 2, 3], [0, 1, 0, 1], labels=[0, 0, 1, 1])
    assert rc.aurc_ba == pytest.approx(500.0)


def test_nan_gives_nan_areas():
    rc = fd.RiskCoverageStats([0.9, np.nan, 0.3], [0, 1, 1])
    assert math.isnan(rc.aurc) and math.isnan(rc.aurc_optimal)


# -- StatsCache and the metric functions -----------------------------------------------------------
def test_stats_cache_takes_correctness_not_residuals():
    sc = fd.StatsCache([0.9, 0.8, 0.8, 0.3], [1, 0, 1, 0])
    assert fd.aurc(sc) == pytest.approx(187.5)
    assert fd.augrc(sc) == pytest.approx(156.25)
    assert fd.get_metric_function("fpr@95tpr")(sc) == pytest.approx(0.5)
    assert fd.failauc(sc) == pytest.approx(0.875)


def test_legacy_aurc_hand_derived():
    # Legacy curve of B (ascending conf .3 .7 .8 .9, residuals 1 0 1 0): points after removing
    # each sample (no ties): SR 1/3, 1/2, 0 with weights 1/4 each, start 1/2, end repeats 0.
    # AURC = ((.5 + 1/3) + (1/3 + .5) + (.5 + 0)) / 2 * 1/4 + (0 + 0) / 2 * 1/4.
    sc = fd.StatsCache([0.9, 0.8, 0.7, 0.3], [1, 0, 1, 0], legacy=True)
    want = ((0.5 + 1 / 3) + (1 / 3 + 0.5) + (0.5 + 0.0)) / 2 * 0.25 * 1000
    assert fd.aurc(sc) == pytest.approx(want)
    assert fd.eaurc(sc) == pytest.approx(want - 1000 * (0.5 + 0.5 * math.log(0.5)))


@SETTINGS
@given(case=samples(binary=True))
def test_roc_and_ap_match_scikit_learn(case):
    skm = pytest.importorskip("sklearn.metrics")
    confids, residuals = case
    correct = 1 - residuals
    sc = fd.StatsCache(confids, correct)
    if 0 < correct.sum() < len(correct):
        assert fd.failauc(sc) == pytest.approx(skm.roc_auc_score(correct, confids))
        fpr, tpr, _ = skm.roc_curve(correct, confids)
        assert fd.fpr_at_95_tpr(sc) == pytest.approx(np.min(fpr[tpr >= 0.9495]))
        assert fd.failap_suc(sc) == pytest.approx(skm.average_precision_score(correct, confids))
        assert fd.failap_err(sc) == pytest.approx(
            skm.average_precision_score(correct, -confids, pos_label=0)
        )


def test_calibration_and_nll_conventions():
    # Confidences outside [0, 1] are clipped; 20 bins up to 1 + 1e-8.
    sc = fd.StatsCache([1.2, 0.9, 0.4, -0.1], [1, 1, 0, 0])
    # Bins: {0.0 (clipped -0.1): acc 0}, {0.4: acc 0}, {0.9: acc 1}, {1.0 (clipped): acc 1}.
    assert fd.expected_calibration_error(sc) == pytest.approx((0.0 + 0.4 + 0.1 + 0.0) / 4)
    assert fd.maximum_calibration_error(sc) == pytest.approx(0.4)
    p = np.array([0.9, 0.2])
    y = np.array([1.0, 0.0])
    want = -np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))
    assert fd.failnll(fd.StatsCache(p, y)) == pytest.approx(want)
