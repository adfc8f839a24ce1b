"""compare_to_best (paired bootstrap differences) and the failure-detection figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from matplotlib.colors import to_hex

from medtrust.exceptions import InvalidArgumentError
from medtrust.failure.comparison import VERDICTS, compare_to_best
from medtrust.failure.plot import OKABE_ITO, plot_csf_intervals, plot_highlighted_risk_coverage
from reference import selective as ref


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0, 1, n) ** 2
    return risk, {
        "good": -risk + rng.normal(0, 0.05, n),
        "copy_of_good": None,  # filled below: a monotone transform of "good"
        "noisy": -risk + rng.normal(0, 0.4, n),
        "random": rng.random(n),
    }


@pytest.fixture(scope="module")
def table():
    risk, confs = data()
    confs["copy_of_good"] = 2.0 * confs["good"] + 1.0  # same ranking -> same AURC
    return risk, confs, compare_to_best(confs, risk, n_resamples=2000, seed=1)


def test_values_match_the_numpy_oracle(table):
    risk, confs, t = table
    assert set(t["verdict"]) <= set(VERDICTS)
    vals = dict(zip(t["csf"], t["value"]))
    for name, c in confs.items():
        assert vals[name] == pytest.approx(ref.aurc(c, risk), rel=1e-9)
    best = t.row(0, named=True)
    assert best["verdict"] == "best" and best["diff"] == 0.0
    assert t["value"].to_list() == sorted(t["value"].to_list())
    np.testing.assert_allclose(t["diff"], t["value"] - best["value"], atol=1e-12)


def test_verdicts(table):
    _, _, t = table
    v = dict(zip(t["csf"], t["verdict"]))
    assert v["random"] == "worse"
    # A monotone transform of the best ranks the cases identically: difference exactly 0.
    row = t.filter(pl.col("csf").is_in(["good", "copy_of_good"]) & (pl.col("verdict") != "best"))
    assert row["verdict"][0] == "not distinguishable"
    assert row["diff_low"][0] == row["diff_high"][0] == 0.0
    # The verdict is the simultaneous interval's: worse <=> its lower end is above 0.
    for r in t.iter_rows(named=True):
        if r["verdict"] != "best":
            assert (r["verdict"] == "worse") == (r["diff_low"] > 0)
            assert r["diff_low"] <= r["diff"] + 1e-12 or r["verdict"] == "worse"


def test_bonferroni_intervals_are_wider_than_unadjusted():
    risk, confs = data(seed=2)
    confs["copy_of_good"] = confs["good"] + 0.01 * np.random.default_rng(9).random(len(risk))
    adj = compare_to_best(confs, risk, n_resamples=2000, seed=3)
    raw = compare_to_best(confs, risk, n_resamples=2000, seed=3, adjust="none")
    a = adj.filter(pl.col("verdict") != "best").sort("csf")
    r = raw.filter(pl.col("csf").is_in(a["csf"].to_list())).sort("csf")
    assert (a["diff_high"] - a["diff_low"] >= r["diff_high"] - r["diff_low"] - 1e-12).all()
    assert (a["p_value"] >= r["p_value"] - 1e-12).all()


def test_null_comparisons_rarely_called_worse():
    # Two CSFs with equally noisy views of the risk: "worse" should be rare (family-wise 5 %).
    worse = 0
    for rep in range(30):
        rng = np.random.default_rng(100 + rep)
        risk = rng.uniform(0, 1, 80)
        confs = {k: -risk + rng.normal(0, 0.3, 80) for k in ("a", "b", "c")}
        t = compare_to_best(confs, risk, n_resamples=800, seed=rep)
        worse += int((t["verdict"] == "worse").any())
    assert worse <= 5


def test_higher_is_better_metric():
    risk, confs = data(seed=4)
    confs.pop("copy_of_good")
    labels = (risk > 0.3).astype(float)
    t = compare_to_best(confs, labels, metric="failure_auroc", n_resamples=500, seed=0)
    assert t["csf"][0] == "good" and t["value"][0] == t["value"].max()
    assert (t.filter(pl.col("verdict") != "best")["diff"] >= 0).all()  # positive = worse


def test_bad_arguments():
    risk, confs = data()
    confs.pop("copy_of_good")
    with pytest.raises(InvalidArgumentError, match="metric"):
        compare_to_best(confs, risk, metric="aurcc")
    with pytest.raises(InvalidArgumentError, match="adjust"):
        compare_to_best(confs, risk, adjust="holm")
    with pytest.raises(InvalidArgumentError, match="alpha"):
        compare_to_best(confs, risk, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="at least two"):
        compare_to_best({"good": confs["good"]}, risk)


def test_highlighted_risk_coverage_figure():
    risk, confs = data(seed=5)
    confs.pop("copy_of_good")
    confs.update({f"extra_{i}": np.random.default_rng(i).random(len(risk)) for i in range(6)})
    fig, ax = plot_highlighted_risk_coverage(confs, risk, top_k=2)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    scores = sorted((ref.aurc(c, risk), n) for n, c in confs.items())
    assert labels[0] == f"{scores[0][1]} (AURC {scores[0][0]:.4f})"
    assert labels[1] == f"{scores[1][1]} (AURC {scores[1][0]:.4f})"
    assert labels[2] == f"other CSFs ({len(confs) - 2})"
    colours = [to_hex(line.get_color()) for line in ax.get_lines()]
    assert colours.count("#b0b0b0") == len(confs) - 2  # the rest grey
    assert [c for c in colours if c in {x.lower() for x in OKABE_ITO}] == [
        OKABE_ITO[0].lower(),
        OKABE_ITO[1].lower(),
    ]
    # the legend sits outside the axes, to the right
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
    plt.close(fig)
    with pytest.raises(InvalidArgumentError, match="top_k"):
        plot_highlighted_risk_coverage(confs, risk, top_k=0)


def test_interval_figure(table):
    _, _, t = table
    fig, axes = plot_csf_intervals(t)
    assert len(axes) == 2
    ticks = [x.get_text() for x in axes[0].get_yticklabels()]
    assert ticks == t["csf"].to_list()
    plt.close(fig)


def test_identical_curves_share_one_highlighted_line():
    risk, confs = data(seed=6)
    confs["copy_of_good"] = 3.0 * confs["good"] - 2.0  # same ranking -> same curve
    fig, ax = plot_highlighted_risk_coverage(confs, risk, top_k=3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    joint = [lab for lab in labels if " = " in lab]
    assert len(joint) == 1 and {"good", "copy_of_good"} <= set(joint[0].split(" (")[0].split(" = "))
    coloured = [
        ln for ln in ax.get_lines() if to_hex(ln.get_color()) in {x.lower() for x in OKABE_ITO}
    ]
    assert len(coloured) == 2  # the joint line and the third CSF
    plt.close(fig)
