"""fd-shifts' bootstrap CIs (``RiskCoverageStats.evaluate_ci``): same numbers after one seed.

fd-shifts is not installable here; the oracle below is its documented protocol written out
plainly: per resample ``np.random.choice(N, N)`` on the global state, the risk-coverage curve of
the resample, ``-trapz * 1000``, then ``np.percentile(areas, [2.5, 97.5])``.
"""

# The protocol is defined on numpy's legacy global random state, so the tests seed it.
# ruff: noqa: NPY002

import numpy as np
import pytest

from medtrust.compat.fd_shifts import RiskCoverageStats


def _oracle(confids, residuals, labels, risk, n_bs, stratified=False):
    n = len(confids)
    areas = []
    binary = np.all((residuals == 0) | (residuals == 1))
    for _ in range(n_bs):
        if stratified and binary:
            from sklearn.utils import resample

            idx = resample(np.arange(n), n_samples=n, stratify=residuals)
        else:
            idx = np.random.choice(np.arange(n), size=n, replace=True)
        sub = RiskCoverageStats(
            confids[idx], residuals[idx], None if labels is None else labels[idx]
        )
        s = sub.get_curve_stats(risk=risk)
        areas.append(-np.trapezoid(s["risks"], s["coverages"]) * 1000)
    return np.percentile(areas, [2.5, 97.5])


@pytest.mark.parametrize("risk", ["selective-risk", "generalized-risk"])
@pytest.mark.parametrize("kind", ["binary", "ties", "continuous"])
def test_ci_equals_the_protocol_after_the_same_seed(risk, kind):
    rng = np.random.default_rng(7)
    n = 60
    confids = rng.integers(0, 6, n) / 5.0 if kind == "ties" else rng.random(n)
    residuals = rng.random(n) if kind == "continuous" else (rng.random(n) < 0.3) * 1.0
    rc = RiskCoverageStats(confids, residuals)
    np.random.seed(11)
    want = _oracle(confids, residuals, None, risk, 300)
    np.random.seed(11)
    got = rc.evaluate_ci(risk=risk, n_bs=300)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_balanced_and_stratified_variants():
    rng = np.random.default_rng(3)
    n = 40
    confids, residuals = rng.random(n), (rng.random(n) < 0.4) * 1.0
    labels = rng.integers(0, 3, n)
    rc = RiskCoverageStats(confids, residuals, labels)
    np.random.seed(2)
    want = _oracle(confids, residuals, labels, "selective-risk-ba", 30)
    np.random.seed(2)
    np.testing.assert_allclose(rc.evaluate_ci(risk="selective-risk-ba", n_bs=30), want, rtol=1e-9)
    np.random.seed(4)
    want = _oracle(confids, residuals, None, "generalized-risk", 50, stratified=True)
    np.random.seed(4)
    got = rc.evaluate_ci(risk="generalized-risk", n_bs=50, stratified=True)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_properties_nan_and_a_hand_case():
    # Every resample of identical samples has the same area: a zero-width CI at the AURC.
    rc = RiskCoverageStats(np.full(5, 0.5), np.array([0.0, 0, 0, 0, 0]))
    np.testing.assert_array_equal(rc.aurc_ci_bs, [0.0, 0.0])
    np.random.seed(0)
    rc = RiskCoverageStats(np.array([0.9, 0.8, 0.7, 0.3, 0.2]), np.array([0.0, 0, 1, 0, 1]))
    lo, hi = rc.augrc_ci_bs
    assert 0 <= lo <= rc.augrc <= hi <= 1000
    nan = RiskCoverageStats(np.array([0.9, np.nan, 0.1]), np.array([0.0, 1, 0]))
    assert np.isnan(nan.evaluate_ci(risk="selective-risk", n_bs=10)).all()
