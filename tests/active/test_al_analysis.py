"""nnActive's analysis protocol: PPM Holm family and display, pooled FG-Eff (issue 14)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from medtrust.active.fg_eff_pooled import fg_efficiency_pooled
from medtrust.active.metrics import pairwise_penalty_matrix, run_metrics


def _holm(p):
    """Plain Holm step-down adjustment (oracle)."""
    p = np.asarray(p, float)
    order = np.argsort(p)
    adj = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(p) - rank) * p[i])
        adj[i] = min(running, 1.0)
    return adj


def _two_strategies(diff, n_budgets=3):
    rows = []
    for r in range(n_budgets):
        for s, d in enumerate(diff):
            rows.append({"strategy": "a", "seed": s, "round": r, "dice_mean": 0.5 + d})
            rows.append({"strategy": "b", "seed": s, "round": r, "dice_mean": 0.5})
    return pl.DataFrame(rows)


def test_ppm_holm_family_is_every_pair_and_budget_of_a_setting():
    diff = [0.05, 0.1, 0.02, 0.06]
    p = stats.ttest_1samp(diff, 0).pvalue
    assert 0.05 / 3 < p < 0.05  # significant alone, not after a 3-test Holm correction
    t = _two_strategies(diff)
    plain = pairwise_penalty_matrix(t)
    per_budget = pairwise_penalty_matrix(t, correction="holm_per_budget")
    family = pairwise_penalty_matrix(t, correction="holm")
    # b is worse than a at all 3 budgets: M[b, a] = 3 x 1/3.
    assert plain.matrix[1, 0] == pytest.approx(1.0)
    assert per_budget.matrix[1, 0] == pytest.approx(1.0)  # one test per family: unchanged
    assert _holm([p, p, p]).min() > 0.05
    assert family.matrix[1, 0] == 0.0  # nnActive's family: 3 tests, none survives
    assert family.n_tests == 3


def test_ppm_holm_matches_the_oracle_on_three_strategies():
    rng = np.random.default_rng(3)
    rows = []
    for r in range(4):
        for s in range(5):
            for k, name in enumerate(["x", "y", "z"]):
                v = 0.4 + 0.03 * k * r + rng.normal(0, 0.02)
                rows.append({"strategy": name, "seed": s, "round": r, "dice_mean": v})
    t = pl.DataFrame(rows)
    got = pairwise_penalty_matrix(t, correction="holm")
    tests, ps = [], []
    for r in range(4):
        lv = t.filter(pl.col("round") == r).sort("seed")
        v = {n: lv.filter(pl.col("strategy") == n)["dice_mean"].to_numpy() for n in "xyz"}
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            d = v["xyz"[a]] - v["xyz"[b]]
            tests.append((a, b, d.mean()))
            ps.append(stats.ttest_1samp(d, 0).pvalue)
    want = np.zeros((3, 3))
    for (a, b, m), p in zip(tests, _holm(ps)):
        if p < 0.05:
            worse, better = (a, b) if m < 0 else (b, a)
            want[worse, better] += 0.25
    np.testing.assert_allclose(got.matrix, want)
    assert want.sum() > 0


def test_ppm_mean_row_and_display(tmp_path):
    t = _two_strategies([0.05, 0.1, 0.02, 0.06])
    ppm = pairwise_penalty_matrix(t)
    np.testing.assert_allclose(ppm.mean_row, [1.0, 0.0])  # a is better than b everywhere
    summary = ppm.summary_frame()
    assert summary["mean_better"].to_list() == [1.0, 0.0]
    assert summary["mean_worse"].to_list() == [0.0, 1.0]
    import matplotlib.pyplot as plt

    fig, ax = ppm.plot()
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    plt.close(fig)
    assert labels[-1] == "mean"
    assert "WORSE" in ax.get_ylabel() and "BETTER" in ax.get_xlabel()


def _fg_table():
    rng = np.random.default_rng(0)
    rows = []
    for seed, b in enumerate([2.0, 4.0, 6.0]):
        for r in range(5):
            x = 0.05 + 0.1 * r + rng.uniform(0, 0.02)
            d = 0.85 - 0.45 * np.exp(-b * (x - 0.05)) + rng.normal(0, 0.005)
            rows.append(
                {"setting": "s", "strategy": "m", "seed": seed, "round": r, "fg_fraction": x,
                 "dice_mean": d}
            )  # fmt: skip
    return pl.DataFrame(rows)


def test_fg_eff_pooled_is_one_fit_over_seeds_and_rounds():
    from scipy.optimize import curve_fit

    t = _fg_table()
    got = fg_efficiency_pooled(t, full_dice=0.85).row(0, named=True)
    x, d = t["fg_fraction"].to_numpy(), t["dice_mean"].to_numpy()
    x0 = x.min()
    a = 0.85 - d[x == x0].mean()
    assert got["x0"] == pytest.approx(x0) and got["a"] == pytest.approx(a)

    def f(xx, b):
        return -a * np.exp(-b * (xx - x0)) + 0.85

    popt, _ = curve_fit(f, x, d, p0=[1.0])
    assert got["fg_eff"] == pytest.approx(popt[0], rel=1e-4)
    assert got["n_points"] == 15 and got["status"] == "ok"
    # Standard error of b by the Gauss-Newton formula: sqrt(s^2 / J'J), s^2 = RSS / (n - 1).
    b = got["fg_eff"]
    jac = a * (x - x0) * np.exp(-b * (x - x0))
    s2 = ((d - f(x, b)) ** 2).sum() / (len(x) - 1)
    assert got["fg_eff_se"] == pytest.approx(np.sqrt(s2 / (jac @ jac)), rel=1e-3)
    # It is not the mean of medtrust's per-seed fits.
    per_seed = run_metrics(t, full_dice=0.85)
    assert abs(per_seed["fg_eff"].mean() - got["fg_eff"]) > 0.05


def test_fg_eff_pooled_without_full_dice():
    got = fg_efficiency_pooled(_fg_table(), full_dice=None)
    assert got["status"].to_list() == ["no_full_dice"] and np.isnan(got["fg_eff"][0])
