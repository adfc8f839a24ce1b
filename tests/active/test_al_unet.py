import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the built-in trainer needs torch (extra 'torch')")

from medtrust.active.trainers.inference import (  # noqa: E402
    gaussian_importance,
    sliding_window,
    sliding_window_slabs,
    tile_starts,
)
from medtrust.active.trainers.unet import (  # noqa: E402
    UNetPredictor,
    UNetSettings,
    build_unet,
    masked_dice_ce_loss,
    plan_unet,
)
from medtrust.exceptions import ConfigError  # noqa: E402
from medtrust.uncertainty import (  # noqa: E402
    EnsembleAccumulator,
    SlabAccumulator,
)


def _softmax(x):
    e = np.exp(x - x.max(0))
    return e / e.sum(0)


def test_loss_gradient_is_exactly_zero_on_ignore_voxels():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 8, 8, generator=gen, requires_grad=True)
    target = torch.randint(0, 4, (2, 6, 8, 8), generator=gen)
    ignore = torch.rand(2, 6, 8, 8, generator=gen) < 0.6
    target[ignore] = 4
    loss = masked_dice_ce_loss(logits, target, ignore_label=4)
    loss.backward()
    g = logits.grad.permute(0, 2, 3, 4, 1)  # [B, Z, Y, X, C]
    assert torch.all(g[ignore] == 0)
    assert torch.all(g[~ignore].abs().sum(-1) > 0)
    # The loss does not depend on the logits at ignored voxels either.
    changed = logits.detach().clone()
    changed.permute(0, 2, 3, 4, 1)[ignore] = 50.0
    assert masked_dice_ce_loss(changed, target, ignore_label=4).item() == pytest.approx(
        loss.item(), rel=1e-6
    )


def test_loss_without_annotation_is_zero_with_graph():
    logits = torch.randn(1, 3, 2, 2, 2, requires_grad=True)
    loss = masked_dice_ce_loss(logits, torch.full((1, 2, 2, 2), 3), ignore_label=3)
    loss.backward()
    assert loss.item() == 0 and torch.all(logits.grad == 0)


def test_loss_prefers_correct_prediction():
    target = torch.tensor([[[[0, 1], [2, 3]]]])
    good = torch.nn.functional.one_hot(target.clamp(max=2), 3).permute(0, 4, 1, 2, 3) * 10.0
    bad = torch.roll(good, 1, dims=1)
    lg = masked_dice_ce_loss(good.float(), target, ignore_label=3)
    lb = masked_dice_ce_loss(bad.float(), target, ignore_label=3)
    assert lg < 0.01 < lb


def test_tiles_cover_volume_and_gaussian():
    for size, tile in [(10, 4), (7, 7), (5, 8), (33, 16)]:
        starts = tile_starts(size, tile, 0.5)
        covered = np.zeros(max(size, tile), bool)
        for s in starts:
            covered[s : s + tile] = True
        assert covered[:size].all() and starts[0] == 0
        assert starts[-1] + tile == max(size, tile)
    g = gaussian_importance((5, 8, 8))
    assert g.max() == 1.0 and g.min() > 0 and g[2, 4, 4] == 1.0


@pytest.mark.parametrize("tile", [(4, 8, 8), (5, 6, 20), (13, 17, 9), (20, 20, 20), (3, 3, 3)])
@pytest.mark.parametrize("gaussian", [True, False])
def test_sliding_window_equals_whole_volume_for_a_pointwise_model(tile, gaussian):
    # A per-voxel model gives the same logits in every tile, so any stitching error (a missed
    # or shifted tile, wrong weight normalisation, lost padding) shows up as a difference.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)

    def model(x):
        return np.einsum("kc,bc...->bk...", w, x) + b[None, :, None, None, None]

    img = rng.normal(size=(2, 13, 17, 9)).astype(np.float32)
    whole = _softmax(model(img[None])[0])
    out = sliding_window(model, img, tile, n_classes=3, gaussian=gaussian, batch_size=3)
    np.testing.assert_allclose(out, whole, atol=1e-6)
    slabs = list(sliding_window_slabs(model, img, tile, n_classes=3, gaussian=gaussian))
    assert [z for z, _ in slabs] == sorted({z for z, _ in slabs})
    np.testing.assert_array_equal(np.concatenate([s for _, s in slabs], axis=1), out)


def test_unet_sliding_window_equals_whole_volume_on_small_volume():
    torch.manual_seed(0)
    plan = plan_unet((8, 16, 16), (3.0, 1.0, 1.0), in_channels=1, n_classes=4, base_channels=4)
    model = build_unet(plan).eval()
    # Mirroring off: the window alone must reproduce the whole-volume forward pass (the
    # mirrored average is checked in test_al_inference_protocol.py).
    pred = UNetPredictor(model, plan, UNetSettings(device="cpu", mirroring=False))
    img = np.random.default_rng(1).normal(size=(1, 8, 16, 16)).astype(np.float32)
    with torch.no_grad():
        whole = torch.softmax(model(torch.from_numpy(img[None])), 1)[0].numpy()
    out = np.concatenate([s for _, s in pred.predict_array_slabs(img)], axis=1)
    np.testing.assert_allclose(out, whole, atol=1e-5)
    # Smaller images are padded to the tile and cropped back.
    small = img[:, :6, :13, :11]
    probs = np.concatenate([s for _, s in pred.predict_array_slabs(small)], axis=1)
    assert probs.shape == (4, 6, 13, 11)
    np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)


def test_slab_accumulator_equals_whole_volume_accumulation():
    rng = np.random.default_rng(0)
    members = [_softmax(rng.normal(size=(3, 9, 4, 5))).astype(np.float32) for _ in range(3)]
    acc = SlabAccumulator(3, (9, 4, 5))
    whole = EnsembleAccumulator(3)
    for p in members:
        acc.add_slabs([(0, p[:, :4]), (4, p[:, 4:7]), (7, p[:, 7:])])
        whole.add(p)
    assert isinstance(acc, EnsembleAccumulator) and acc.n_members == 3
    for a, b in zip(acc.state(), whole.state()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    kinds = [("pe", None), ("ee", None), ("mi", None), ("class_pe", 2)]
    np.testing.assert_allclose(acc.maps(kinds), whole.maps(kinds), atol=1e-6)
    pbar = np.mean(members, 0)
    pe = -(pbar * np.log(pbar)).sum(0)
    np.testing.assert_allclose(acc.predictive_entropy(), pe, atol=1e-5)
    np.testing.assert_array_equal(acc.argmax(), pbar.argmax(0))
    with pytest.raises(ValueError, match="expected"):
        acc.add_slabs([(0, members[0][:, :5]), (6, members[0][:, 6:])])
    with pytest.raises(ValueError):
        acc.add_slabs([(0, members[0] * 2)])  # not probabilities: the kernel refuses it


def test_plan_respects_anisotropy():
    p = plan_unet((8, 32, 32), (4.0, 1.0, 1.0), in_channels=1, n_classes=2)
    assert p.kernels[0] == (1, 3, 3) and p.strides[1] == (1, 2, 2)
    iso = plan_unet((16, 16, 16), (1.0, 1.0, 1.0), in_channels=1, n_classes=2)
    assert iso.strides[1] == (2, 2, 2) and iso.kernels[0] == (3, 3, 3)


def test_settings_validation():
    with pytest.raises(ConfigError, match="unknown setting"):
        UNetSettings.from_dict({"iters": 3})
    with pytest.raises(ConfigError, match="members"):
        UNetSettings.from_dict({"members": "bagging"})
    with pytest.raises(ConfigError, match="patch_size"):
        UNetSettings.from_dict({"patch_size": [8, 8]})
