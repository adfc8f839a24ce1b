import numpy as np
import pytest

from medtrust import failure
from medtrust.exceptions import DTypeError, InvalidArgumentError, MedtrustError, ShapeMismatchError
from reference import segmentation as ref
from reference import uncertainty as uref


def case(seed, shape=(20, 24, 18)):
    rng = np.random.default_rng(seed)
    c = np.array(shape) / 2
    organ = ref.blob(shape, c, np.array(shape) * 0.3, rng)
    lesion = ref.blob(shape, c + 2, np.array(shape) * 0.1, rng) & organ
    labels = organ.astype(np.uint8)
    labels[lesion] = 2
    conf = rng.random(shape).astype(np.float32)
    return conf, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("width", [2, 4, 6])
def test_all_aggregates_match_oracle(seed, width):
    conf, labels = case(seed)
    got = failure.aggregate(conf, labels, width=width, patch_size=5)
    want = ref.aggregates(conf, labels, width=width, patch=5)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k


def test_distance_weighting_with_spacing_and_2d():
    conf, labels = case(3, shape=(30, 26))
    got = failure.aggregate(conf, labels, spacing=(0.5, 2.0), saturate=3.0, patch_size=7)
    want = ref.aggregates(conf, labels, spacing=(0.5, 2.0), saturate=3.0, patch=7)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9), k


def test_band_matches_oracle_and_single_functions():
    conf, labels = case(4)
    for w in (2, 4, 8):
        assert np.array_equal(failure.boundary_band(labels, width=w), ref.band(labels, w))
    a = failure.aggregate(conf, labels)
    assert failure.mean(conf) == pytest.approx(a["mean"])
    assert failure.non_boundary_mean(conf, labels) == a["non_boundary_mean"]
    assert failure.foreground_mean(conf, labels) == a["foreground_mean"]
    assert failure.patch_min(conf, patch_size=10) == pytest.approx(a["patch_min"], rel=1e-12)
    assert failure.distance_weighted_mean(conf, labels) == a["distance_weighted_mean"]
    assert failure.volume_weighted_mean(conf, labels) == a["volume_weighted_mean"]


def test_patch_min_clips_the_window_and_is_window_size_independent_in_cost():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    # window 10x10 clipped to the whole 3x4 image: one window, the global mean
    assert failure.patch_min(x, patch_size=10) == pytest.approx(x.mean())
    assert failure.patch_min(x, patch_size=1) == 0.0


def test_fallbacks_to_the_global_mean():
    conf = np.linspace(0, 1, 64, dtype=np.float32).reshape(4, 4, 4)
    empty = np.zeros((4, 4, 4), np.uint8)
    a = failure.aggregate(conf, empty)
    assert a["foreground_mean"] == pytest.approx(a["mean"])
    tiny = empty.copy()
    tiny[1, 1, 1] = 1  # all foreground inside the band
    b = failure.aggregate(conf, tiny)
    assert b["foreground_mean"] == pytest.approx(b["mean"])


def test_pixel_confidence_maps_from_uncertainty_aggregate_like_oracle():
    from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence

    rng = np.random.default_rng(0)
    members = uref.random_members(rng, 4, 3, (12, 14, 10))
    acc = EnsembleAccumulator()
    for m in members:
        acc.add(m)
    maps = uref.maps(members)
    pred = np.argmax(maps["mean_probs"], axis=0).astype(np.uint8)
    for kind in ("msr", "pe", "ee", "mi"):
        got = failure.aggregate(pixel_confidence(acc, kind), pred, patch_size=4)
        want = ref.aggregates(maps[f"conf_{kind}"], pred, patch=4)
        for k, v in want.items():
            assert got[k] == pytest.approx(v, rel=1e-5, abs=1e-6), (kind, k)


def test_bad_inputs():
    conf, labels = case(0)
    with pytest.raises(ShapeMismatchError):
        failure.aggregate(conf[:-1], labels)
    with pytest.raises(InvalidArgumentError):
        failure.aggregate(conf, labels, width=3)
    with pytest.raises(InvalidArgumentError):
        failure.aggregate(conf, labels, aggregations=("median",))
    with pytest.raises(DTypeError):
        failure.aggregate(conf, labels.astype(np.float32))
    bad = conf.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(MedtrustError, match="NaN"):
        failure.aggregate(bad, labels)
    with pytest.raises(InvalidArgumentError):
        failure.patch_min(conf, patch_size=0)


# --- seg2: every confidence of an accumulator in one streaming pass -----------------------------
def test_aggregate_ensemble_equals_map_by_map_and_oracle():
    from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence

    rng = np.random.default_rng(1)
    members = uref.random_members(rng, 3, 3, (14, 16, 12))
    acc = EnsembleAccumulator()
    for m in members:
        acc.add(m)
    got = failure.aggregate_ensemble(acc, spacing=(2.0, 0.8, 0.8), patch_size=5)
    pred = acc.predicted_labels()
    maps = uref.maps(members)
    assert set(got) == {"msr", "pe", "ee", "mi"}
    for kind, agg in got.items():
        one = failure.aggregate(
            pixel_confidence(acc, kind), pred, spacing=(2.0, 0.8, 0.8), patch_size=5
        )
        assert agg == one  # the same values, bit for bit
        want = ref.aggregates(maps[f"conf_{kind}"], pred, patch=5, spacing=(2.0, 0.8, 0.8))
        for k, v in want.items():
            assert agg[k] == pytest.approx(v, rel=1e-5, abs=1e-6), (kind, k)
    # a given prediction, a subset of kinds and methods
    other = np.zeros(pred.shape, np.uint8)
    other[3:9, 4:12, 2:8] = 1
    sub = failure.aggregate_ensemble(
        acc, other, kinds=["pe"], aggregations=["mean", "foreground_mean"]
    )
    assert list(sub) == ["pe"] and list(sub["pe"]) == ["mean", "foreground_mean"]
    assert sub["pe"] == failure.aggregate(
        pixel_confidence(acc, "pe"), other, aggregations=["mean", "foreground_mean"]
    )


def test_aggregate_ensemble_bad_inputs_and_torch_backend():
    from medtrust.uncertainty import EnsembleAccumulator

    acc = EnsembleAccumulator()
    with pytest.raises(MedtrustError):
        failure.aggregate_ensemble(acc)
    acc.add(uref.random_members(np.random.default_rng(2), 1, 2, (6, 7, 8))[0])
    with pytest.raises(ShapeMismatchError):
        failure.aggregate_ensemble(acc, np.zeros((6, 7, 9), np.uint8))
    with pytest.raises(InvalidArgumentError):
        failure.aggregate_ensemble(acc, kinds=["entropy"])
    with pytest.raises(InvalidArgumentError):
        failure.aggregate_ensemble(acc, aggregations=["median"])
    with pytest.raises(InvalidArgumentError):
        failure.aggregate_ensemble(acc, width=3)
    with pytest.raises(InvalidArgumentError):
        failure.aggregate_ensemble(np.zeros((2, 3)))
    torch = pytest.importorskip("torch", reason="torch not installed")
    members = uref.random_members(np.random.default_rng(3), 2, 3, (6, 7, 8))
    rust, tacc = EnsembleAccumulator(), EnsembleAccumulator(backend="torch")
    for m in members:
        rust.add(m)
        tacc.add(torch.from_numpy(m))
    a, b = failure.aggregate_ensemble(rust), failure.aggregate_ensemble(tacc)
    for kind in a:
        for k, v in a[kind].items():
            assert b[kind][k] == pytest.approx(v, rel=1e-5, abs=1e-6), (kind, k)
