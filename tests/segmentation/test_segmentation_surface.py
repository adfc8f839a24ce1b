import math

import numpy as np
import pytest

from medtrust import segmentation as seg
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)
from reference import segmentation as ref

SPACING = (0.8, 0.8, 2.5)


def blob_pair(shape=(40, 44, 24), seed=0):
    rng = np.random.default_rng(seed)
    c = np.array(shape) / 2
    a = ref.blob(shape, c, np.array(shape) * 0.3, rng)
    b = ref.blob(shape, c + np.array([1.5, -1.0, 0.5]), np.array(shape) * 0.28, rng)
    return a, b


def check_against_oracle(a, b, spacing, surface):
    got = seg.surface_distances(a, b, spacing=spacing, surface=surface)
    dp, wp, dt, wt = ref.surface_distances(a, b, spacing, surface)
    assert np.allclose(np.sort(dp), got.pred_to_target, rtol=1e-12)
    assert np.allclose(np.sort(dt), got.target_to_pred, rtol=1e-12)
    assert np.isclose(wp.sum(), got.pred_weights.sum(), rtol=1e-12)
    assert np.isclose(wt.sum(), got.target_weights.sum(), rtol=1e-12)
    if surface == "voxels":
        want95 = ref.hd95_voxels(dp, dt)
    else:
        want95 = ref.hd95_surfels(dp, wp, dt, wt)
    assert got.hd95() == pytest.approx(want95, rel=1e-12)
    assert got.hd() == pytest.approx(max(dp.max(), dt.max()), rel=1e-12)
    for tol in (0.5, 1.0, 2.0, 3.3):
        assert got.nsd(tol) == pytest.approx(ref.nsd(dp, wp, dt, wt, tol), rel=1e-12)
    assert got.assd() == pytest.approx(ref.assd(dp, wp, dt, wt), rel=1e-12)
    return got


@pytest.mark.parametrize("surface", ["voxels", "surfels"])
@pytest.mark.parametrize("seed", [0, 1])
def test_blobs_anisotropic_match_scipy_oracle(surface, seed):
    a, b = blob_pair(seed=seed)
    check_against_oracle(a, b, SPACING, surface)


@pytest.mark.parametrize("surface", ["voxels", "surfels"])
@pytest.mark.parametrize("spacing", [(2.5, 0.8, 0.8), (0.8, 2.5, 0.8), (1.0, 1.0, 1.0)])
def test_far_apart_and_other_spacings_match_scipy_oracle(surface, spacing):
    # Far-apart structures make the per-element search give way to the separable transform
    # plane by plane; the spacing order changes which axes are swept and searched.
    rng = np.random.default_rng(7)
    shape = (36, 30, 28)
    a = ref.blob(shape, (8, 8, 8), (5, 4, 4), rng)
    b = ref.blob(shape, (27, 22, 20), (6, 5, 5), rng)
    b |= ref.blob(shape, (10, 9, 10), (3, 3, 2), rng)  # one close part, one far part
    check_against_oracle(a, b, spacing, surface)


@pytest.mark.parametrize("surface", ["voxels", "surfels"])
def test_2d_and_touching_the_border_match_oracle(surface):
    rng = np.random.default_rng(5)
    a = ref.blob((50, 40), (25, 20), (20, 14), rng)
    b = ref.blob((50, 40), (27, 18), (22, 12), rng)
    a[0, :] = True  # touches the image border: outside counts as background
    check_against_oracle(a, b, (0.7, 1.9), surface)
    c = np.zeros((12, 9, 7), bool)
    c[:, 2:6, 3:] = True
    d = np.zeros_like(c)
    d[3:, 1:7, 2:6] = True
    check_against_oracle(c, d, (1.0, 0.6, 1.7), surface)


def test_conventions_differ_under_anisotropy():
    a, b = blob_pair()
    v = seg.surface_distances(a, b, spacing=SPACING, surface="voxels")
    s = seg.surface_distances(a, b, spacing=SPACING, surface="surfels")
    assert abs(v.nsd(2.0) - s.nsd(2.0)) > 0.01


def test_cube_shifted_by_one_voxel_known_values():
    # 4x4x4 cube vs the same cube shifted by one voxel along axis 2 (2 mm there).
    a = np.zeros((8, 8, 10), bool)
    a[2:6, 2:6, 2:6] = True
    b = np.zeros_like(a)
    b[2:6, 2:6, 3:7] = True
    d = seg.surface_distances(a, b, spacing=(1.0, 1.0, 2.0))
    # 56 border voxels per cube: 16 (the trailing face) at 2 mm, 4 (inner face) at 1 mm.
    assert d.hd() == 2.0
    assert d.nsd(2.0) == 1.0
    assert d.nsd(1.0) == pytest.approx(80 / 112)
    assert d.nsd(0.5) == pytest.approx(72 / 112)
    assert d.assd() == pytest.approx((16 * 2 + 4 * 1) / 56)
    # 95th percentile of 36 zeros, 4 ones, 16 twos (numpy linear): position 52.25 -> 2.0
    assert d.hd95() == 2.0
    assert d.hd95(50) == 0.0
    # Surfels: the shifted face has area 4 x 4 mm^2 (x 1 mm x 1 mm) at 2 mm on each side.
    s = seg.surface_distances(a, b, spacing=(1.0, 1.0, 2.0), surface="surfels")
    assert s.hd() == 2.0
    assert s.nsd(2.0) == 1.0
    assert 0.0 < s.nsd(1.9) < 1.0


def test_empty_policies():
    a = np.zeros((6, 6, 6), bool)
    a[1:4, 1:4, 1:4] = True
    e = np.zeros_like(a)
    d = seg.surface_distances(a, e, spacing=(1, 1, 1))
    assert d.status == "target_empty"
    for p in (50, 95, 100):
        assert d.hd95(p) == math.inf  # the same for every percentile, never NaN
    assert d.hd() == math.inf and d.assd() == math.inf and d.nsd(1.0) == 0.0
    nan = seg.surface_distances(e, a, spacing=(1, 1, 1), one_empty="nan")
    assert nan.status == "pred_empty" and math.isnan(nan.hd95()) and nan.nsd(2.0) == 0.0
    diag = seg.surface_distances(e, a, spacing=(1, 2, 3), one_empty="diagonal")
    assert diag.hd() == pytest.approx(math.sqrt(6**2 + 12**2 + 18**2))
    both = seg.surface_distances(e, e, spacing=(1, 1, 1))
    assert both.status == "both_empty" and math.isnan(both.hd()) and math.isnan(both.nsd(1))
    perfect = seg.surface_distances(e, e, spacing=(1, 1, 1), empty="perfect")
    assert perfect.hd95() == 0.0 and perfect.nsd(1.0) == 1.0


def test_helpers_and_label_selection():
    a = np.zeros((10, 10, 10), np.uint8)
    a[2:6, 2:6, 2:6] = 2
    b = np.zeros_like(a)
    b[2:6, 2:6, 3:7] = 2
    b[0, 0, 0] = 1
    assert seg.hd95(a, b, spacing=(1, 1, 2), label=2) == 2.0
    assert seg.nsd(a, b, spacing=(1, 1, 2), label=2, tolerance=2.0) == 1.0
    assert seg.hd(a == 2, b == 2, spacing=(1, 1, 2)) == 2.0
    assert seg.assd(a, a, spacing=(1, 1, 1)) == 0.0
    d = seg.surface_distances(a, b, spacing=(1, 1, 2), label=2).to_dict(tolerance=1.0)
    assert set(d) == {"hd", "hd95", "assd", "nsd", "status", "surface"}


def test_bad_inputs():
    a = np.zeros((4, 4, 4), bool)
    with pytest.raises(InvalidArgumentError, match="required"):
        seg.hd95(a, a, spacing=None)
    with pytest.raises(ShapeMismatchError, match="2 value"):
        seg.hd95(a, a, spacing=(1, 1))
    with pytest.raises(InvalidValueError):
        seg.hd95(a, a, spacing=(1, 0, 1))
    with pytest.raises(InvalidValueError):
        seg.hd95(a, a, spacing=(1, np.nan, 1))
    with pytest.raises(ShapeMismatchError):
        seg.hd95(a, np.zeros((4, 4, 5), bool), spacing=(1, 1, 1))
    with pytest.raises(DTypeError):
        seg.hd95(a.astype(float), a, spacing=(1, 1, 1))
    with pytest.raises(InvalidArgumentError):
        seg.surface_distances(a, a, spacing=(1, 1, 1), surface="mesh")
    with pytest.raises(InvalidArgumentError):
        seg.surface_distances(np.zeros(5, bool), np.zeros(5, bool), spacing=(1,))
    with pytest.raises(InvalidArgumentError):
        seg.surface_distances(a, a, spacing=(1, 1, 1)).hd95(101)


def test_matches_monai_peers_within_1e6():
    monai_metrics = pytest.importorskip("monai.metrics", reason="MONAI not installed")
    torch = pytest.importorskip("torch")
    a, b = blob_pair(shape=(48, 52, 30), seed=3)
    pa = torch.from_numpy(a)[None, None].float()
    pb = torch.from_numpy(b)[None, None].float()
    for sub, surface in ((False, "voxels"), (True, "surfels")):
        ours = seg.surface_distances(a, b, spacing=SPACING, surface=surface)
        for tol in (1.0, 2.0):
            theirs = monai_metrics.compute_surface_dice(
                pa, pb, [tol], include_background=True, spacing=SPACING, use_subvoxels=sub
            ).item()
            assert ours.nsd(tol) == pytest.approx(theirs, rel=1e-6)
    v = seg.surface_distances(a, b, spacing=SPACING)
    hd95 = monai_metrics.compute_hausdorff_distance(
        pa, pb, include_background=True, percentile=95, spacing=SPACING
    ).item()
    assert v.hd95() == pytest.approx(hd95, rel=1e-6)
    asd = monai_metrics.compute_average_surface_distance(
        pa, pb, include_background=True, symmetric=True, spacing=SPACING
    ).item()
    assert v.assd() == pytest.approx(asd, rel=1e-6)
