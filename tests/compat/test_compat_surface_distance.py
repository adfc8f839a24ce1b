"""medtrust.compat.surface_distance against DeepMind's surface-distance (PyPI ``surface-distance``).

The peer uses ``np.Inf`` / ``np.NaN`` (removed in numpy 2) on its empty-mask paths; the tests put
the aliases back so that the peer's own code runs for those cases.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtrust.compat import surface_distance as msd
from medtrust.exceptions import DTypeError, ShapeMismatchError

sd = pytest.importorskip(
    "surface_distance", reason="surface-distance (test extra) is not installed"
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@pytest.fixture(autouse=True)
def _numpy1_aliases(monkeypatch):
    monkeypatch.setattr(np, "Inf", np.inf, raising=False)
    monkeypatch.setattr(np, "NaN", np.nan, raising=False)


def same(a, b, rtol=1e-9):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=1e-12)


@st.composite
def mask_pairs(draw):
    nd = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, 10 if nd == 2 else 7)) for _ in range(nd))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    out = []
    for _ in range(2):
        kind = draw(st.sampled_from(["random", "random", "blob", "empty", "full", "single"]))
        m = np.zeros(shape, bool)
        if kind == "random":
            m = rng.random(shape) < rng.uniform(0.1, 0.9)
        elif kind == "blob":
            lo = [rng.integers(0, n) for n in shape]
            m[tuple(slice(x, rng.integers(x + 1, n + 1)) for x, n in zip(lo, shape))] = True
        elif kind == "full":
            m[:] = True
        elif kind == "single":
            m[tuple(rng.integers(0, n) for n in shape)] = True
        out.append(m)
    spacing = tuple(draw(st.sampled_from([0.5, 0.8, 1.0, 1.5, 3.0])) for _ in range(nd))
    return out[0], out[1], spacing


@SETTINGS
@given(
    case=mask_pairs(),
    percent=st.sampled_from([0, 50, 95, 99, 100]),
    tol=st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]),
)
def test_parity_with_deepmind(case, percent, tol):
    gt, pred, spacing = case
    ours = msd.compute_surface_distances(gt, pred, spacing)
    theirs = sd.compute_surface_distances(gt, pred, spacing)
    assert sorted(ours) == sorted(theirs)
    for k in theirs:
        same(ours[k], theirs[k])
    with np.errstate(all="ignore"):
        same(
            msd.compute_robust_hausdorff(ours, percent),
            sd.compute_robust_hausdorff(theirs, percent),
        )
        same(
            msd.compute_average_surface_distance(ours), sd.compute_average_surface_distance(theirs)
        )
        same(
            msd.compute_surface_overlap_at_tolerance(ours, tol),
            sd.compute_surface_overlap_at_tolerance(theirs, tol),
        )
        same(
            msd.compute_surface_dice_at_tolerance(ours, tol),
            sd.compute_surface_dice_at_tolerance(theirs, tol),
        )
        same(msd.compute_dice_coefficient(gt, pred), sd.compute_dice_coefficient(gt, pred))


def test_documented_empty_results():
    z = np.zeros((5, 5, 5), bool)
    a = z.copy()
    a[1:3, 1:4, 2:4] = True
    both = msd.compute_surface_distances(z, z, (1, 1, 1))
    assert all(v.size == 0 for v in both.values())
    assert msd.compute_robust_hausdorff(both, 95) == np.inf  # both empty: inf
    assert np.isnan(msd.compute_dice_coefficient(z, z))
    one = msd.compute_surface_distances(a, z, (1, 1, 1))  # prediction empty
    g2p, p2g = msd.compute_average_surface_distance(one)
    assert g2p == np.inf and np.isnan(p2g)  # DeepMind's order: (gt->pred, pred->gt)
    assert msd.compute_surface_dice_at_tolerance(one, 1.0) == 0.0


def test_argument_order_and_directed_values():
    # Hand-derived: gt a 1-voxel line, pred the same line plus one voxel 3 mm away (2-D).
    gt = np.zeros((1, 6), bool)
    gt[0, 0] = True
    pred = gt.copy()
    pred[0, 3] = True
    d = msd.compute_surface_distances(gt, pred, (1.0, 1.0))
    assert d["distances_pred_to_gt"].max() == 3.0  # pred's far voxel corners are 3 from gt's
    assert d["distances_gt_to_pred"].max() == 0.0
    g2p, p2g = msd.compute_average_surface_distance(d)
    assert g2p == 0.0 and p2g > 0.0


def test_bad_inputs():
    m = np.zeros((3, 3), bool)
    with pytest.raises(DTypeError, match="mask_gt"):
        msd.compute_surface_distances(m.astype(np.uint8), m, (1, 1))
    with pytest.raises(ShapeMismatchError, match="spacing_mm"):
        msd.compute_surface_distances(m, m, (1, 1, 1))


def test_patch_runs_deepmind_example_unchanged():
    # The peer's README example, unpatched then patched.
    mask_gt = np.zeros((128, 128, 128), bool)
    mask_pred = np.zeros((128, 128, 128), bool)
    mask_gt[50, 60, 70] = 1
    mask_pred[50, 60, 72] = 1

    def example():
        s = sd.compute_surface_distances(mask_gt, mask_pred, spacing_mm=(3, 2, 1))
        return (
            sd.compute_average_surface_distance(s),
            sd.compute_robust_hausdorff(s, 95),
            sd.compute_surface_overlap_at_tolerance(s, 1),
            sd.compute_surface_dice_at_tolerance(s, 1),
        )

    before = example()
    with msd.patched() as replaced:
        assert "surface_distance.compute_surface_distances" in replaced
        assert sd.compute_surface_distances is msd.compute_surface_distances
        after = example()
    assert sd.compute_surface_distances is not msd.compute_surface_distances
    for x, y in zip(after, before):
        same(x, y)
