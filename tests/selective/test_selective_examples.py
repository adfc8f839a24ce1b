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


def test_aurc_ba_follows_fd_shifts_selective_risk_ba():
    # Accepted sets by coverage: .25 {3}: SR_ba = (0 + 1/1) / 2 (class 0 has none accepted);
    # .5 {3, 2}: (0 + 1/2) / 2; .75: (1/1 + 1/2) / 2; 1: (1/2 + 1/2) / 2. Trapezoid from the
    # coverage-0 end point: .125 + .09375 + .125 + .15625 = .5.
    conf, res, lab = [0, 1, 2, 3], [0, 1, 0, 1], [0, 0, 1, 1]
    assert sel.aurc_ba(conf, res, lab) == pytest.approx(0.5, abs=1e-15)
    # GR_ba = (err_0 / n_0 + err_1 / n_1) / 2: .25, .25, .5, .5 -> .3125.
    assert sel.augrc_ba(conf, res, lab) == pytest.approx(0.3125, abs=1e-15)


def test_balanced_variants_with_ties_and_unequal_classes():
    # Groups .9 {l0 r1, l1 r0}, .5 {l1 r0, l1 r1}, .1 {l0 r1}; n_0 = 2, n_1 = 3.
    # SR_ba at coverage .4 / .8 / 1: 1/2, 2/3, 2/3 -> .2 + 7/30 + 2/15 = 17/30.
    # GR_ba: 1/4, 5/12, 2/3 -> .05 + 2/15 + 13/120 = 7/24.
    conf = [0.9, 0.9, 0.5, 0.5, 0.1]
    res = [1, 0, 0, 1, 1]
    lab = [7, 3, 3, 3, 7]
    m = sel.metrics(conf, res, labels=lab)
    assert m.aurc_ba == pytest.approx(17 / 30, abs=1e-15)
    assert m.augrc_ba == pytest.approx(7 / 24, abs=1e-15)
    # AUGRC_ba is AUGRC of residuals reweighted by n / (K n_k).
    w = np.array([5 / 4, 5 / 6, 5 / 6, 5 / 6, 5 / 4])
    assert m.augrc_ba == pytest.approx(sel.augrc(conf, np.array(res) * w, check_range=False))
    # One class: balanced = plain.
    assert sel.aurc_ba(conf, res, [1] * 5) == pytest.approx(sel.aurc(conf, res), abs=1e-15)


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


def test_selective_metrics_fields_come_from_the_native_list():
    from dataclasses import fields

    from medtrust import _native

    names = [f.name for f in fields(sel.SelectiveMetrics)]
    assert names == [*_native.RISK_METRIC_NAMES, "n_dropped"]
    m = sel.metrics([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
    assert list(m.to_dict()) == names and isinstance(m.n, int)
