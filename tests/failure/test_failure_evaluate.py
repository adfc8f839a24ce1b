import json
import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

from medtrust import failure, io, segmentation
from medtrust import selective as sel
from medtrust.cli.main import main
from medtrust.data import synthetic_failure_cases
from medtrust.exceptions import (
    DatasetError,
    DTypeError,
    InvalidArgumentError,
    MedtrustError,
    ShapeMismatchError,
)


def table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    dice = np.clip(rng.beta(5, 1.5, n), 0, 1)
    return pl.DataFrame(
        {
            "case": [f"c{i}" for i in range(n)],
            "domain": ["iid"] * (n // 2) + ["shift"] * (n - n // 2),
            "dice": dice,
            "good": dice + rng.normal(0, 0.05, n),
            "bad": rng.random(n),
        }
    )


def test_metrics_per_group_match_selective_and_scipy():
    df = table()
    res = failure.evaluate_failure_detection(df, csfs=["good", "bad"], n_resamples=100, seed=1)
    assert res.groups == ("iid", "shift", "all")
    assert res.csfs == ("good", "bad")
    for g in res.groups:
        part = df if g == "all" else df.filter(pl.col("domain") == g)
        risk = 1 - part["dice"].to_numpy()
        failed = (part["dice"].to_numpy() < 0.75).astype(float)
        for c in ("good", "bad"):
            conf = part[c].to_numpy()
            row = res.metrics.filter((pl.col("group") == g) & (pl.col("csf") == c)).row(
                0, named=True
            )
            assert row["aurc"] == pytest.approx(sel.aurc(conf, risk))
            assert row["augrc"] == pytest.approx(sel.augrc(conf, risk))
            assert row["spearman"] == pytest.approx(spearmanr(conf, risk).statistic)
            assert row["pearson"] == pytest.approx(pearsonr(conf, risk).statistic)
            if 0 < failed.sum() < len(failed):
                assert row["failure_auroc"] == pytest.approx(roc_auc_score(1 - failed, conf))
            assert row["aurc_low"] <= row["aurc"] <= row["aurc_high"]
    assert res.best("all") == "good"
    ranks = res.rank_distribution.filter(pl.col("group") == "all")
    assert (
        ranks.group_by("csf").agg(pl.col("frequency").sum())["frequency"].to_list()
        == [pytest.approx(1.0)] * 2
    )
    again = failure.evaluate_failure_detection(df, csfs=["good", "bad"], n_resamples=100, seed=1)
    assert again.metrics.equals(res.metrics)


def test_other_risks_binary_and_records_input(tmp_path):
    df = table(40, seed=2).with_columns(nsd=pl.col("dice") ** 2, hd95=(1 - pl.col("dice")) * 20)
    r = failure.evaluate_failure_detection(df, csfs=["good"], risk="hd95", threshold=5.0)
    row = r.metrics.filter(pl.col("group") == "all").row(0, named=True)
    assert row["aurc"] == pytest.approx(
        sel.aurc(df["good"].to_numpy(), df["hd95"].to_numpy(), check_range=False)
    )
    b = failure.evaluate_failure_detection(
        df.to_dicts(), csfs=["good"], risk="nsd", threshold=0.5, binary=True, n_resamples=50
    )
    assert set(b.cases["risk"].unique().to_list()) <= {0.0, 1.0}
    paths = b.write(tmp_path)
    assert all(p.exists() for p in paths)
    assert json.loads((tmp_path / "summary.json").read_text())["config"]["risk"] == "nsd"
    with pytest.raises(InvalidArgumentError):
        failure.evaluate_failure_detection(df, risk="iou")
    with pytest.raises(InvalidArgumentError):
        failure.evaluate_failure_detection(df.drop("domain"))
    with pytest.raises(InvalidArgumentError):
        failure.evaluate_failure_detection(df, csfs=["nope"])
    with pytest.raises(InvalidArgumentError):
        failure.evaluate_failure_detection(df, risk="nsd", binary=True)


def test_case_risks_conventions():
    t = np.zeros((12, 12, 12), np.uint8)
    t[2:8, 2:8, 2:8] = 1
    p = t.copy()
    r = failure.case_risks(p, t, spacing=(1, 1, 1), n_classes=3)
    # class 2 absent from both: Dice 1, NSD 1, HD95 0 in the risk convention
    assert (r["dice"], r["nsd"], r["hd95"]) == (1.0, 1.0, 0.0)
    p2 = t.copy()
    p2[0, 0, 0] = 2  # class 2 only in the prediction: Dice 0, HD95 = image diagonal
    r2 = failure.case_risks(p2, t, spacing=(1, 1, 2), n_classes=3)
    assert r2["dice"] == pytest.approx((segmentation.dice(p2, t).per_class[1] + 0) / 2)
    assert r2["hd95"] == pytest.approx((0 + math.sqrt(12**2 + 12**2 + 24**2)) / 2, rel=1e-6)


def test_case_confidences_from_probabilities_stream():
    from reference import uncertainty as uref

    rng = np.random.default_rng(1)
    members = uref.random_members(rng, 3, 3, (10, 12, 9), sharp=4.0)
    csfs, pred = failure.case_confidences(probabilities=iter(members))
    labels = [np.argmax(m, axis=0) for m in members]
    assert csfs["pairwise_dice"] == pytest.approx(segmentation.pairwise_dice(labels).value)
    assert np.array_equal(pred, np.argmax(members.astype(np.float64).mean(0), axis=0))
    assert {f"{k}_{a}" for k in ("msr", "pe", "ee", "mi") for a in ("mean", "nonbnd")} <= set(csfs)
    bad = members.copy()
    bad[0, 0] *= 0.5  # probabilities no longer sum to 1
    with pytest.raises(MedtrustError):
        failure.case_confidences(probabilities=iter(bad))


def test_case_confidences_lean_path_equals_the_map_by_map_way():
    from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence
    from reference import uncertainty as uref

    members = uref.random_members(np.random.default_rng(2), 4, 3, (12, 10, 14), sharp=4.0)
    csfs, pred = failure.case_confidences(probabilities=iter(members), spacing=(2.0, 1.0, 0.5))
    acc = EnsembleAccumulator()
    for m in members:
        acc.add(m)
    want_pred = np.argmax(acc.mean_probs(), axis=0).astype(np.uint8)
    assert pred.dtype == np.uint8 and np.array_equal(pred, want_pred)
    labels = [np.argmax(m, axis=0) for m in members]
    assert csfs["pairwise_dice"] == segmentation.pairwise_dice(labels, n_classes=3).value
    short = {"mean": "mean", "non_boundary_mean": "nonbnd", "foreground_mean": "fg"}
    short |= {"patch_min": "patchmin", "distance_weighted_mean": "distw"}
    short |= {"volume_weighted_mean": "volw"}
    for kind in ("msr", "pe", "ee", "mi"):
        agg = failure.aggregate(pixel_confidence(acc, kind), want_pred, spacing=(2.0, 1.0, 0.5))
        for name, v in agg.items():
            assert csfs[f"{kind}_{short[name]}"] == v, (kind, name)


def test_cli_end_to_end_on_a_nifti_folder(tmp_path, capsys):
    paths = synthetic_failure_cases(tmp_path / "data", n_cases=6, shape=(16, 16, 12), seed=3)
    out = tmp_path / "out"
    code = main(
        [
            "failure",
            "evaluate",
            "--pred",
            str(paths["pred"]),
            "--labels",
            str(paths["labels"]),
            "--domains",
            str(paths["domains"]),
            "--out",
            str(out),
            "--n-resamples",
            "50",
            "--no-progress",
        ]
    )
    assert code == 0
    cases = pl.read_parquet(out / "cases.parquet")
    assert cases.height == 6
    metrics = pl.read_parquet(out / "metrics.parquet")
    assert "pairwise_dice" in metrics["csf"].to_list()
    assert (out / "risk_coverage_all.png").exists()
    scores = pl.read_parquet(out / "case_scores.parquet")
    # the Dice column equals the Dice recomputed from the files
    c0 = scores.row(0, named=True)
    target, spacing, _ = io.load_labels(paths["labels"] / f"{c0['case']}.nii.gz")
    assert spacing == (1.0, 1.0, 2.0)
    files = sorted((paths["pred"] / c0["case"]).glob("probs_*"))
    probs = [io.load_probabilities(p).astype(np.float32) for p in files]
    pred = np.argmax(np.mean(probs, axis=0), axis=0)
    want = segmentation.dice(pred, target, n_classes=3, empty="perfect").value
    assert c0["dice"] == pytest.approx(want, abs=1e-12)
    assert "pe_nonbnd" in scores.columns and "pairwise_dice" in scores.columns
    assert "6 cases" in capsys.readouterr().out


def test_folder_errors_name_the_case(tmp_path, capsys):
    paths = synthetic_failure_cases(tmp_path, n_cases=2, shape=(10, 10, 8), seed=0)
    (paths["labels"] / "case_001.nii.gz").unlink()
    with pytest.raises(DatasetError, match="case_001"):
        failure.score_folder(paths["pred"], paths["labels"], paths["domains"])
    io.save_nifti(
        paths["labels"] / "case_001.nii.gz", np.zeros((10, 10, 9), np.uint8), spacing=(1, 1, 2)
    )
    with pytest.raises(ShapeMismatchError, match=r"case_001.*\(10, 10, 9\)"):
        failure.score_folder(paths["pred"], paths["labels"], paths["domains"])
    code = main(
        [
            "failure",
            "evaluate",
            "--pred",
            str(paths["pred"]),
            "--labels",
            str(tmp_path / "x"),
            "--domains",
            str(paths["domains"]),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert code == 2 and "labels folder not found" in capsys.readouterr().err
    dom = {"case_000": "iid"}
    with pytest.raises(DatasetError, match="no domain"):
        io.find_cases(paths["pred"], paths["labels"], dom)


def test_io_helpers(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    io.save_nifti(tmp_path / "f.nii", a, spacing=(0.5, 1.5, 3.0))
    lab, sp, aff = io.load_labels(tmp_path / "f.nii")
    assert lab.dtype == np.uint8 and sp == (0.5, 1.5, 3.0) and aff[2, 2] == 3.0
    io.save_nifti(tmp_path / "g.nii.gz", a + 0.5, spacing=(1, 1, 1))
    with pytest.raises(DTypeError):
        io.load_labels(tmp_path / "g.nii.gz")
    np.savez(tmp_path / "p.npz", probabilities=np.ones((2, 3)), other=np.zeros(2))
    assert io.load_probabilities(tmp_path / "p.npz").shape == (2, 3)
    np.savez(tmp_path / "q.npz", a=np.ones(2), b=np.ones(3))
    with pytest.raises(DatasetError, match="key"):
        io.load_probabilities(tmp_path / "q.npz")
    (tmp_path / "d.csv").write_text("case,domain\na,iid\nb,shift\n")
    assert io.load_domains(tmp_path / "d.csv") == {"a": "iid", "b": "shift"}
    (tmp_path / "d.txt").write_text("")
    with pytest.raises(DatasetError):
        io.load_domains(tmp_path / "d.txt")
    with pytest.raises(DatasetError):
        io.load_nifti(tmp_path / "missing.nii")
    with pytest.raises(InvalidArgumentError):
        io.save_nifti(tmp_path / "h.nii", a, spacing=None)
