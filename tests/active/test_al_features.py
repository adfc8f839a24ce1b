"""Model features for ``kmeans_bald``: the encoder feature map and an AL round that uses it."""

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")

from medtrust.active.loop import ExperimentConfig, run_grid
from medtrust.active.trainers.inference import encoder_feature_map
from medtrust.active.trainers.unet import UNetPredictor, UNetSettings, build_unet, plan_unet
from medtrust.exceptions import InvalidArgumentError


def _avg_pool(s):
    """An 'encoder' whose output is known: mean over s-blocks (one feature per input channel)."""

    def encode(x):
        b, c, z, y, w = x.shape
        return x.reshape(b, c, z // s[0], s[0], y // s[1], s[1], w // s[2], s[2]).mean((3, 5, 7))

    return encode


def test_tiled_encoder_map_equals_the_whole_image_encoding():
    # Tiles aligned with the stride: assembling tile features must give exactly the
    # features of the whole image (average pooling is local).
    rng = np.random.default_rng(0)
    img = rng.normal(size=(2, 8, 12, 16)).astype(np.float32)
    s = (2, 2, 4)
    got = encoder_feature_map(_avg_pool(s), img, (4, 4, 8), s)
    want = _avg_pool(s)(img[None])[0]
    assert got.shape == (2, 4, 6, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_encoder_map_of_an_image_smaller_than_the_tile_covers_the_image():
    img = np.ones((1, 3, 8, 8), np.float32)  # z padded to the tile and cropped back
    got = encoder_feature_map(_avg_pool((2, 2, 2)), img, (4, 8, 8), (2, 2, 2))
    assert got.shape == (1, 2, 4, 4)  # ceil(3 / 2) = 2 cells along z


def test_encoder_map_rejects_a_tile_that_is_no_multiple_of_the_stride():
    with pytest.raises(InvalidArgumentError, match="multiple of the stride"):
        encoder_feature_map(_avg_pool((2, 2, 2)), np.zeros((1, 4, 4, 4)), (3, 4, 4), (2, 2, 2))


def test_unet_features_are_the_encoder_bottleneck():
    import torch

    plan = plan_unet((8, 8, 8), (1.0, 1.0, 1.0), in_channels=1, n_classes=2, base_channels=4)
    torch.manual_seed(0)
    p = UNetPredictor(build_unet(plan), plan, UNetSettings(device="cpu", num_threads=1))
    img = np.random.default_rng(1).normal(size=(1, 8, 8, 8)).astype(np.float32)
    f = p.features_of_array(img)
    with torch.inference_mode():
        want = p.model.encode(torch.from_numpy(img[None]))[0].numpy()
    stride = p.encoder_stride()
    assert f.shape == want.shape == (plan.channels[-1], *(8 // s for s in stride))
    np.testing.assert_allclose(f, want, rtol=1e-5, atol=1e-6)


def test_al_round_with_kmeans_bald_in_the_loop(tmp_path):
    cfg = ExperimentConfig.from_dict(
        {
            "name": "km",
            "dataset": {"synthetic": {"n_cases": 6, "shape": [8, 24, 24]}},
            "strategies": ["kmeans_bald"],
            "patch_size": [4, 8, 8],
            "query_size": 3,
            "rounds": 2,
            "pooling_stride": [1, 4, 4],
            "seeds": [0],
            "ensemble_size": 2,
            "trainer": {
                "backend": "unet",
                "iterations": 2,
                "batch_size": 1,
                "base_channels": 4,
                "patch_size": [8, 16, 16],
                "device": "cpu",
                "num_threads": 1,
            },
        }
    )
    run_grid(cfg, tmp_path)
    run = tmp_path / "runs" / "default" / "kmeans_bald" / "seed_0"
    query = json.loads((run / "round_000" / "query.json").read_text())
    assert query["n"] == 3
    assert query["log"]["strategy"] == "kmeans_bald"
    assert query["log"]["n_candidates"] >= 3
    cands = json.loads((run / "kmeans_bald_001.json").read_text())
    assert sum(cands["selected"]) == 3


def test_kmeans_bald_with_the_nnunet_backend_validates(tmp_path):
    # The nnunet backend now gives encoder features (tests/active/test_al_nnunet.py runs it).
    pytest.importorskip("nnunetv2", reason="the nnunet backend needs nnunetv2 (extra 'nnunet')")
    cfg = ExperimentConfig.from_dict(
        {
            "dataset": {"synthetic": {"n_cases": 6, "shape": [8, 24, 24]}},
            "strategies": ["pe", "kmeans_bald"],
            "patch_size": [4, 8, 8],
            "query_size": 3,
            "target_spacing": [2, 1, 1],
            "trainer": {"backend": "nnunet", "device": "cpu"},
        },
        base_dir=tmp_path,
    )
    cfg.validate()
    assert cfg.target_spacing == (2.0, 1.0, 1.0)
