"""medtrust.compat.monai against MONAI itself (installed by the test extra).

Randomised parity (hypothesis): 2-D and 3-D, anisotropic spacing in every MONAI form, empty /
full / single-voxel masks, absent classes, batch > 1, every reduction; plus MONAI's documented
edge cases. Values agree within 1e-6 relative, NaN and inf exactly where MONAI has them.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtrust.compat import monai as mm
from medtrust.compat._tensors import UnsupportedOptionError
from medtrust.exceptions import DeviceError

monai_metrics = pytest.importorskip("monai.metrics", reason="MONAI (test extra) is not installed")

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
REDUCTIONS = ["none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel"]


def assert_same(ours, theirs, rtol=1e-6):
    """Same shape, dtype and device; NaN / inf exactly where the peer has them; values close."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b, rtol)
        return
    if isinstance(theirs, dict):
        assert ours == theirs
        return
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.device == theirs.device
    a, b = ours.double().cpu().numpy(), theirs.double().cpu().numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=1e-12)


def peer(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@st.composite
def batches(draw, min_channels=1):
    """Two binary one-hot-like [B, C, ...] float tensors with edge-case channels."""
    nd = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, 9 if nd == 2 else 6)) for _ in range(nd))
    b = draw(st.integers(1, 3))
    c = draw(st.integers(min_channels, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        arr = np.zeros((b, c, *shape), np.float32)
        for i in range(b):
            for j in range(c):
                kind = draw(
                    st.sampled_from(["random", "random", "blob", "empty", "full", "single"])
                )
                if kind == "random":
                    arr[i, j] = rng.random(shape) < rng.uniform(0.1, 0.9)
                elif kind == "blob":
                    lo = [rng.integers(0, n) for n in shape]
                    hi = [rng.integers(low + 1, n + 1) for low, n in zip(lo, shape)]
                    arr[(i, j, *[slice(x, y) for x, y in zip(lo, hi)])] = 1
                elif kind == "full":
                    arr[i, j] = 1
                elif kind == "single":
                    arr[(i, j, *[rng.integers(0, n) for n in shape])] = 1
        out.append(torch.from_numpy(arr))
    return out[0], out[1]


@st.composite
def spacings(draw, b, nd):
    form = draw(st.sampled_from(["none", "scalar", "axes", "per_item"]))
    val = st.sampled_from([0.5, 0.8, 1.0, 1.5, 2.5])
    if form == "none":
        return None
    if form == "scalar":
        return draw(val)
    if form == "axes":
        return [draw(val) for _ in range(nd)]
    return [[draw(val) for _ in range(nd)] for _ in range(b)]


@SETTINGS
@given(data=st.data(), pair=batches())
def test_hausdorff_parity(data, pair):
    y_pred, y = pair
    sp = data.draw(spacings(y.shape[0], y.ndim - 2))
    kw = dict(
        include_background=data.draw(st.booleans()),
        distance_metric=data.draw(st.sampled_from(["euclidean", "chessboard", "taxicab"])),
        percentile=data.draw(st.sampled_from([None, 0, 50, 95, 100, 37.5])),
        directed=data.draw(st.booleans()),
        spacing=sp,
    )
    assert_same(
        mm.compute_hausdorff_distance(y_pred, y, **kw),
        peer(monai_metrics.compute_hausdorff_distance, y_pred, y, **kw),
    )


@SETTINGS
@given(data=st.data(), pair=batches())
def test_average_surface_distance_parity(data, pair):
    y_pred, y = pair
    kw = dict(
        include_background=data.draw(st.booleans()),
        symmetric=data.draw(st.booleans()),
        distance_metric=data.draw(st.sampled_from(["euclidean", "chessboard", "taxicab"])),
        spacing=data.draw(spacings(y.shape[0], y.ndim - 2)),
    )
    assert_same(
        mm.compute_average_surface_distance(y_pred, y, **kw),
        peer(monai_metrics.compute_average_surface_distance, y_pred, y, **kw),
    )


@SETTINGS
@given(data=st.data(), pair=batches(min_channels=2))
def test_surface_dice_parity(data, pair):
    y_pred, y = pair
    inc = data.draw(st.booleans())
    n = y.shape[1] - (0 if inc else 1)
    sub = data.draw(st.booleans())
    kw = dict(
        class_thresholds=[
            data.draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])) for _ in range(n)
        ],
        include_background=inc,
        distance_metric="euclidean"
        if sub
        else data.draw(st.sampled_from(["euclidean", "taxicab"])),
        spacing=data.draw(spacings(y.shape[0], y.ndim - 2)),
        use_subvoxels=sub,
    )
    if sub and kw["spacing"] is not None and not isinstance(kw["spacing"], list):
        kw["spacing"] = [kw["spacing"]] * (y.ndim - 2)  # MONAI's subvoxel table needs a sequence
    assert_same(
        mm.compute_surface_dice(y_pred, y, **kw),
        peer(monai_metrics.compute_surface_dice, y_pred, y, **kw),
        rtol=2e-6,
    )


@SETTINGS
@given(data=st.data(), pair=batches())
def test_dice_and_iou_parity_one_hot(data, pair):
    y_pred, y = pair
    inc = data.draw(st.booleans())
    ign = data.draw(st.booleans())
    if data.draw(st.booleans()):  # soft reference values are allowed for y
        y = y * torch.rand(y.shape, generator=torch.Generator().manual_seed(0))
    assert_same(
        mm.compute_dice(y_pred, y, include_background=inc, ignore_empty=ign),
        peer(monai_metrics.compute_dice, y_pred, y, include_background=inc, ignore_empty=ign),
    )
    assert_same(
        mm.compute_iou(y_pred, y, include_background=inc, ignore_empty=ign),
        peer(monai_metrics.compute_iou, y_pred, y, include_background=inc, ignore_empty=ign),
    )


@SETTINGS
@given(
    data=st.data(),
    shape=st.lists(st.integers(1, 8), min_size=2, max_size=3),
    b=st.integers(1, 3),
    n=st.integers(2, 5),
)
def test_dice_parity_label_maps(data, shape, b, n):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    dtype = data.draw(st.sampled_from([torch.int64, torch.uint8, torch.int32, torch.float32]))
    top = data.draw(st.integers(1, n))  # absent classes when top < n
    y_pred = torch.from_numpy(rng.integers(0, top, (b, 1, *shape))).to(dtype)
    y = torch.from_numpy(rng.integers(0, top, (b, 1, *shape))).to(dtype)
    kw = dict(
        include_background=data.draw(st.booleans()),
        ignore_empty=data.draw(st.booleans()),
        num_classes=n,
    )
    assert_same(mm.compute_dice(y_pred, y, **kw), peer(monai_metrics.compute_dice, y_pred, y, **kw))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("get_not_nans", [False, True])
def test_metric_classes_every_reduction(reduction, get_not_nans):
    rng = np.random.default_rng(3)
    batches_ = []
    for k in range(3):  # three iterations, one with an empty class, list and tensor forms
        y = torch.from_numpy((rng.random((2, 3, 7, 6)) < 0.4).astype(np.float32))
        p = torch.from_numpy((rng.random((2, 3, 7, 6)) < 0.4).astype(np.float32))
        if k == 1:
            y[0, 2] = 0
            p[1, 1] = 0
        batches_.append((p, y))
    common = dict(reduction=reduction, get_not_nans=get_not_nans)
    pairs = [
        (mm.DiceMetric(**common), monai_metrics.DiceMetric(**common)),
        (mm.MeanIoU(**common), monai_metrics.MeanIoU(**common)),
        (
            mm.HausdorffDistanceMetric(percentile=95, **common),
            monai_metrics.HausdorffDistanceMetric(percentile=95, **common),
        ),
        (
            mm.SurfaceDistanceMetric(symmetric=True, **common),
            monai_metrics.SurfaceDistanceMetric(symmetric=True, **common),
        ),
        (
            mm.SurfaceDiceMetric([1.0, 2.0], **common),
            monai_metrics.SurfaceDiceMetric([1.0, 2.0], **common),
        ),
    ]
    for ours, theirs in pairs:
        for k, (p, y) in enumerate(batches_):
            kw = (
                {"spacing": [0.5, 2.0]} if not isinstance(ours, (mm.DiceMetric, mm.MeanIoU)) else {}
            )
            if k == 2:  # MONAI's list-of-channel-first form
                assert_same(ours(list(p), list(y), **kw), peer(theirs, list(p), list(y), **kw))
            else:
                assert_same(ours(p, y, **kw), peer(theirs, p, y, **kw))
        assert_same(ours.get_buffer(), theirs.get_buffer())
        assert_same(ours.aggregate(), peer(theirs.aggregate))
        assert_same(ours.aggregate("sum"), peer(theirs.aggregate, "sum"))
        ours.reset()
        theirs.reset()
        assert ours.get_buffer() is None and len(ours) == 0


def test_dice_metric_return_with_label_and_helper():
    rng = np.random.default_rng(0)
    y_pred = torch.from_numpy(rng.integers(0, 4, (3, 1, 9, 9)))
    y = torch.from_numpy(rng.integers(0, 4, (3, 1, 9, 9)))
    for rwl in (True, ["a", "b", "c"]):
        kw = dict(reduction="mean_batch", return_with_label=rwl, num_classes=4)
        ours, theirs = (
            mm.DiceMetric(include_background=False, **kw),
            monai_metrics.DiceMetric(include_background=False, **kw),
        )
        ours(y_pred, y)
        theirs(y_pred, y)
        assert ours.aggregate() == theirs.aggregate()
    scores = torch.from_numpy(rng.random((3, 4, 9, 9)).astype(np.float32))
    for kw in (
        {},
        {"include_background": True},
        {"threshold": True},
        {"threshold": True, "activate": True, "reduction": "mean"},
        {"num_classes": 4, "get_not_nans": False},
    ):
        inp = y_pred if "num_classes" in kw else scores
        assert_same(mm.DiceHelper(**kw)(inp, y), peer(monai_metrics.DiceHelper(**kw), inp, y))


def test_documented_edge_cases():
    # MONAI's docs: both masks empty -> NaN; one empty -> inf (HD, ASD), NSD 0.
    z = torch.zeros(1, 1, 5, 5)
    a = z.clone()
    a[0, 0, 2, 2] = 1
    for p, y in ((z, z), (a, z), (z, a)):
        for fn, kw in (
            ("compute_hausdorff_distance", {}),
            ("compute_hausdorff_distance", {"percentile": 95}),
            ("compute_hausdorff_distance", {"directed": True}),
            ("compute_average_surface_distance", {"symmetric": True}),
            ("compute_average_surface_distance", {}),
            ("compute_surface_dice", {"class_thresholds": [1.0]}),
            ("compute_surface_dice", {"class_thresholds": [1.0], "use_subvoxels": True}),
        ):
            kw = {"include_background": True, **kw}
            assert_same(getattr(mm, fn)(p, y, **kw), peer(getattr(monai_metrics, fn), p, y, **kw))
    # Hand-derived values: one voxel shifted by 3 along a 2 mm axis.
    b = z.clone()
    b[0, 0, 2, 4] = 1
    hd = mm.compute_hausdorff_distance(a, b, include_background=True, spacing=[1.0, 2.0])
    assert hd.item() == 4.0
    cb = mm.compute_hausdorff_distance(a, b, include_background=True, distance_metric="chessboard")
    assert cb.item() == 2.0


def test_unsupported_options_raise_naming_them():
    x = torch.zeros(1, 2, 4, 4)
    with pytest.raises(UnsupportedOptionError, match="ignore_index"):
        mm.compute_hausdorff_distance(x, x, ignore_index=0)
    with pytest.raises(UnsupportedOptionError, match="per_component"):
        mm.DiceMetric(per_component=True)
    with pytest.raises(Exception, match="use_subvoxels"):
        mm.compute_surface_dice(
            x, x, class_thresholds=[1.0], use_subvoxels=True, distance_metric="taxicab"
        )


def test_device_tensors_are_refused_without_opt_in():
    x = torch.zeros(1, 2, 4, 4, device="meta")
    with pytest.raises(DeviceError, match="allow_host_copy"):
        mm.compute_hausdorff_distance(x, x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_tensors():
    rng = np.random.default_rng(1)
    p = torch.from_numpy((rng.random((2, 3, 9, 8)) < 0.4).astype(np.float32))
    y = torch.from_numpy((rng.random((2, 3, 9, 8)) < 0.4).astype(np.float32))
    pc, yc = p.cuda(), y.cuda()
    with pytest.raises(DeviceError):
        mm.compute_hausdorff_distance(pc, yc)
    hd = mm.compute_hausdorff_distance(pc, yc, allow_host_copy=True)
    assert hd.device == pc.device
    assert_same(hd.cpu(), mm.compute_hausdorff_distance(p, y))
    dice = mm.compute_dice(pc, yc)  # a torch reduction: computed on the device
    assert dice.device == pc.device
    assert_same(dice.cpu(), peer(monai_metrics.compute_dice, p, y))


def test_patch_routes_monai_calls_and_unpatch_restores():
    original = monai_metrics.compute_hausdorff_distance
    a = torch.zeros(1, 2, 8, 8)
    a[0, 1, 2:5, 2:5] = 1
    b = torch.zeros(1, 2, 8, 8)
    b[0, 1, 3:7, 2:6] = 1
    expected = peer(original, a, b, percentile=95)
    with mm.patched() as replaced:
        assert "monai.metrics.compute_hausdorff_distance" in replaced
        assert "monai.metrics.HausdorffDistanceMetric" in replaced
        assert monai_metrics.compute_hausdorff_distance is mm.compute_hausdorff_distance
        # MONAI's own docstring example (DiceMetric with label maps) gives the same numbers.
        n_classes = 5
        rng = np.random.default_rng(0)
        y_pred = torch.from_numpy(rng.integers(0, n_classes, (7, 1, 32, 32)))
        y = torch.from_numpy(rng.integers(0, n_classes, (7, 1, 32, 32)))
        dm = monai_metrics.DiceMetric(
            reduction="mean_batch", return_with_label=True, num_classes=n_classes
        )
        dm(y_pred, y)
        patched_labels = dm.aggregate()
        assert_same(monai_metrics.compute_hausdorff_distance(a, b, percentile=95), expected)
    assert monai_metrics.compute_hausdorff_distance is original
    dm = monai_metrics.DiceMetric(reduction="mean_batch", return_with_label=True, num_classes=5)
    dm(y_pred, y)
    assert patched_labels == dm.aggregate()
