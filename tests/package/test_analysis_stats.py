"""medtrust.analysis against scipy and hand-derived values."""

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from medtrust.analysis import (
    correlation,
    critical_difference,
    friedman_test,
    holm,
    kendall_tau,
    nemenyi_test,
    paired_t,
    paired_wilcoxon,
    pearson,
    rank_distribution,
    rank_values,
    spearman,
)
from medtrust.exceptions import InvalidArgumentError, NaNInputError, ShapeMismatchError

# ----------------------------------------------------------------------------- ranks


def test_ranks_by_hand_ties_and_nan_last():
    v = np.array([[0.2, 0.1, 0.2, np.nan], [np.nan, np.nan, 0.5, 0.4]])
    np.testing.assert_array_equal(rank_values(v), [[2.5, 1.0, 2.5, 4.0], [3.5, 3.5, 2.0, 1.0]])
    np.testing.assert_array_equal(
        rank_values(v, higher_is_better=True), [[1.5, 3.0, 1.5, 4.0], [3.5, 3.5, 1.0, 2.0]]
    )
    # axis=0 ranks down the columns; a wide polars frame is one column per method.
    np.testing.assert_array_equal(rank_values([[1.0], [0.0]], axis=0), [[2.0], [1.0]])
    frame = pl.DataFrame({"a": [0.9, 0.1], "b": [0.5, None]})
    np.testing.assert_array_equal(rank_values(frame, higher_is_better=True), [[1, 2], [1, 2]])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (5, 4), elements=st.floats(-3, 3) | st.just(math.nan)))
def test_rank_rows_sum_to_k_k_plus_1_over_2(v):
    r = rank_values(v)
    np.testing.assert_allclose(r.sum(axis=1), 4 * 5 / 2)
    assert r.min() >= 1 and r.max() <= 4


def test_rank_distribution_by_hand():
    # Three resamples of two methods (lower is better): a wins twice, b once.
    r = rank_values([[0.1, 0.2], [0.3, 0.2], [0.0, 0.5]])
    d = rank_distribution(r, ["a", "b"], name_col="csf")
    assert d.columns == ["csf", "rank", "frequency"]
    assert d.rows() == [("a", 1, 2 / 3), ("a", 2, 1 / 3), ("b", 1, 1 / 3), ("b", 2, 2 / 3)]
    with pytest.raises(InvalidArgumentError, match="3 methods"):
        rank_distribution(r, ["a", "b", "c"])


# ----------------------------------------------------------------------------- Holm


def test_holm_by_hand():
    # sorted p: .01 .03 .04 .5 -> x4, x3, x2, x1 = .04 .09 .08 .5 -> running max .04 .09 .09 .5
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    assert holm([]).shape == (0,)
    with pytest.raises(NaNInputError):
        holm([0.1, math.nan])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 12), elements=st.floats(0, 1)))
def test_holm_is_between_raw_and_bonferroni_and_keeps_the_order(p):
    adj = holm(p)
    assert np.all(adj >= p - 1e-15)
    assert np.all(adj <= np.minimum(1.0, len(p) * p) + 1e-15)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)


# ----------------------------------------------------------------------------- paired tests


def test_paired_wilcoxon_matches_scipy_and_hand_values():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 30), rng.normal(0.4, 1, 30)
    for alt in ("less", "greater", "two-sided"):
        ref = stats.wilcoxon(a - b, alternative=alt)
        res = paired_wilcoxon(a, b, alternative=alt)
        assert res == pytest.approx((ref.statistic, ref.pvalue))
    # Hand: five negative differences with distinct sizes; the exact null puts 1/2^5 on
    # "all five negative", so the one-sided p-value is 1/32 and W+ = 0.
    assert paired_wilcoxon([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == (0.0, 1 / 32)
    # Pairs with a NaN are dropped; nothing left or all ties: no evidence.
    assert paired_wilcoxon([1, math.nan, 3, 4, 5, 6], [2, 0, 6, 8, 10, 12]).pvalue == 1 / 32
    assert math.isnan(paired_wilcoxon([1.0, 2.0], [1.0, 2.0]).statistic)
    assert paired_wilcoxon([1.0, 2.0], [1.0, 2.0]).pvalue == 1.0
    assert paired_wilcoxon([math.nan], [1.0]).pvalue == 1.0
    with pytest.raises(InvalidArgumentError, match="alternative"):
        paired_wilcoxon([1.0], [2.0], alternative="lower")
    with pytest.raises(InvalidArgumentError, match="paired"):
        paired_wilcoxon([1.0, 2.0], [2.0])


def test_paired_t_matches_scipy_and_hand_values():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 12), rng.normal(0.3, 1, 12)
    ref = stats.ttest_rel(a, b)
    assert paired_t(a, b) == pytest.approx((ref.statistic, ref.pvalue))
    assert paired_t(a - b) == pytest.approx((ref.statistic, ref.pvalue))
    # Hand: differences -1, 0, 1, 2: mean 0.5, sd sqrt(5/3), t = 0.5 / (sd / 2) = 0.7746
    t, p = paired_t([-1.0, 0.0, 1.0, 2.0])
    assert t == pytest.approx(0.5 / (math.sqrt(5 / 3) / 2))
    assert p == pytest.approx(2 * stats.t.sf(t, 3))
    # Constant differences: certain (p = 0) unless all zero (p = 1).
    assert paired_t([1.0, 2.0, 3.0], [0.0, 1.0, 2.0]) == (math.inf, 0.0)
    assert paired_t([1.0, 2.0], [2.0, 3.0]) == (-math.inf, 0.0)
    assert paired_t([1.0, 2.0], [1.0, 2.0]) == (0.0, 1.0)
    with pytest.raises(InvalidArgumentError, match=">= 2 pairs"):
        paired_t([1.0])
    with pytest.raises(NaNInputError):
        paired_t([1.0, math.nan])


# ----------------------------------------------------------------------------- Friedman / Nemenyi


def test_friedman_matches_scipy_with_ties_and_a_polars_frame():
    rng = np.random.default_rng(0)
    scores = rng.random((9, 5))
    scores[2, 1] = scores[2, 3]
    scores[5, 0] = scores[5, 4]
    ref = stats.friedmanchisquare(*scores.T)
    # higher_is_better only flips every rank: the statistic is symmetric in that.
    for hib in (True, False):
        assert friedman_test(scores, higher_is_better=hib) == pytest.approx(
            (ref.statistic, ref.pvalue)
        )
    frame = pl.DataFrame({f"m{j}": scores[:, j] for j in range(5)})
    assert friedman_test(frame) == pytest.approx((ref.statistic, ref.pvalue))


def test_friedman_by_hand_with_two_methods():
    # Five blocks, the same winner each time: R = (5, 10),
    # chi2 = 12 / (n k (k+1)) * sum R^2 - 3 n (k+1) = 12/30 * 125 - 45 = 5.
    s, p = friedman_test([[0.9, 0.1]] * 5)
    assert s == pytest.approx(5.0)
    assert p == pytest.approx(stats.chi2.sf(5.0, 1))
    assert friedman_test([[0.5, 0.5]] * 3) == (0.0, 1.0)  # all ties
    with pytest.raises(InvalidArgumentError, match="blocks >= 2"):
        friedman_test([[1.0, 2.0]])


# Demšar (2006), Table 5: critical values q_alpha of the Nemenyi test (already / sqrt 2).
DEMSAR_Q = {
    0.05: {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 10: 3.164},
    0.10: {2: 1.645, 3: 2.052, 4: 2.291, 5: 2.459, 6: 2.589, 7: 2.693, 8: 2.780, 10: 2.920},
}


@pytest.mark.parametrize("alpha", sorted(DEMSAR_Q))
def test_nemenyi_critical_difference_matches_demsar_table(alpha):
    for k, q in DEMSAR_Q[alpha].items():
        n = 14
        cd = critical_difference(k, n, alpha=alpha)
        assert cd == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)
    # The paper's worked example: four methods on 14 data sets, CD = 1.25.
    if alpha == 0.05:
        assert critical_difference(4, 14) == pytest.approx(1.25, abs=5e-3)


def test_nemenyi_pvalues_agree_with_the_critical_difference():
    cd = critical_difference(4, 14)
    mean_ranks = np.array([1.0, 1.0 + cd - 1e-6, 1.0 + cd + 1e-6, 3.5])
    p, cd2 = nemenyi_test(mean_ranks, 14)
    assert cd2 == cd
    assert p[0, 1] == pytest.approx(0.05, abs=1e-4) and p[0, 1] > 0.05 > p[0, 2]
    assert np.allclose(p, p.T) and np.all(np.diag(p) == 1)
    # Two methods: the Nemenyi test is the two-sided z-test of the mean-rank difference.
    p2, _ = nemenyi_test([1.2, 1.8], 10)
    z = 0.6 / math.sqrt(2 * 3 / (6 * 10))
    assert p2[0, 1] == pytest.approx(2 * stats.norm.sf(z), rel=1e-6)
    with pytest.raises(InvalidArgumentError, match=">= 2 methods"):
        nemenyi_test([1.0], 5)


# ----------------------------------------------------------------------------- correlations


def test_correlations_by_hand():
    x, y = [1, 2, 3, 4], [1, 3, 2, 4]
    # 6 pairs: 5 concordant, 1 discordant -> tau = 4/6; rank differences (0, 1, -1, 0)
    # -> rho = 1 - 6 * 2 / (4 * 15) = 0.8; Pearson equals rho here (the values are ranks).
    assert kendall_tau(x, y).statistic == pytest.approx(4 / 6)
    assert spearman(x, y).statistic == pytest.approx(0.8)
    assert pearson(x, y).statistic == pytest.approx(0.8)


def test_correlations_match_scipy():
    rng = np.random.default_rng(5)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    y[::7] = y[0]  # ties
    for method, ref in (
        ("kendall", stats.kendalltau),
        ("spearman", stats.spearmanr),
        ("pearson", stats.pearsonr),
    ):
        r = ref(x, y)
        assert correlation(x, y, method) == pytest.approx((r.statistic, r.pvalue))


def test_correlations_undefined_cases_are_nan():
    for x, y, min_n in (
        ([1.0, 2.0, 3.0], [4.0, 4.0, 4.0], 2),  # constant
        ([1.0, 2.0], [2.0, 1.0], 3),  # too few pairs
        ([1.0, math.nan, 3.0], [1.0, 2.0, 3.0], 2),  # NaN
        ([], [], 2),
    ):
        r = spearman(x, y, min_n=min_n)
        assert math.isnan(r.statistic) and math.isnan(r.pvalue)
    with pytest.raises(ShapeMismatchError):
        pearson([1.0, 2.0], [1.0])
    with pytest.raises(InvalidArgumentError, match="method"):
        correlation([1, 2], [1, 2], "kendal")
