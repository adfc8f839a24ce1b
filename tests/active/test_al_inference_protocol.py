"""nnActive's inference protocol and class-aware folds (issue 14, defect 5)."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest

pytest.importorskip("torch", reason="the built-in trainer needs torch (extra 'torch')")

from medtrust.active.trainers import unet as unet_mod
from medtrust.active.trainers.base import (
    CaseData,
    TrainingData,
    class_aware_folds,
    inference_options,
)
from medtrust.active.trainers.nnunet import NnUNetSettings
from medtrust.active.trainers.unet import UNetPredictor, UNetSettings, UNetTrainer
from medtrust.exceptions import InvalidArgumentError


@pytest.mark.parametrize("cls", [UNetSettings, NnUNetSettings])
def test_eval_and_query_protocols_default_to_nnactive(cls):
    s = cls.from_dict({})
    assert inference_options(s, "eval") == (0.5, True)
    assert inference_options(s, "query") == (0.75, False)
    one = cls.from_dict({"step": 0.6, "mirroring": False})  # one protocol for both
    assert inference_options(one, "eval") == inference_options(one, "query") == (0.6, False)
    with pytest.raises(InvalidArgumentError, match="mode"):
        inference_options(s, "train")


def _predictor(settings):
    p = object.__new__(UNetPredictor)
    p.settings = settings
    p.n_classes = 2
    p.plan = type("Plan", (), {"patch_size": (4, 4, 4)})()
    # Not flip-equivariant: a position-dependent map, so each flip changes the result.
    ramp = np.arange(4 * 4 * 4, dtype=np.float32).reshape(1, 1, 4, 4, 4)
    p.logits = lambda b: np.concatenate([b[:, :1] * ramp, -b[:, :1] * ramp], axis=1)
    return p


def test_mirroring_averages_the_logits_of_the_8_flips():
    p = _predictor(UNetSettings())
    batch = np.random.default_rng(0).normal(size=(2, 1, 4, 4, 4)).astype(np.float32)
    want = np.zeros((2, 2, 4, 4, 4), np.float32)
    for fz, fy, fx in product([False, True], repeat=3):
        axes = tuple(a for a, f in zip((2, 3, 4), (fz, fy, fx)) if f)
        x = np.flip(batch, axes) if axes else batch
        y = p.logits(x)
        want += np.flip(y, axes) if axes else y
    np.testing.assert_allclose(p.mirrored_logits(batch), want / 8, rtol=1e-6, atol=1e-5)


def test_eval_and_query_use_their_own_sliding_window(monkeypatch):
    seen = []

    def spy(fn, image, tile, *, n_classes, step):
        seen.append((getattr(fn, "__name__", "logits"), step))
        return iter(())

    monkeypatch.setattr(unet_mod, "sliding_window_slabs", spy)
    p = _predictor(UNetSettings())
    image = np.zeros((1, 8, 8, 8), np.float32)
    list(p.predict_array_slabs(image, "eval"))
    list(p.predict_array_slabs(image, "query"))
    assert seen == [("mirrored_logits", 0.5), ("<lambda>", 0.75)]


def test_class_aware_folds_spread_a_rare_class():
    # The rare class 2 is in cases 0 and 2: index % 2 puts both in fold 0, so fold 0's
    # training part (fold 1) would lack it.
    presence = {f"c{i}": ({1, 2} if i in (0, 2) else {1}) for i in range(6)}
    fold = class_aware_folds(presence, 2)
    assert fold["c0"] != fold["c2"]
    for k in range(2):
        train = [c for c in presence if fold[c] != k]
        assert any(2 in presence[c] for c in train)
    assert sorted(np.bincount(list(fold.values()))) == [3, 3]


def _four_cases(tmp_path, extra):
    """4 labelled cases, class 1 in each; ``extra[i]`` lists more classes of case ``c{i}``."""
    cases = []
    for i in range(4):
        lab = np.full((4, 4, 4), 4, np.uint8)  # ignore
        lab[0, 0, 0] = 1
        for j, c in enumerate(extra.get(i, ()), start=1):
            lab[j, j, j] = c
        np.save(tmp_path / f"c{i}.npy", lab)
        cases.append(
            CaseData(f"c{i}", (), tmp_path / "x.npy", (4, 4, 4), (1.0, 1.0, 1.0),
                     tmp_path / f"c{i}.npy")
        )  # fmt: skip
    return TrainingData(tuple(cases), 4, ("bg", "a", "b", "c"), 1, 4, (1.0, 1.0, 1.0))


def test_unet_fold_members_train_on_class_aware_folds(tmp_path):
    data = _four_cases(tmp_path, {0: [3], 2: [3]})  # rare class in cases 0 and 2
    trainer = UNetTrainer(UNetSettings.from_dict({}))
    for m in range(2):
        kept = trainer._member_cases(data, m, 2)
        assert len(kept) == 2
        assert {"c0", "c2"} & {c.case for c in kept}  # every member sees the rare class


def test_nnunet_splits_are_class_aware_folds(tmp_path):
    # The nnU-Net backend's splits_final.json: M folds over the labelled images. c0 holds two
    # rare classes (3 shared with c1, 2 shared with c2): each must sit in a fold apart from
    # its partner so that every fold's training part contains both classes.
    from medtrust.active.trainers.nnunet import NnUNetTrainerBackend

    data = _four_cases(tmp_path, {0: [3, 2], 1: [3], 2: [2]})
    backend = NnUNetTrainerBackend({})
    backend._n_members = 2
    backend._write_splits(data, tmp_path / "splits_final.json")
    splits = json.loads((tmp_path / "splits_final.json").read_text())
    assert len(splits) == 2
    assert sorted(c for s in splits for c in s["val"]) == ["c0", "c1", "c2", "c3"]
    for s in splits:
        assert {"c0", "c1"} & set(s["train"]), s  # class 3 in every fold's training part
        assert {"c0", "c2"} & set(s["train"]), s  # class 2 as well
