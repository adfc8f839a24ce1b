"""CSFs, evaluate(), rankings, plots, the accumulator and the selective CLI."""

import numpy as np
import polars as pl
import pytest
import torch
from scipy.special import softmax as sp_softmax

import medtrust.selective as sel
from medtrust.cli.main import main
from medtrust.selective import csf

pytestmark = pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning")


def test_csfs_against_hand_computation():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    p = sp_softmax(logits, axis=1)
    np.testing.assert_allclose(csf.softmax(logits), p)
    np.testing.assert_allclose(csf.msr(p), p.max(1))
    np.testing.assert_allclose(csf.mls(logits), [2.0, 0.5])
    np.testing.assert_allclose(csf.mls(logits, temperature=2.0), [1.0, 0.25])
    np.testing.assert_allclose(csf.pe(p), (p * np.log(p)).sum(1))
    np.testing.assert_allclose(csf.energy(logits), np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose(
        csf.energy(logits, temperature=2.0), 2 * np.log(np.exp(logits / 2).sum(1))
    )
    # 0 log 0 = 0
    assert csf.pe(np.array([[1.0, 0.0]]))[0] == 0.0


def test_mc_csfs_and_identity():
    rng = np.random.default_rng(0)
    s = sp_softmax(rng.normal(size=(6, 10, 4)), axis=-1)
    mean = s.mean(0)
    h_mean = -(mean * np.log(mean)).sum(-1)
    h_each = -(s * np.log(s)).sum(-1).mean(0)
    np.testing.assert_allclose(csf.mcd_msr(s), mean.max(-1))
    np.testing.assert_allclose(csf.mcd_pe(s), -h_mean)
    np.testing.assert_allclose(csf.mcd_ee(s), -h_each)
    np.testing.assert_allclose(csf.mcd_mi(s), -(h_mean - h_each))
    assert np.all(csf.mcd_mi(s) <= 1e-12)  # MI >= 0


def test_torch_csfs_equal_numpy():
    rng = np.random.default_rng(1)
    s = sp_softmax(rng.normal(size=(3, 7, 5)), axis=-1)
    logits = rng.normal(size=(7, 5))
    t = torch.tensor(s)
    for f in (csf.mcd_msr, csf.mcd_pe, csf.mcd_ee, csf.mcd_mi):
        out = f(t)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), f(s), atol=1e-12)
    for f in (csf.msr, csf.pe):
        np.testing.assert_allclose(f(torch.tensor(s[0])).numpy(), f(s[0]), atol=1e-12)
    for f in (csf.mls, csf.energy):
        np.testing.assert_allclose(f(torch.tensor(logits)).numpy(), f(logits), atol=1e-12)
    labels = [0, 1, 2, 3, 4, 0, 1]
    np.testing.assert_array_equal(
        csf.residuals_from_predictions(torch.tensor(logits), labels).numpy(),
        csf.residuals_from_predictions(logits, labels),
    )


def test_csf_shape_errors():
    with pytest.raises(ValueError, match=r"\[n, C\]"):
        csf.msr(np.ones(3))
    with pytest.raises(ValueError, match=r"\[M, n, C\]"):
        csf.mcd_mi(np.ones((3, 2)))
    with pytest.raises(ValueError, match="differ"):
        csf.residuals_from_predictions(np.ones((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="temperature"):
        csf.energy(np.ones((3, 2)), temperature=0)


def _frame():
    rng = np.random.default_rng(0)
    n = 600
    res = (rng.random(n) < 0.3).astype(float)
    return pl.DataFrame(
        {
            "good": 1 - res + rng.normal(0, 0.4, n),
            "bad": rng.random(n),
            "failed": res,
            "domain": np.where(rng.random(n) < 0.5, "iid", "shift"),
            "label": rng.integers(0, 3, n),
        }
    )


def test_evaluate_matches_metrics_per_group():
    df = _frame()
    out = evaluate = sel.evaluate(df, confid=["good", "bad"], residual="failed", by=["domain"])
    assert out.height == 4
    assert out["domain"].to_list() == ["iid", "iid", "shift", "shift"]
    part = df.filter(pl.col("domain") == "shift")
    row = evaluate.filter((pl.col("domain") == "shift") & (pl.col("csf") == "bad")).row(
        0, named=True
    )
    assert row["aurc"] == sel.aurc(part["bad"].to_numpy(), part["failed"].to_numpy())
    assert row["n"] == part.height


def test_evaluate_ci_and_labels_and_bad_column():
    df = _frame()
    out = sel.evaluate(
        df, confid="good", residual="failed", labels="label", ci=True, n_resamples=50
    )
    r = out.row(0, named=True)
    assert r["aurc_low"] <= r["aurc"] <= r["aurc_high"]
    assert np.isfinite(r["aurc_ba"])
    with pytest.raises(ValueError, match="columns not in"):
        sel.evaluate(df, confid="nope", residual="failed")


def test_rank_csfs_orders_good_before_bad():
    df = _frame()
    out = sel.rank_csfs(
        {"good": df["good"].to_numpy(), "bad": df["bad"].to_numpy()},
        df["failed"].to_numpy(),
        n_resamples=100,
    )
    assert out.mean_rank["csf"].to_list() == ["good", "bad"]
    freq = out.rank_distribution.filter((pl.col("csf") == "good") & (pl.col("rank") == 1))
    assert freq["frequency"][0] == 1.0
    w = out.wilcoxon.filter(pl.col("csf_a") == "good")
    assert w["a_better"][0] and w["p_holm"][0] < 1e-6
    assert out.kendall_tau_aurc_augrc == pytest.approx(1.0)


def test_rank_csfs_small_group_without_defined_tau_is_nan_silently():
    import warnings

    # No failure at all: AURC and AUGRC are 0 for every CSF in every resample, so Kendall's
    # tau is undefined everywhere; the mean over resamples is NaN, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sel.rank_csfs(
            {"a": np.array([0.9, 0.8, 0.7, 0.1]), "b": np.array([0.5, 0.4, 0.5, 0.5])},
            np.zeros(4),
            n_resamples=20,
        )
    assert np.isnan(out.kendall_tau_per_resample) and np.isnan(out.kendall_tau_aurc_augrc)


def test_holm_matches_hand_computation():
    np.testing.assert_allclose(sel.holm(np.array([0.01, 0.04, 0.03, 0.5])), [0.04, 0.09, 0.09, 0.5])


def test_plot_returns_fig_and_axes(tmp_path):
    import matplotlib.pyplot as plt

    df = _frame()
    fig, axes = sel.plot_risk_coverage(
        {"good": df["good"].to_numpy()}, df["failed"].to_numpy(), risk="both"
    )
    assert len(axes) == 2 and len(axes[0].lines) == 3  # csf, oracle, random
    fig.savefig(tmp_path / "rc.png")
    plt.close(fig)
    fig2, ax = plt.subplots()
    f, a = sel.plot_risk_coverage(
        df["good"].to_numpy(), df["failed"].to_numpy(), risk="selective", ax=ax
    )
    assert a is ax and f is fig2
    plt.close(fig2)


def test_accumulator_equals_batch_and_reset():
    df = _frame()
    acc = sel.RiskCoverageAccumulator()
    for chunk in df.iter_slices(97):
        acc.update(chunk["good"].to_numpy(), chunk["failed"].to_numpy())
    assert acc.n == df.height
    whole = sel.metrics(df["good"].to_numpy(), df["failed"].to_numpy())
    np.testing.assert_equal(acc.compute().to_dict(), whole.to_dict())  # NaN == NaN here
    assert acc.curve().coverages[0] == 1.0
    acc.reset()
    with pytest.raises(ValueError, match="no batches"):
        acc.compute()
    with pytest.raises(ValueError, match="same length"):
        acc.update([0.1, 0.2], [1])


def test_cli_selective_evaluate(tmp_path, capsys):
    df = _frame()
    path = tmp_path / "preds.csv"
    df.write_csv(path)
    code = main(
        [
            "selective",
            "evaluate",
            str(path),
            "--confid",
            "good",
            "--confid",
            "bad",
            "--residual",
            "failed",
            "--by",
            "domain",
        ]
    )
    assert code == 0
    out = pl.read_parquet(tmp_path / "preds.selective.parquet")
    assert out.height == 4
    assert "aurc" in capsys.readouterr().out
    assert main(["selective", "evaluate", str(path), "--confid", "x", "--residual", "failed"]) == 2
    assert "columns not in" in capsys.readouterr().err
