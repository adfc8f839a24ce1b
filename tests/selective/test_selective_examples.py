"""Every worked example of shared/spec/selective.md, for every metric it lists."""

import itertools

import numpy as np
import pytest

import medtrust.exceptions as sel_exc
import medtrust.selective as sel

A = ([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
B = ([0.9, 0.8, 0.7, 0.3], [0, 1, 0, 1])
G = ([0.9, 0.8, 0.7, 0.3], [1, 0, 0, 1])
C = ([0.5] * 4, [0, 1, 0, 1])
D = ([0.9, 0.8, 0.7, 0.3], [0, 0, 1, 1])
H = ([0.9, 0.8, 0.7, 0.3], [0.1, 0.6, 0.2, 0.9])
c100 = np.linspace(0, 1, 100)

# (name, confids, residuals, {metric: (expected, abs tolerance from the spec's digits)})
CASES = [
    (
        "A",
        *A,
        {
            "aurc": (0.1875, 1e-12),
            "augrc": (0.15625, 1e-12),
            "failure_auroc": (0.875, 1e-12),
            "eaurc": (0.034074, 5e-7),
            "naurc": (0.0983, 5e-5),
            "eaugrc": (0.03125, 1e-12),
            "fpr_at_tpr": (0.5, 1e-12),
        },
    ),
    (
        "B",
        *B,
        {
            "aurc": (0.270833, 5e-7),
            "augrc": (0.1875, 1e-12),
            "eaurc": (0.117407, 5e-7),
            "naurc": (0.338765, 5e-7),
        },
    ),
    ("G", *G, {"aurc": (0.6458, 5e-5), "augrc": (0.25, 1e-12), "naurc": (1.42, 5e-3)}),
    ("C", *C, {"aurc": (0.5, 1e-12), "augrc": (0.25, 1e-12)}),
    (
        "D",
        *D,
        {
            "aurc": (0.1458, 5e-5),
            "eaurc": (-0.0076, 5e-5),
            "augrc": (0.125, 1e-12),
            "eaugrc": (0.0, 1e-12),
        },
    ),
    (
        "H",
        *H,
        {
            "aurc": (0.25625, 1e-12),
            "augrc": (0.1625, 1e-12),
            "aurc_optimal": (0.20625, 1e-12),
            "augrc_optimal": (0.1375, 1e-12),
        },
    ),
    (
        "n100-all-tied",
        np.full(100, 0.5),
        np.tile([0, 1], 50),
        {"aurc": (0.5, 1e-12), "augrc": (0.25, 1e-12), "eaurc": (0.346574, 5e-7)},
    ),
    (
        "n100-least-confident-fails",
        c100,
        np.tile([1, 0], 50),
        {"aurc": (0.48281, 5e-6), "augrc": (0.2475, 1e-12)},
    ),
    (
        "n100-alternating",
        c100,
        np.tile([0, 1], 50),
        {"aurc": (0.51719, 5e-6), "augrc": (0.2525, 1e-12)},
    ),
    (
        "n100-continuous",
        c100,
        np.linspace(1, 0, 100),
        {"aurc": (0.2475, 1e-12), "augrc": (0.165833, 5e-7)},
    ),
    (
        "n100-perfect",
        np.tile([0.0, 1.0], 50),
        np.tile([1, 0], 50),
        {"aurc": (0.125, 1e-12), "augrc": (0.125, 1e-12), "eaurc": (-0.028426, 5e-7)},
    ),
]


@pytest.mark.parametrize("name,conf,res,expected", CASES, ids=[c[0] for c in CASES])
def test_worked_example_all_metrics(name, conf, res, expected):
    m = sel.metrics(conf, res)
    for metric, (value, tol) in expected.items():
        assert getattr(m, metric) == pytest.approx(value, abs=tol), metric
        # the single-metric functions agree with metrics()
        assert getattr(sel, metric)(conf, res) == pytest.approx(getattr(m, metric), abs=1e-15)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_example_a_every_permutation(perm):
    conf = np.array(A[0])[list(perm)]
    res = np.array(A[1])[list(perm)]
    m = sel.metrics(conf, res)
    assert m.aurc == pytest.approx(0.1875, abs=1e-15)
    assert m.augrc == pytest.approx(0.15625, abs=1e-15)
    assert m.failure_auroc == pytest.approx(0.875, abs=1e-15)
    assert m.fpr_at_tpr == 0.5


def test_example_a_curve_points():
    c = sel.risk_coverage_curve(*A)
    np.testing.assert_allclose(c.coverages, [1.0, 0.75, 0.25, 0.0])
    np.testing.assert_allclose(c.selective_risks, [0.5, 1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(c.generalized_risks, [0.5, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(c.thresholds, [0.3, 0.8, 0.9, np.inf])
    assert c.to_frame().height == 4


def test_why_augrc_example_from_the_spec():
    # n = 10, 2 failures: ranks 1 and 10 (descending) vs ranks 4 and 5.
    conf = np.arange(10, 0, -1) / 10  # descending confidence
    r1 = np.zeros(10)
    r1[[0, 9]] = 1
    r2 = np.zeros(10)
    r2[[3, 4]] = 1
    m1, m2 = sel.metrics(conf, r1), sel.metrics(conf, r2)
    assert m1.failure_auroc == pytest.approx(0.5)
    assert m2.failure_auroc == pytest.approx(0.375)
    assert m1.aurc == pytest.approx(0.343, abs=5e-4)
    assert m2.aurc == pytest.approx(0.184, abs=5e-4)
    assert m1.augrc == pytest.approx(0.100, abs=5e-4)
    assert m2.augrc == pytest.approx(0.120, abs=5e-4)
    # AURC prefers the worse ranking; AUGRC agrees with AUROC
    assert m2.aurc < m1.aurc and m2.augrc > m1.augrc


def test_single_sample_is_defined():
    with pytest.warns(sel_exc.UndefinedMetricWarning):
        m = sel.metrics([0.7], [1.0])
    assert m.aurc == 1.0 and m.augrc == 0.5
    assert np.isnan(m.failure_auroc)


def test_balanced_variants_reweight_by_class():
    # Balanced residuals with two equal classes equal the plain ones.
    conf, res = B
    assert sel.aurc_ba(conf, res, [0, 0, 1, 1]) == pytest.approx(sel.aurc(conf, res))
    # Imbalanced: class 1 (one sample) weight n/(K n_k) = 4/2 = 2.
    conf = [0.9, 0.8, 0.7, 0.3]
    res = [0, 0, 0, 1]
    lab = [0, 0, 0, 1]
    w = np.array([4 / 6, 4 / 6, 4 / 6, 2.0])
    expected_aurc = sel.aurc(conf, np.array(res) * w, check_range=False)
    assert sel.aurc_ba(conf, res, lab) == pytest.approx(expected_aurc)
    assert sel.augrc_ba(conf, res, lab) == pytest.approx(
        sel.augrc(conf, np.array(res) * w, check_range=False)
    )


def test_working_points():
    conf, res = A
    assert sel.selective_risk_at_coverage(conf, res, 0.75) == pytest.approx(1 / 3)
    assert sel.selective_risk_at_coverage(conf, res, 1.0) == pytest.approx(0.5)
    assert sel.coverage_at_risk(conf, res, 0.4) == 0.75
    assert sel.coverage_at_risk(conf, res, 0.0) == 0.25
    assert np.isnan(sel.coverage_at_risk([0.5, 0.4], [1, 1], 0.5))


def test_calibration_hand_example():
    conf, res = A
    assert sel.ece(conf, res) == pytest.approx(0.25)
    assert sel.mce(conf, res) == pytest.approx(0.3)
    expected_nll = -(np.log(0.9) + np.log(0.2) + np.log(0.8) + np.log(0.7)) / 4
    assert sel.failure_nll(conf, res) == pytest.approx(expected_nll)
