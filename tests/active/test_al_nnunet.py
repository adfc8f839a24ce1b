"""The nnU-Net v2 backend end to end on a tiny generated dataset (a few minutes on 2 cores)."""

import json

import numpy as np
import pytest

pytest.importorskip("nnunetv2", reason="the nnU-Net backend needs nnunetv2 (extra 'nnunet')")

from medtrust.active.loop import ExperimentConfig, run_grid
from medtrust.io import load_labels

pytestmark = pytest.mark.slow


def test_nnunet_backend_end_to_end(tmp_path):
    cfg = ExperimentConfig.from_dict(
        {
            "dataset": {"synthetic": {"n_cases": 6, "shape": [10, 32, 24]}},
            "strategies": ["clasp_pe"],
            "patch_size": [4, 8, 8],
            "query_size": 4,
            "rounds": 2,
            "pooling_stride": [1, 4, 4],
            "ensemble_size": 2,
            "trainer": {
                "backend": "nnunet",
                "epochs": 1,
                "iterations_per_epoch": 2,
                "val_iterations_per_epoch": 1,
                "num_processes": 1,
                "device": "cpu",
            },
        }
    )
    res = run_grid(cfg, tmp_path)
    assert not res.failed, res.failed
    t = res.table
    assert t.height == 2 and t["n_patches"].to_list() == [4, 8]
    assert t["dice_mean"].is_finite().all()
    run = tmp_path / "runs" / "default" / "clasp_pe" / "seed_0"
    work = run / "round_001" / "model"
    raw = work / "nnunet" / "raw" / "Dataset990_MedtrustAL"
    meta = json.loads((raw / "dataset.json").read_text())
    # nnU-Net's native partial-label support: "ignore" is the largest label.
    assert meta["labels"]["ignore"] == 4 and meta["overwrite_image_reader_writer"] == "NibabelIO"
    lab, _, _ = load_labels(next((raw / "labelsTr").iterdir()))
    # Config shape [10, 32, 24] is SimpleITK order; nibabel reads the axes reversed.
    assert lab.shape == (24, 32, 10) and (lab == 4).any() and (lab < 4).any()
    # Two members = two folds over the labelled images, each a finished nnU-Net training.
    splits = json.loads(
        (
            work / "nnunet" / "preprocessed" / "Dataset990_MedtrustAL" / "splits_final.json"
        ).read_text()
    )
    assert len(splits) == 2
    for m in (0, 1):
        assert (work / f"member_{m}" / "fold_0" / "checkpoint_final.pth").is_file()
        assert json.loads((work / f"member_{m}" / "info.json").read_text())["fold"] == m
    # Probabilities come back in medtrust's axis order and sum to 1.
    from medtrust.active.loop.config import make_trainer
    from medtrust.active.loop.data import materialize_dataset

    view = materialize_dataset(cfg, tmp_path)
    pred = make_trainer(cfg).load_member(work, 0)
    case = view.case(view.dataset.cases[0])
    probs = pred.predict(case)
    assert probs.shape == (4, 24, 32, 10)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-4)
    q = json.loads((run / "round_000" / "query.json").read_text())
    assert q["n"] == 4
