import math
import warnings

import numpy as np
import polars as pl
import pytest

from medtrust.active.metrics import (
    aubc,
    fg_efficiency,
    final_dice,
    friedman_test,
    nemenyi_test,
    pairwise_penalty_matrix,
    rank_strategies,
    run_metrics,
)
from medtrust.exceptions import InvalidArgumentError, NaNInputError, UndefinedMetricWarning
from reference.active_loop import friedman_reference, ppm_reference


def test_aubc_five_rounds_spec_formula():
    d = [0.31, 0.52, 0.60, 0.66, 0.70]
    assert aubc(d) == pytest.approx((0.31 / 2 + 0.52 + 0.60 + 0.66 + 0.70 / 2) / 4)


@pytest.mark.parametrize(
    ("dice", "want"),
    [
        ([0.7], 0.7),  # one round: its Dice
        ([0.2, 0.6], 0.4),  # one trapezoid of width 1
        ([0.2, 0.5, 0.8], (0.35 + 0.65) / 2),  # two trapezoids of width 1/2
        ([0.1, 0.3, 0.4, 0.8], (0.2 + 0.35 + 0.6) / 3),  # three of width 1/3
    ],
)
def test_aubc_hand_values(dice, want):
    assert aubc(dice) == pytest.approx(want)


def test_aubc_of_a_straight_line_is_its_midpoint():
    # The trapezoid rule is exact on a line: the area is the mean of the end points.
    for n in (2, 5, 11):
        assert aubc(np.linspace(0.3, 0.9, n)) == pytest.approx(0.6)


def test_aubc_constant_curve_equals_value_and_budget_axis():
    assert aubc([0.4, 0.4, 0.4]) == pytest.approx(0.4)
    # Unequal budgets: x = 0, 1, 3 -> normalised 0, 1/3, 1.
    assert aubc([0.0, 0.3, 0.6], x=[0, 1, 3]) == pytest.approx((0.15 / 3) + 0.45 * 2 / 3)


def test_aubc_errors():
    with pytest.raises(NaNInputError):
        aubc([0.1, float("nan")])
    with pytest.raises(InvalidArgumentError):
        aubc([0.1, 0.2], x=[2, 1])
    assert final_dice([0.2, 0.9, 0.5]) == 0.5


def test_fg_efficiency_two_point_hand_case():
    # x0 = 0, Dice(x0) = 0.5, c = 1 -> a = 0.5; Dice(1) = 0.8 = 1 - 0.5 exp(-b) -> b = ln 2.5.
    res = fg_efficiency([0.0, 1.0], [0.5, 0.8], full_dice=1.0)
    assert res.status == "ok"
    assert res.b == pytest.approx(math.log(2.5), rel=1e-6)
    assert res.a == pytest.approx(0.5) and res.x0 == 0.0


def test_fg_efficiency_recovers_generating_rate():
    x = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.05, 0.1, 0.2, 0.3, 0.5])
    c, d0, b = 0.85, 0.4, 6.0
    dice = -(c - d0) * np.exp(-b * (x - 0.05)) + c
    res = fg_efficiency(x, dice, full_dice=c)
    assert res.b == pytest.approx(b, rel=1e-6)
    assert res.curve(x) == pytest.approx(dice)
    # A strategy whose Dice grows faster per foreground voxel gets a larger FG-Eff.
    faster = -(c - d0) * np.exp(-2 * b * (x - 0.05)) + c
    assert fg_efficiency(x, faster, full_dice=c).b > res.b


def test_fg_efficiency_undefined_cases_warn_and_return_nan():
    with pytest.warns(UndefinedMetricWarning):
        r = fg_efficiency([0.2, 0.2], [0.5, 0.6], full_dice=0.9)
    assert math.isnan(r.b) and r.status == "too_few_points"
    with pytest.warns(UndefinedMetricWarning):
        r = fg_efficiency([0.1, 0.3], [0.9, 0.95], full_dice=0.8)
    assert math.isnan(r.b) and r.status == "no_gap"


def _ppm_table(values):
    rows = []
    for setting, per in values.items():
        for s, arr in per.items():
            for b in range(arr.shape[0]):
                for seed in range(arr.shape[1]):
                    rows.append(
                        {
                            "setting": setting,
                            "strategy": s,
                            "round": b,
                            "seed": seed,
                            "dice_mean": float(arr[b, seed]),
                        }
                    )
    return pl.DataFrame(rows)


def test_ppm_hand_case():
    # One budget, three seeds: a - b = (-0.10, -0.15, -0.12): t = -8.49, p = 0.0136 -> a worse.
    t = pl.DataFrame(
        {
            "strategy": ["a"] * 3 + ["b"] * 3,
            "seed": [0, 1, 2] * 2,
            "round": [0] * 6,
            "dice_mean": [0.5, 0.6, 0.7, 0.6, 0.75, 0.82],
        }
    )
    res = pairwise_penalty_matrix(t)
    assert res.strategies == ("a", "b")
    assert res.matrix.tolist() == [[0.0, 1.0], [0.0, 0.0]]
    # Two budgets, only the first significant: 1 / n_budgets.
    t2 = pl.concat(
        [
            t,
            t.with_columns(
                pl.lit(1, dtype=pl.Int64).alias("round"),
                pl.Series("dice_mean", [0.5, 0.6, 0.7, 0.55, 0.5, 0.8]),
            ),
        ]
    )
    assert pairwise_penalty_matrix(t2).matrix[0, 1] == pytest.approx(0.5)


def test_ppm_matches_reference_and_sums_over_settings():
    rng = np.random.default_rng(3)
    values = {}
    for s in ("s1", "s2"):
        base = rng.random((4, 1)) * 0.5
        values[s] = {
            "good": base + 0.10 + rng.normal(0, 0.01, (4, 4)),
            "mid": base + 0.05 + rng.normal(0, 0.03, (4, 4)),
            "bad": base + rng.normal(0, 0.01, (4, 4)),
        }
    res = pairwise_penalty_matrix(_ppm_table(values))
    names, ref = ppm_reference(values)
    assert list(res.strategies) == names
    np.testing.assert_allclose(res.matrix, ref)
    assert res.n_settings == 2 and res.matrix.max() <= 2.0
    i_bad, i_good = names.index("bad"), names.index("good")
    assert res.matrix[i_bad, i_good] == pytest.approx(2.0)  # worse at every budget, both settings


def test_ppm_holm_is_more_conservative():
    rng = np.random.default_rng(11)
    values = {"s": {f"m{i}": 0.5 + 0.012 * i + rng.normal(0, 0.01, (6, 4)) for i in range(5)}}
    plain = pairwise_penalty_matrix(_ppm_table(values))
    holm = pairwise_penalty_matrix(_ppm_table(values), correction="holm")
    assert (holm.matrix <= plain.matrix + 1e-12).all()
    assert holm.matrix.sum() < plain.matrix.sum()


def test_ppm_skips_unpaired_and_checks_columns():
    t = pl.DataFrame(
        {"strategy": ["a", "b"], "seed": [0, 0], "round": [0, 0], "dice_mean": [0.1, 0.9]}
    )
    res = pairwise_penalty_matrix(t)
    assert res.n_skipped == 1 and res.matrix.sum() == 0
    with pytest.raises(InvalidArgumentError, match="lacks"):
        pairwise_penalty_matrix(t.drop("seed"))


def test_friedman_matches_scipy_and_two_methods():
    rng = np.random.default_rng(0)
    scores = rng.random((8, 4))
    scores[3, 1] = scores[3, 2]  # a tie
    stat, p = friedman_test(scores)
    ref_stat, ref_p = friedman_reference(scores)
    assert stat == pytest.approx(ref_stat) and p == pytest.approx(ref_p)
    s2, p2 = friedman_test([[0.9, 0.1]] * 5)  # two methods work too
    assert s2 == pytest.approx(5.0) and 0 < p2 < 0.05


def test_nemenyi_critical_difference_demsar():
    # Demšar (2006): k = 4 methods, N = 14 data sets, q_0.05 = 2.569 -> CD = 1.25.
    p, cd = nemenyi_test([1.0, 2.0, 3.0, 4.0], 14)
    assert cd == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=2e-3)
    assert p[0, 3] < 0.05 < p[0, 1]
    assert np.allclose(p, p.T) and np.all(np.diag(p) == 1)


def test_rank_strategies_blocks_and_nan_last():
    t = pl.DataFrame(
        {
            "setting": ["s1"] * 3 + ["s2"] * 3 + ["s3"] * 3,
            "strategy": ["a", "b", "c"] * 3,
            "aubc": [0.7, 0.6, 0.5, 0.8, 0.5, 0.6, 0.9, 0.4, float("nan")],
        }
    )
    with pytest.warns(UndefinedMetricWarning):
        r = rank_strategies(t)
    assert r.mean_rank["strategy"].to_list() == ["a", "b", "c"]
    assert r.mean_rank["mean_rank"].to_list() == pytest.approx([1.0, 7 / 3, 8 / 3])
    assert r.n_nan == 1 and r.n_blocks == 3


def test_run_metrics_per_seed():
    rows = []
    for seed in (0, 1):
        for k, (d, fg) in enumerate([(0.4, 0.1), (0.6, 0.3), (0.7, 0.5)]):
            rows.append(
                {
                    "setting": "s",
                    "strategy": "x",
                    "seed": seed,
                    "round": k,
                    "dice_mean": d + 0.01 * seed,
                    "fg_fraction": fg,
                }
            )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = run_metrics(pl.DataFrame(rows), full_dice=0.8)
    assert m.height == 2
    assert m["aubc"][0] == pytest.approx(aubc([0.4, 0.6, 0.7]))
    assert m["final_dice"].to_list() == pytest.approx([0.7, 0.71])
    assert (m["fg_eff"] > 0).all() and m["fg_eff_status"].to_list() == ["ok", "ok"]
