"""The nnU-Net v2 backend end to end on a tiny generated dataset (a few minutes on 2 cores).

The loop selects, trains and predicts on nnU-Net's grid (the configured target spacing, or the
plan's spacing for the whole dataset) and writes its round files on the raw image grid; the
``kmeans_bald`` features come from the trained network's encoder.
"""

import json

import numpy as np
import pytest

pytest.importorskip("nnunetv2", reason="the nnU-Net backend needs nnunetv2 (extra 'nnunet')")

from medtrust.active.loop import ExperimentConfig, run_grid
from medtrust.active.rounds import read_round
from medtrust.active.spacing import box_between
from medtrust.io import load_labels, load_nifti, write_dataset_json, write_nnunet_case

pytestmark = pytest.mark.slow

NNUNET_TINY = {
    "backend": "nnunet",
    "epochs": 1,
    "iterations_per_epoch": 2,
    "val_iterations_per_epoch": 1,
    "num_processes": 1,
    "device": "cpu",
}


def _sitk_labels(label_file):
    """Label map in SimpleITK array order (nnActive's view): nibabel's axes reversed."""
    return load_labels(label_file)[0].transpose(2, 1, 0)


def test_nnunet_backend_on_the_target_grid_with_kmeans_bald(tmp_path):
    cfg = ExperimentConfig.from_dict(
        {
            # SimpleITK order: 10 slices of 3 mm, 32 x 24 in-plane at 1 mm
            "dataset": {"synthetic": {"n_cases": 6, "shape": [10, 32, 24]}},
            "target_spacing": [1.5, 2.0, 2.0],  # -> working grid 20 x 16 x 12 (SimpleITK)
            "strategies": ["kmeans_bald"],
            "patch_size": [4, 8, 8],
            "query_size": 4,
            "rounds": 2,
            "pooling_stride": [2, 4, 4],
            "ensemble_size": 2,
            "trainer": NNUNET_TINY,
        }
    )
    res = run_grid(cfg, tmp_path)
    assert not res.failed, res.failed
    t = res.table
    assert t.height == 2 and t["n_patches"].to_list() == [4, 8]
    assert t["dice_mean"].is_finite().all()
    run = tmp_path / "runs" / "default" / "kmeans_bald" / "seed_0"
    work = run / "round_001" / "model"
    raw = work / "nnunet" / "raw" / "Dataset990_MedtrustAL"
    meta = json.loads((raw / "dataset.json").read_text())
    # nnU-Net's native partial-label support: "ignore" is the largest label.
    assert meta["labels"]["ignore"] == 4 and meta["overwrite_image_reader_writer"] == "NibabelIO"
    # nnU-Net gets the working grid (nibabel order 12 x 16 x 20 at 2, 2, 1.5 mm) and plans
    # for exactly that spacing, so it resamples nothing.
    lab_file = next((raw / "labelsTr").iterdir())
    lab, _, _ = load_labels(lab_file)
    assert lab.shape == (12, 16, 20) and (lab == 4).any() and (lab < 4).any()
    img, sp, _ = load_nifti(next((raw / "imagesTr").iterdir()))
    assert img.shape == (12, 16, 20) and np.allclose(sp, (2.0, 2.0, 1.5))
    pre = work / "nnunet" / "preprocessed" / "Dataset990_MedtrustAL"
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    # plans keep spacings in their transposed order (here the coarsest axis, y, first)
    assert plans["transpose_forward"] == [1, 0, 2]
    assert plans["configurations"]["3d_fullres"]["spacing"] == [2.0, 1.5, 2.0]
    # so nnU-Net's preprocessing kept the working grid: 16 x 20 x 12 (transposed order)
    import blosc2  # nnU-Net's preprocessed-data format

    for f in (pre / "nnUNetPlans_3d_fullres").glob("*_seg.b2nd"):
        assert blosc2.open(str(f), mode="r").shape == (1, 16, 20, 12)
    # Two members = two folds over the labelled images, each a finished nnU-Net training.
    assert len(json.loads((pre / "splits_final.json").read_text())) == 2
    for m in (0, 1):
        assert (work / f"member_{m}" / "fold_0" / "checkpoint_final.pth").is_file()
        assert json.loads((work / f"member_{m}" / "info.json").read_text())["fold"] == m

    # Round files: raw grid (SimpleITK order, 10 x 32 x 24), the same voxels as the
    # working-grid boxes mapped back, no overlap over the rounds.
    labels_dir = next((tmp_path / "data").glob("Dataset*")) / "labelsTr"
    seen: dict[str, np.ndarray] = {}
    for loop in sorted(run.glob("loop_*.json")):
        grid = json.loads((run / f"working_grid_{loop.name}").read_text())
        assert grid["target_spacing"] == [1.5, 2.0, 2.0]
        work_boxes = read_round(run / f"working_grid_{loop.name}")
        records = json.loads(loop.read_text())["patches"]
        assert len(records) == len(work_boxes) == 4
        for rec, wp in zip(records, work_boxes):
            sitk = _sitk_labels(labels_dir / rec["file"])
            assert sitk.shape == (10, 32, 24)
            (z, y, x), (dz, dy, dx) = rec["coords"], rec["size"]
            mask = np.zeros(sitk.shape, bool)
            mask[z : z + dz, y : y + dy, x : x + dx] = True
            want = np.zeros((24, 32, 10), bool)
            want[box_between(wp, (12, 16, 20), (24, 32, 10)).slices] = True
            np.testing.assert_array_equal(mask, want.transpose(2, 1, 0))
            assert not (seen.setdefault(rec["file"], np.zeros(sitk.shape, bool)) & mask).any()
            seen[rec["file"]] |= mask

    # kmeans_bald ran on nnU-Net's encoder features and picked the full query.
    q = json.loads((run / "round_000" / "query.json").read_text())
    assert q["n"] == 4 and q["log"]["strategy"] == "kmeans_bald"
    assert q["log"]["n_candidates"] >= 4 and "shortfall" not in q["log"]
    cands = json.loads((run / "kmeans_bald_001.json").read_text())
    assert sum(cands["selected"]) == 4

    # Probabilities and features come back on the working grid, in medtrust's axis order.
    from medtrust.active.loop.config import make_trainer
    from medtrust.active.loop.data import materialize_dataset

    view = materialize_dataset(cfg, tmp_path)
    pred = make_trainer(cfg).load_member(run / "round_000" / "model", 0)
    case = view.case(view.dataset.cases[0])
    assert case.shape == (12, 16, 20)
    probs = pred.predict(case)
    assert probs.shape == (4, 12, 16, 20)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-4)
    feats = pred.features(case)
    net = pred.predictor.network
    n_feat = net.encoder.output_channels[-1]
    # encoder strides per axis in the plans' transposed order -> SimpleITK -> nibabel order
    strides = np.prod(pred.predictor.configuration_manager.pool_op_kernel_sizes, axis=0)
    strides = strides[pred.predictor.plans_manager.transpose_backward][::-1]
    assert feats.shape[0] == n_feat and np.isfinite(feats).all()
    assert feats.shape[1:] == tuple(-(-n // s) for n, s in zip((12, 16, 20), strides))
    np.testing.assert_array_equal(feats, pred.features(case))  # deterministic
    # a different image gives different features (the encoder reads the image)
    other = pred.features(view.case(view.dataset.cases[1]))
    assert not np.allclose(feats, other)


def _write_mixed_spacing_dataset(root):
    """5 cases, NIfTI axis 0 (SimpleITK x) of 1, 1, 2, 2, 2 mm (others 1 mm): median 2 mm.

    The coarse axis is the last SimpleITK axis, so nnU-Net's plans, which store spacings
    with the coarsest axis first, hold it transposed.
    """
    rng = np.random.default_rng(0)
    for i, x_mm in enumerate([1.0, 1.0, 2.0, 2.0, 2.0]):
        nx = 16 if x_mm == 1.0 else 8  # the same 16 mm field of view
        lab = np.zeros((nx, 18, 20), np.uint8)  # nibabel order
        lab[nx // 4 : 3 * nx // 4, 4:14, 5:15] = 1
        img = (lab * 2.0 + rng.normal(0, 0.3, lab.shape)).astype(np.float32)
        write_nnunet_case(root, f"case{i}", [img], lab, spacing=(x_mm, 1.0, 1.0))
    write_dataset_json(
        root, labels={"background": 0, "organ": 1}, channel_names={"0": "MR"}, num_training=5
    )


def test_nnunet_default_grid_is_the_plan_spacing(tmp_path):
    """Without target_spacing, nnU-Net's plan for the whole dataset sets the working grid."""
    from medtrust.active.loop.data import materialize_dataset

    root = tmp_path / "Dataset042_Mixed"
    _write_mixed_spacing_dataset(root)
    cfg = ExperimentConfig.from_dict(
        {
            "dataset": {"path": str(root)},
            "strategies": ["random"],
            "patch_size": [4, 4, 2],
            "query_size": 2,
            "trainer": NNUNET_TINY,
        }
    )
    view = materialize_dataset(cfg, tmp_path / "out")
    # nnU-Net's 3d_fullres target: the median spacing per axis (anisotropy 2 < 3), i.e.
    # 1 x 1 x 2 mm (SimpleITK order) -> nibabel order (2, 1, 1).
    assert view.target_spacing == (2.0, 1.0, 1.0)
    (plan,) = (tmp_path / "out" / "cache").glob("nnunet_plan_*/plan_spacing.json")
    assert json.loads(plan.read_text())["spacing"] == [1.0, 1.0, 2.0]
    assert not (plan.parent / "nnunet").exists()  # nnU-Net's folders are cleaned up
    assert view.resampled
    for case in view.dataset.cases:
        assert view.shapes[case] == (8, 18, 20)  # 1 mm cases: 16 voxels -> 8
        want = (16, 18, 20) if case in ("case0", "case1") else (8, 18, 20)
        assert view.raw_shapes[case] == want
    # the 1 mm cases' ground truth is resampled (nearest centre: every other voxel)
    raw = np.asarray(view.raw_ground_truth("case0"))
    np.testing.assert_array_equal(np.asarray(view.ground_truth("case0")), raw[1::2])
