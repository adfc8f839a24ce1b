"""medtrust.compat.torchmetrics' HausdorffDistance against the installed torchmetrics.

Parity on square 2-D images (torchmetrics 1.9's distance transform is 2-D only and misplaces
distances on non-square images); beyond that, scipy distance transforms are the oracle.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from medtrust.compat import torchmetrics as mt
from medtrust.exceptions import InvalidArgumentError

tmf = pytest.importorskip(
    "torchmetrics.functional.segmentation", reason="torchmetrics (test extra) is not installed"
)
tms = pytest.importorskip("torchmetrics.segmentation", reason="torchmetrics is not installed")

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def index_pairs(draw):
    """Square 2-D index maps [N, S, S] whose classes are never absent from both inputs."""
    s = draw(st.integers(3, 10))
    n = draw(st.integers(1, 3))
    k = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    p = rng.integers(0, k, (n, s, s))
    t = rng.integers(0, k, (n, s, s))
    if draw(st.booleans()):  # a blob instead of noise, for long distances
        t = np.zeros((n, s, s), np.int64)
        t[:, : s // 2, : s // 2] = 1
    # torchmetrics raises on a class absent from both maps: plant every class in each.
    for c in range(k):
        p[:, c % s, (c * 2) % s] = c
        t[:, (c * 3) % s, c % s] = c
    return torch.from_numpy(p), torch.from_numpy(t), k


@SETTINGS
@given(
    index_pairs(),
    st.sampled_from(["euclidean", "chessboard", "taxicab"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, [1.0, 1.0], [0.5, 2.0], [1.7, 0.3]]),
)
def test_functional_matches_torchmetrics(pair, metric, directed, background, spacing):
    p, t, k = pair
    kw = dict(
        include_background=background,
        distance_metric=metric,
        spacing=spacing,
        directed=directed,
        input_format="index",
    )
    ours = mt.hausdorff_distance(p, t, k, **kw)
    theirs = tmf.hausdorff_distance(p, t, k, **kw)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_one_hot_scores_and_mixed_inputs_match():
    rng = np.random.default_rng(3)
    scores = torch.from_numpy(rng.random((2, 3, 7, 7)).astype(np.float32))
    t = torch.from_numpy(rng.integers(0, 3, (2, 7, 7)))
    oh_t = torch.nn.functional.one_hot(t, 3).movedim(-1, 1)
    for fmt, a, b in (("one-hot", scores, oh_t), ("mixed", scores, t)):
        ours = mt.hausdorff_distance(a, b, 3, input_format=fmt)
        np.testing.assert_allclose(
            ours.numpy(), tmf.hausdorff_distance(a, b, 3, input_format=fmt).numpy(), rtol=1e-6
        )


def test_empty_masks_give_inf_and_both_empty_nan():
    a = torch.zeros(1, 2, 6, 6, dtype=torch.long)
    a[0, 1, 1:3, 1:3] = 1
    a[0, 0] = 1 - a[0, 1]
    e = torch.zeros(1, 2, 6, 6, dtype=torch.long)
    e[0, 0] = 1
    for directed in (False, True):
        for x, y in ((a, e), (e, a)):
            want = tmf.hausdorff_distance(x, y, 2, directed=directed)
            assert torch.isinf(want).all()
            assert torch.equal(mt.hausdorff_distance(x, y, 2, directed=directed), want)
    # torchmetrics fails (max of an empty tensor) where both are empty; the shim says NaN.
    z = torch.zeros(1, 2, 6, 6, dtype=torch.long)
    with pytest.raises(RuntimeError):
        tmf.hausdorff_distance(z, z, 2, include_background=True)
    out = mt.hausdorff_distance(z, z, 2, include_background=True)
    assert torch.isnan(out).all()


def _edt_oracle(p, t, spacing, directed):
    """Hausdorff distance from scipy's exact EDT over border voxels (outside = background)."""

    def border(m):
        padded = np.pad(m, 1)
        return m & ~ndimage.binary_erosion(padded)[(slice(1, -1),) * m.ndim]

    bp, bt = border(p), border(t)
    d_pt = ndimage.distance_transform_edt(~bt, sampling=spacing)[bp].max()
    if directed:
        return d_pt
    return max(d_pt, ndimage.distance_transform_edt(~bp, sampling=spacing)[bt].max())


@pytest.mark.parametrize("shape", [(4, 9), (9, 4), (5, 6, 7)])
def test_non_square_and_3d_against_scipy(shape):
    # torchmetrics 1.9 gives wrong values (H < W), IndexError (H > W) or ValueError (3-D) here.
    rng = np.random.default_rng(sum(shape))
    p = rng.random((2, 1, *shape)) < 0.4
    t = rng.random((2, 1, *shape)) < 0.4
    p[:, :, 0], t[:, :, -1] = True, True  # never empty
    sp = [0.7, 1.3, 2.0][: len(shape)]
    ours = mt.hausdorff_distance(
        torch.from_numpy(p).long(),
        torch.from_numpy(t).long(),
        1,
        spacing=sp,
        include_background=True,
    )
    for b in range(2):
        want = _edt_oracle(p[b, 0], t[b, 0], sp, False)
        np.testing.assert_allclose(float(ours[b, 0]), want, rtol=1e-6)


def test_metric_class_accumulates_like_torchmetrics():
    rng = np.random.default_rng(5)
    ours = mt.HausdorffDistance(num_classes=3, input_format="index", distance_metric="taxicab")
    theirs = tms.HausdorffDistance(num_classes=3, input_format="index", distance_metric="taxicab")
    for _ in range(3):
        p = torch.from_numpy(rng.integers(0, 3, (2, 8, 8)))
        t = torch.from_numpy(rng.integers(0, 3, (2, 8, 8)))
        np.testing.assert_allclose(ours(p, t).numpy(), theirs(p, t).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.compute().numpy(), theirs.compute().numpy(), rtol=1e-6)
    assert ours._reductions["score"].__name__ == theirs._reductions["score"].__name__
    ours.reset()
    assert float(ours.total) == 0


def test_bad_arguments_are_refused_with_their_names():
    x = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        mt.hausdorff_distance(x, x, 0, input_format="index")
    with pytest.raises(InvalidArgumentError, match="distance_metric"):
        mt.hausdorff_distance(x, x, 2, distance_metric="cosine", input_format="index")
    with pytest.raises(InvalidArgumentError, match="spacing"):
        mt.hausdorff_distance(x, x, 2, spacing="1", input_format="index")
    with pytest.raises(InvalidArgumentError, match="binarized"):
        mt.hausdorff_distance(
            torch.full((1, 2, 4, 4), 2), torch.ones(1, 2, 4, 4, dtype=torch.long), 2
        )


def test_patch_routes_hausdorff():
    p = torch.zeros(1, 6, 6, dtype=torch.long)
    p[0, 1:3, 1:3] = 1
    t = torch.zeros(1, 6, 6, dtype=torch.long)
    t[0, 2:5, 2:4] = 1
    want = tmf.hausdorff_distance(p, t, 2, input_format="index")
    with mt.patched(["hausdorff_distance", "HausdorffDistance"]) as replaced:
        assert "torchmetrics.segmentation.HausdorffDistance" in replaced
        import torchmetrics.functional.segmentation as f

        assert f.hausdorff_distance is mt.hausdorff_distance
        assert torch.equal(f.hausdorff_distance(p, t, 2, input_format="index"), want)
    assert tmf.hausdorff_distance is not mt.hausdorff_distance
