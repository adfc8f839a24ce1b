"""Held-out Dice at a target spacing is computed on the raw image grid (issue 14, item 6).

nnU-Net (and so nnActive) exports its predictions on the raw image grid: the class
probabilities are resampled back (order 1) and the argmax is compared with the raw labels.
Before the fix medtrust compared the working-grid argmax with the working-grid labels.
"""

import json

import numpy as np
import pytest
from scipy import ndimage

from medtrust.active.loop.evaluation import dice_on_raw_grid, dice_per_class


def _dice_oracle(pred, gt, c):
    a, b = pred == c, gt == c
    den = a.sum() + b.sum()
    return float("nan") if den == 0 else 2.0 * (a & b).sum() / den


def test_dice_on_raw_grid_hand_built():
    # class-1 probability 0.2 and 0.9 on a 1 x 1 x 2 working grid; the raw grid has 4 voxels
    # along x. Raw centres sit at working coordinates -0.25, 0.25, 0.75, 1.25, so p1 becomes
    # 0.2, 0.375, 0.725, 0.9 (border value outside the outer centres): prediction 0 0 1 1.
    p1 = np.array([[[0.2, 0.9]]], np.float32)
    probs = np.stack([1 - p1, p1])
    raw_gt = np.array([[[0, 1, 1, 1]]], np.uint8)
    d = dice_on_raw_grid(probs, raw_gt, 3)
    # class 0: pred {0, 1}, truth {0} -> 2/3; class 1: pred {2, 3}, truth {1, 2, 3} -> 4/5
    np.testing.assert_allclose(d[:2], [2 / 3, 4 / 5])
    assert np.isnan(d[2])  # absent in both
    # On the working grid (labels by nearest centre: raw voxels 1 and 3 -> 1 1) the same
    # prediction scored 2/3 for class 1 and 0 for background.
    work = dice_per_class(probs.argmax(0), np.array([[[1, 1]]]), 3)
    np.testing.assert_allclose(work[:2], [0.0, 2 / 3])


def test_dice_on_raw_grid_matches_a_scipy_zoom_oracle_on_an_anisotropic_grid():
    rng = np.random.default_rng(3)
    work_shape, raw_shape = (5, 6, 3), (9, 14, 7)  # non-integer factors on every axis
    logits = rng.normal(size=(3, *work_shape)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(0)
    raw_gt = rng.integers(0, 3, size=raw_shape).astype(np.uint8)
    zoom = [r / w for r, w in zip(raw_shape, work_shape)]
    up = np.stack([ndimage.zoom(p, zoom, order=1, grid_mode=True, mode="nearest") for p in probs])
    pred = up.argmax(0)
    want = [_dice_oracle(pred, raw_gt, c) for c in range(3)]
    np.testing.assert_allclose(dice_on_raw_grid(probs.astype(np.float32), raw_gt, 3), want)


pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")


def test_loop_scores_held_out_cases_on_the_raw_grid(tmp_path, monkeypatch):
    """A predictor that is perfect on the working grid is scored against the raw labels."""
    from medtrust.active.loop import ExperimentConfig, run_grid
    from medtrust.active.trainers.base import Predictor, member_dir
    from medtrust.active.trainers.unet import UNetTrainer

    class WorkingGridOracle(Predictor):
        n_classes = 4

        def predict_slabs(self, case, mode="eval"):
            gt = np.load(str(case.array).replace(".img.npy", ".gt.npy"))
            yield 0, np.eye(4, dtype=np.float32)[gt].transpose(3, 0, 1, 2).copy()

    def fake_train(self, data, member, n_members, workdir, seed):
        d = member_dir(workdir, member)
        d.mkdir(parents=True)
        (d / "info.json").write_text("{}")
        return {}

    monkeypatch.setattr(UNetTrainer, "train_member", fake_train)
    monkeypatch.setattr(UNetTrainer, "load_member", lambda self, w, m: WorkingGridOracle())
    cfg = ExperimentConfig.from_dict(
        {
            # SimpleITK order: 5 slices of 3 mm, 18 x 22 in-plane; working grid 10 x 12 x 15
            "dataset": {"synthetic": {"n_cases": 4, "shape": [5, 18, 22], "spacing": [3, 1, 1]}},
            "target_spacing": [1.5, 1.5, 1.5],
            "strategies": ["random"],
            "patch_size": [4, 4, 4],
            "query_size": 2,
            "rounds": 1,
            "ensemble_size": 1,
            "starting_budget": "random",
            "trainer": {"backend": "unet", "device": "cpu"},
        }
    )
    res = run_grid(cfg, tmp_path)
    assert not res.failed, res.failed
    (cache,) = (tmp_path / "cache").glob("*/meta.json")
    cache = cache.parent
    run = tmp_path / "runs" / "default" / "random" / "seed_0"
    ev = json.loads((run / "round_000" / "eval.json").read_text())
    split = json.loads((run / "split.json").read_text())
    assert ev["per_case"] and set(ev["per_case"]) == set(split["held_out"])
    below_one = False
    for case, got in ev["per_case"].items():
        work = np.load(cache / f"{case}.gt.npy")
        raw = np.load(cache / f"{case}.raw_gt.npy")
        assert work.shape == (15, 12, 10) and raw.shape == (22, 18, 5)  # nibabel order
        onehot = np.eye(4)[work].transpose(3, 0, 1, 2)
        zoom = [r / w for r, w in zip(raw.shape, work.shape)]
        up = np.stack(
            [ndimage.zoom(p, zoom, order=1, grid_mode=True, mode="nearest") for p in onehot]
        )
        want = [_dice_oracle(up.argmax(0), raw, c) for c in range(4)]
        got = [np.nan if v is None else v for v in got]
        np.testing.assert_allclose(got, want, rtol=1e-12)
        below_one |= any(v < 1 for v in want[1:] if not np.isnan(v))
    # on the working grid this predictor scores exactly 1: the raw grid is what was measured
    assert below_one
