"""``evaluate_folder`` / ``medtrust segmentation evaluate`` against nnU-Net's own evaluator."""

import json
import math

import numpy as np
import polars as pl
import pytest

from medtrust import segmentation as seg
from medtrust.cli.main import main
from medtrust.exceptions import DatasetError, InvalidArgumentError
from medtrust.io import save_nifti
from reference import segmentation as ref

SPACING = (0.9, 0.8, 2.5)


def _write_folder(root, n_cases=5, seed=0, shape=(20, 18, 10)):
    """Reference and prediction folders with labels 1..3; case 2 lacks label 3 in both maps,
    case 3 has an empty prediction for label 2, the ignore label 9 marks a slab of each ref."""
    rng = np.random.default_rng(seed)
    for i in range(n_cases):
        t = np.zeros(shape, np.uint8)
        c = np.array(shape) / 2
        t[ref.blob(shape, c, np.array(shape) * 0.35, rng)] = 1
        t[ref.blob(shape, c + 2, np.array(shape) * 0.2, rng)] = 2
        if i != 2:
            t[ref.blob(shape, c - 3, np.array(shape) * 0.15, rng)] = 3
        p = t.copy()
        noise = rng.random(shape) < 0.08
        p[noise] = rng.integers(0, 4, noise.sum())
        if i == 2:
            p[p == 3] = 0
        if i == 3:
            p[p == 2] = 1
        t[:, :, 0] = 9  # ignore label
        save_nifti(root / "labels" / f"case_{i:02d}.nii.gz", t, spacing=SPACING)
        save_nifti(root / "pred" / f"case_{i:02d}.nii.gz", p, spacing=SPACING)
    return root / "pred", root / "labels"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return _write_folder(tmp_path_factory.mktemp("evalfolder"))


def _nnunet(pred, labels, classes, ignore):
    pytest.importorskip("nnunetv2", reason="nnunetv2 not installed (the [compat] extra)")
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics_on_folder
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    return compute_metrics_on_folder(
        str(labels), str(pred), None, SimpleITKIO(), ".nii.gz", classes, ignore, num_processes=1
    )


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("classes", [[1, 2, 3], [(1, 2, 3), (2, 3), 3]])
def test_parity_with_nnunet(folders, classes):
    pred, labels = folders
    want = _nnunet(pred, labels, classes, 9)
    table = seg.evaluate_folder(pred, labels, classes=classes, ignore_label=9, progress=False)
    got = seg.summarize_evaluation(table)
    assert len(got["metric_per_case"]) == len(want["metric_per_case"]) == 5
    for g, w in zip(got["metric_per_case"], want["metric_per_case"]):
        assert g["prediction_file"].endswith(w["prediction_file"].split("/")[-1])
        for r in classes:
            gm, wm = g["metrics"][str(r)], w["metrics"][r]
            for k in ("Dice", "IoU", "TP", "FP", "FN", "TN", "n_pred", "n_ref"):
                assert _same(float(gm[k]), float(wm[k])), (r, k, gm[k], wm[k])
    for r in classes:
        for k in ("Dice", "IoU", "TP", "FN", "n_ref"):
            assert _same(got["mean"][str(r)][k], want["mean"][r][k])
    for k in ("Dice", "IoU"):
        assert _same(got["foreground_mean"][k], want["foreground_mean"][k])
    # case 2 has no label 3: NaN Dice there, counted in the per-class NaN counts
    if 3 in classes:
        assert got["medtrust"]["per_class"]["3"]["Dice"]["n_nan"] == 1
        assert got["medtrust"]["per_class"]["3"]["Dice"]["n_empty_both"] == 1


def test_default_classes_fill_absent_labels(folders):
    pred, labels = folders
    t = seg.evaluate_folder(pred, labels, ignore_label=9, progress=False)
    assert t.height == 5 * 3
    assert t["class"].unique().sort().to_list() == ["1", "2", "3"]
    row = t.filter((pl.col("case") == "case_02") & (pl.col("class") == "3")).row(0, named=True)
    assert (row["tp"], row["fp"], row["fn"], row["n_ref"]) == (0, 0, 0, 0)
    assert math.isnan(row["dice"])
    # TN of the filled row = every counted voxel (ignored voxels excluded)
    other = t.filter((pl.col("case") == "case_02") & (pl.col("class") == "1")).row(0, named=True)
    assert row["tn"] == other["tp"] + other["fp"] + other["fn"] + other["tn"] == 20 * 18 * 9


def test_surface_metrics_match_the_single_pair_functions(folders):
    pred, labels = folders
    t = seg.evaluate_folder(
        pred,
        labels,
        metrics="dice,hd95,nsd@2,assd",
        classes=[1, 2],
        spacing_from_files=True,
        progress=False,
        workers=2,
    )
    from medtrust.io import load_labels

    p, sp, _ = load_labels(pred / "case_01.nii.gz")
    r, _, _ = load_labels(labels / "case_01.nii.gz")
    assert sp == SPACING
    row = t.filter((pl.col("case") == "case_01") & (pl.col("class") == "2")).row(0, named=True)
    assert row["hd95"] == pytest.approx(seg.hd95(p == 2, r == 2, spacing=SPACING), rel=1e-12)
    assert row["nsd@2"] == pytest.approx(
        seg.nsd(p == 2, r == 2, spacing=SPACING, tolerance=2.0), rel=1e-12
    )
    assert row["dice"] == pytest.approx(seg.dice(p == 2, r == 2).value, rel=1e-12)
    # case 3's prediction lacks label 2: infinite HD95, NSD 0
    row3 = t.filter((pl.col("case") == "case_03") & (pl.col("class") == "2")).row(0, named=True)
    assert math.isinf(row3["hd95"]) and row3["nsd@2"] == 0.0
    s = seg.summarize_evaluation(t)
    assert s["medtrust"]["per_class"]["2"]["HD95"]["n_inf"] == 1
    assert s["medtrust"]["per_class"]["2"]["HD95"]["n_empty_pred"] == 1


def test_bad_input_is_refused_before_work(tmp_path, folders):
    pred, labels = folders
    with pytest.raises(InvalidArgumentError, match="spacing"):
        seg.evaluate_folder(pred, labels, metrics="hd95", progress=False)
    with pytest.raises(InvalidArgumentError, match="unknown metric 'bleu'"):
        seg.evaluate_folder(pred, labels, metrics="dice,bleu", progress=False)
    with pytest.raises(InvalidArgumentError, match="ignore_label 9"):
        seg.evaluate_folder(pred, labels, classes=[1, (2, 9)], ignore_label=9, progress=False)
    with pytest.raises(InvalidArgumentError, match="nsd@2"):
        seg.evaluate_folder(pred, labels, metrics="nsd", progress=False)
    partial = tmp_path / "pred"
    partial.mkdir()
    (partial / "case_00.nii.gz").write_bytes((pred / "case_00.nii.gz").read_bytes())
    with pytest.raises(DatasetError, match="4 reference"):
        seg.evaluate_folder(partial, labels, progress=False)
    t = seg.evaluate_folder(partial, labels, allow_missing=True, progress=False)
    assert t["case"].unique().to_list() == ["case_00"]
    (partial / "extra.nii.gz").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"without a reference.*extra"):
        seg.evaluate_folder(partial, labels, allow_missing=True, progress=False)


def test_cli_writes_table_and_nnunet_summary(folders, tmp_path, capsys):
    pred, labels = folders
    out = tmp_path / "eval"
    argv = ["segmentation", "evaluate", "--pred", str(pred), "--labels", str(labels)]
    argv += ["--out", str(out), "--metrics", "dice,hd95,nsd@2", "--spacing-from-files"]
    argv += ["--classes", "1,2,(1,2)", "--ignore-label", "9", "--no-progress"]
    assert main(argv) == 0
    table = pl.read_parquet(out / "metrics.parquet")
    assert table.height == 15 and set(table["class"]) == {"1", "2", "(1, 2)"}
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"metric_per_case", "mean", "foreground_mean", "medtrust"}
    assert set(summary["mean"]) == {"1", "2", "(1, 2)"}
    assert {"Dice", "TP", "HD95", "NSD@2", "n_ref"} <= set(summary["foreground_mean"])
    assert (out / "_COMPLETE").is_file()
    # the same numbers as the Python form
    direct = seg.evaluate_folder(
        pred, labels, metrics="dice", classes=[1, 2, (1, 2)], ignore_label=9, progress=False
    )
    assert np.allclose(direct["dice"].to_numpy(), table["dice"].to_numpy(), equal_nan=True)
    bad = ["segmentation", "evaluate", "--pred", str(pred), "--labels", str(labels)]
    assert main([*bad, "--out", str(tmp_path / "x"), "--metrics", "hd95", "--no-progress"]) == 2
    assert "spacing" in capsys.readouterr().err


def test_prediction_holding_the_ignore_label_matches_nnunet(tmp_path):
    pytest.importorskip("nnunetv2", reason="nnunetv2 not installed (the [compat] extra)")
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    rng = np.random.default_rng(4)
    t = rng.integers(0, 3, (10, 9, 8)).astype(np.uint8)
    p = t.copy()
    p[rng.random(p.shape) < 0.3] = 1
    t[:2] = 9
    p[5, :3] = 9  # a prediction holding the ignore label (the per-region path takes it)
    save_nifti(tmp_path / "labels" / "a.nii.gz", t, spacing=(1.0, 1.0, 1.0))
    save_nifti(tmp_path / "pred" / "a.nii.gz", p, spacing=(1.0, 1.0, 1.0))
    got = seg.evaluate_folder(
        tmp_path / "pred", tmp_path / "labels", classes=[1, 2], ignore_label=9, progress=False
    )
    want = compute_metrics(
        str(tmp_path / "labels" / "a.nii.gz"), str(tmp_path / "pred" / "a.nii.gz"),
        SimpleITKIO(), [1, 2], 9,
    )  # fmt: skip
    for row in got.iter_rows(named=True):
        w = want["metrics"][int(row["class"])]
        assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (w["TP"], w["FP"], w["FN"], w["TN"])
        assert row["dice"] == pytest.approx(w["Dice"], rel=1e-12)
