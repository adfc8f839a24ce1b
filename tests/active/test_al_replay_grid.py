"""``precomputed`` replays round files onto a working grid at a target spacing.

Round files are on the raw grid; a run at a target spacing (always the case with the nnunet
backend) replays them on its working grid: from the replayed run's working-grid copies when
they were made at the same spacing, else by mapping the raw boxes. Training is replaced by a
fake member (these tests are about the boxes, not the models).
"""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")

from medtrust.active.loop import ExperimentConfig, run_grid
from medtrust.active.trainers.base import Predictor, member_dir
from medtrust.active.trainers.unet import UNetTrainer


class _WorkingGridOracle(Predictor):
    n_classes = 4

    def predict_slabs(self, case, mode="eval"):
        gt = np.load(str(case.array).replace(".img.npy", ".gt.npy"))
        p = np.eye(4, dtype=np.float32)[gt].transpose(3, 0, 1, 2) * 0.6 + 0.1
        yield 0, p.copy()


def _fake_train(self, data, member, n_members, workdir, seed):
    d = member_dir(workdir, member)
    d.mkdir(parents=True)
    (d / "info.json").write_text("{}")
    return {}


@pytest.fixture
def fake_members(monkeypatch):
    monkeypatch.setattr(UNetTrainer, "train_member", _fake_train)
    monkeypatch.setattr(UNetTrainer, "load_member", lambda self, w, m: _WorkingGridOracle())


def _config(strategy, start, options=None, target=(1.5, 0.5, 0.5)):
    return ExperimentConfig.from_dict(
        {
            # SimpleITK order: 5 slices of 3 mm, 9 x 11 in-plane at 1 mm; the target spacing
            # refines every axis by an integer factor (working grid 10 x 18 x 22)
            "dataset": {"synthetic": {"n_cases": 5, "shape": [5, 9, 11], "spacing": [3, 1, 1]}},
            "target_spacing": list(target),
            "strategies": [strategy],
            "starting_budget": start,
            "strategy_options": options or {},
            "patch_size": [2, 3, 3],
            "query_size": 3,
            "rounds": 3,
            "ensemble_size": 1,
            "trainer": {"backend": "unet", "device": "cpu"},
        }
    )


def _boxes(run, name):
    return json.loads((run / name).read_text())["patches"]


@pytest.mark.parametrize("keep_working_copies", [True, False])
def test_replay_on_the_working_grid_gives_the_same_round_files(
    tmp_path, fake_members, keep_working_copies
):
    first = tmp_path / "a"
    assert not run_grid(_config("pe", "random"), first).failed
    src = first / "runs" / "default" / "pe" / "seed_0"
    if not keep_working_copies:  # as nnActive's files: raw-grid boxes only
        for f in src.glob("working_grid_*.json"):
            f.unlink()
    replay = tmp_path / "b"
    folder = str(tmp_path / "src")
    shutil.copytree(src, folder)
    opts = {"precomputed": {"folder": folder}, "precomputed_start": {"folder": folder}}
    res = run_grid(_config("precomputed", "precomputed_start", opts), replay)
    assert not res.failed, res.failed
    dst = replay / "runs" / "default" / "precomputed" / "seed_0"
    for k in range(3):
        name = f"loop_{k:03d}.json"
        assert _boxes(dst, name) == _boxes(src, name), name
        # the working-grid boxes are the original run's too (integer refinement: exact)
        work = json.loads((dst / f"working_grid_{name}").read_text())
        assert work["target_spacing"] == [1.5, 0.5, 0.5]
        if keep_working_copies:
            assert work["patches"] == _boxes(
                first / "runs/default/pe/seed_0", f"working_grid_{name}"
            )


def test_replay_at_another_target_spacing_maps_the_raw_boxes(tmp_path, fake_members):
    first = tmp_path / "a"
    assert not run_grid(_config("pe", "random"), first).failed
    src = first / "runs" / "default" / "pe" / "seed_0"
    opts = {"precomputed_start": {"folder": str(src)}, "precomputed": {"folder": str(src)}}
    # a run at 1.5 x 1 x 1 mm (working grid 10 x 9 x 11) ignores the copies made at
    # 1.5 x 0.5 x 0.5 mm and maps the raw boxes: z edges doubled, y and x unchanged
    cfg = _config("precomputed", "precomputed_start", opts, target=(1.5, 1.0, 1.0))
    res = run_grid(cfg, tmp_path / "b")
    assert not res.failed, res.failed
    dst = tmp_path / "b" / "runs" / "default" / "precomputed" / "seed_0"
    for k in range(3):
        name = f"loop_{k:03d}.json"
        raw = _boxes(src, name)
        assert _boxes(dst, name) == raw
        work = _boxes(dst, f"working_grid_{name}")
        assert len(work) == len(raw) == 3
        for w, r in zip(work, raw):
            assert w["file"] == r["file"]
            assert w["coords"] == [2 * r["coords"][0], *r["coords"][1:]]  # SimpleITK order
            assert w["size"] == [2 * r["size"][0], *r["size"][1:]]
