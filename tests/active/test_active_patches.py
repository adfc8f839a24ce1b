import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust import _native
from medtrust.active import (
    Patch,
    Pool,
    patch_scores,
    read_round,
    read_rounds,
    round_file_name,
    score_grids,
    select_patches,
    write_round,
)
from medtrust.exceptions import (
    DatasetError,
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)
from medtrust.uncertainty import EnsembleAccumulator
from reference import active as ref
from reference import uncertainty as uref


@pytest.mark.parametrize(
    ("shape", "patch", "stride"),
    [
        ((9, 10, 11), (3, 4, 5), (1, 1, 1)),
        ((9, 10, 11), (9, 10, 11), (1, 1, 1)),
        ((12, 8, 16), (4, 4, 4), (2, 3, 4)),
        ((5, 6, 7), (1, 1, 1), (2, 2, 2)),
        ((20, 3, 3), (7, 3, 1), (4, 1, 1)),
    ],
)
def test_patch_scores_match_brute_force(shape, patch, stride):
    m = np.random.default_rng(0).random(shape)
    want = ref.box_means(m, patch, stride)
    np.testing.assert_allclose(patch_scores(m, patch_size=patch, stride=stride), want, rtol=1e-12)
    got32 = patch_scores(m.astype(np.float32), patch_size=patch, stride=stride)
    np.testing.assert_allclose(got32, ref.box_means(m.astype(np.float32), patch, stride), rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 9)] * 3),
    patch=st.tuples(*[st.integers(1, 12)] * 3),
    stride=st.tuples(*[st.integers(1, 4)] * 3),
    seed=st.integers(0, 1000),
)
def test_patch_scores_property_with_clipping(shape, patch, stride, seed):
    m = np.random.default_rng(seed).random(shape)
    got = patch_scores(m, patch_size=patch, stride=stride, clip=True)
    np.testing.assert_allclose(got, ref.box_means(m, patch, stride), rtol=1e-12, atol=1e-15)


def test_patch_scores_cost_does_not_grow_with_patch_size():
    # Same work whatever the patch: a 1-voxel and a whole-image box give exact means.
    m = np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6)
    assert patch_scores(m, patch_size=(4, 5, 6))[0, 0, 0] == pytest.approx(m.mean())
    np.testing.assert_array_equal(patch_scores(m, patch_size=1), m)


def test_patch_scores_bad_inputs():
    m = np.zeros((4, 5, 6), np.float32)
    with pytest.raises(InvalidArgumentError, match="larger than the image"):
        patch_scores(m, patch_size=(5, 2, 2), clip=False)
    # The default clips, like the strategies and score_grids: one position on axis 0.
    assert patch_scores(m, patch_size=(5, 2, 2)).shape == (1, 4, 5)
    for bad in (0, -2, (2, 2), (2, 2, 2, 2), 2.5, "4"):
        with pytest.raises(InvalidArgumentError):
            patch_scores(m, patch_size=bad)
    with pytest.raises(InvalidArgumentError):
        patch_scores(m, patch_size=2, stride=0)
    with pytest.raises(ShapeMismatchError):
        patch_scores(np.zeros((4, 5)), patch_size=2)
    with pytest.raises(DTypeError):
        patch_scores(np.zeros((4, 5, 6), complex), patch_size=2)
    m[1, 2, 3] = np.nan
    with pytest.raises(InvalidValueError, match="non-finite"):
        patch_scores(m, patch_size=2)


def test_select_patches_matches_greedy_oracle_with_ties():
    rng = np.random.default_rng(1)
    shape, patch, stride = (10, 12, 14), (3, 4, 3), (1, 2, 2)
    scores = np.round(rng.random((8, 5, 6)), 1)  # many ties
    blocked = [Patch("a", (2, 2, 2), (3, 3, 3)), Patch("other", (0, 0, 0), (10, 12, 14))]
    got = select_patches(scores, "a", shape, patch_size=patch, stride=stride, n=9, blocked=blocked)
    want = ref.greedy(scores, patch, stride, [(2, 2, 2, 3, 3, 3)], 9)
    assert [p.start for p in got] == want
    assert all(p.size == patch and p.image_id == "a" for p in got)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 40),
    patch=st.tuples(*[st.integers(1, 5)] * 3),
    stride=st.tuples(*[st.integers(1, 3)] * 3),
    n_blocked=st.integers(0, 4),
)
def test_selected_patches_never_overlap(seed, n, patch, stride, n_blocked):
    rng = np.random.default_rng(seed)
    shape = (9, 8, 10)
    dims = [(s - p) // t + 1 for s, p, t in zip(shape, patch, stride)]
    with np.errstate(divide="ignore"):
        scores = np.log(rng.integers(0, 4, size=dims).astype(float))  # -inf ties included
    blocked = [
        Patch(
            "img",
            tuple(int(v) for v in rng.integers(0, 6, 3)),
            tuple(int(v) for v in rng.integers(1, 4, 3)),
        )
        for _ in range(n_blocked)
    ]
    got = select_patches(
        scores, "img", shape, patch_size=patch, stride=stride, n=n, blocked=blocked
    )
    assert len(got) <= n
    for i, a in enumerate(got):
        assert a.within(shape)
        assert not any(a.overlaps(b) for b in blocked)
        assert not any(a.overlaps(b) for b in got[i + 1 :])
    # Greedy is maximal: every grid box not taken overlaps something (when fewer than n).
    if len(got) < n:
        for idx in np.ndindex(*dims):
            p = Patch("img", tuple(i * t for i, t in zip(idx, stride)), patch)
            assert any(p.overlaps(b) for b in [*blocked, *got])


def test_select_patches_bad_inputs():
    s = np.zeros((2, 2, 2))
    with pytest.raises(ShapeMismatchError, match="grid"):
        select_patches(s, "a", (5, 5, 5), patch_size=3, n=1)
    s = np.zeros((3, 3, 3))
    s[0, 0, 0] = np.nan
    with pytest.raises(InvalidValueError, match="NaN"):
        select_patches(s, "a", (5, 5, 5), patch_size=3, n=1)
    with pytest.raises(InvalidArgumentError):
        select_patches(np.zeros((3, 3, 3)), "a", (5, 5, 5), patch_size=3, n=-1)


def test_patch_validation_and_overlap():
    with pytest.raises(InvalidArgumentError):
        Patch("a", (-1, 0, 0), (1, 1, 1))
    with pytest.raises(InvalidArgumentError):
        Patch("a", (0, 0, 0), (0, 1, 1))
    with pytest.raises(InvalidArgumentError):
        Patch("", (0, 0, 0), (1, 1, 1))
    a = Patch("a", (0, 0, 0), (2, 2, 2))
    assert a.overlaps(Patch("a", (1, 1, 1), (2, 2, 2)))
    assert not a.overlaps(Patch("a", (2, 0, 0), (2, 2, 2)))  # touching is not overlapping
    assert not a.overlaps(Patch("b", (0, 0, 0), (2, 2, 2)))
    assert a.volume == 8 and a.slices == (slice(0, 2),) * 3


def test_round_files_are_nnactive_compatible(tmp_path):
    patches = [Patch("case_00001", (0, 8, 16), (64, 64, 64)), Patch("c2", (1, 2, 3), (4, 5, 6))]
    path = write_round(tmp_path / round_file_name(1), patches, extra={"note": "x"})
    assert path.name == "loop_001.json"
    obj = json.loads(path.read_text())
    assert obj["patches"][0] == {
        "file": "case_00001.nii.gz",
        "coords": [16, 8, 0],  # SimpleITK array order (nnActive's): the axes reversed
        "size": [64, 64, 64],
    }
    assert obj["note"] == "x"
    assert read_round(path) == patches
    write_round(tmp_path / "loop_000.json", patches[:1])
    write_round(tmp_path / "loop_002.json", [Patch("c3", (0, 0, 0), (1, 1, 1))])
    (tmp_path / "loop_x.json").write_text("{}")  # ignored: not a round file name
    assert [p.image_id for p in read_rounds(tmp_path)] == ["case_00001", "case_00001", "c2", "c3"]
    assert len(read_rounds(tmp_path, up_to=1)) == 3
    (tmp_path / "bad.json").write_text('{"patches": [{"file": "a"}]}')
    with pytest.raises(DatasetError):
        read_round(tmp_path / "bad.json")
    with pytest.raises(DatasetError):
        read_round(tmp_path / "missing.json")
    with pytest.raises(InvalidArgumentError):
        write_round(tmp_path / "x.json", patches, extra={"patches": []})


@pytest.mark.parametrize(
    "kinds", [[("pe", None)], [("class_pe", 1), ("class_pe", 2), ("mi", None)]]
)
def test_score_grids_equal_pooling_the_oracle_maps(kinds):
    members = uref.random_members(np.random.default_rng(2), 3, 3, (9, 10, 11))
    acc = EnsembleAccumulator()
    for m in members:
        acc.add(m)
    grids, eff, dims = score_grids(acc, kinds, patch_size=(4, 3, 5), stride=(2, 3, 1))
    maps = uref.maps(members)
    names = {"pe": "pe", "mi": "mi"}
    for g, (name, c) in zip(grids, kinds):
        m = maps[names[name]] if c is None else maps[f"class_pe_{c}"]
        np.testing.assert_allclose(g, ref.box_means(m, (4, 3, 5), (2, 3, 1)), atol=2e-6)
    assert eff == (4, 3, 5) and grids.shape[1:] == dims


def test_score_grids_torch_backend_equals_rust():
    torch = pytest.importorskip("torch", reason="torch extra not installed")
    members = uref.random_members(np.random.default_rng(3), 2, 4, (8, 12, 10))
    rust, tor = EnsembleAccumulator(), EnsembleAccumulator(backend="torch")
    for m in members:
        rust.add(m)
        tor.add(torch.from_numpy(m))
    kinds = [("class_pe", 3), ("pe", None)]
    a, *_ = score_grids(rust, kinds, patch_size=(3, 20, 4), stride=2)
    b, *_ = score_grids(tor, kinds, patch_size=(3, 20, 4), stride=2)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_pool_checks_its_sources():
    probs = {"a": np.full((2, 2, 4, 4, 4), 0.5, np.float32)}
    pool = Pool.from_arrays(probs, shapes={"a": (4, 4, 5)})
    with pytest.raises(ShapeMismatchError, match="spatial shape"):
        pool.accumulator("a")
    with pytest.raises(InvalidArgumentError, match="label source"):
        pool.label_map("a")
    pool = Pool.from_arrays(labels={"a": np.zeros((3, 3, 3), np.float32)})
    with pytest.raises(DTypeError):
        pool.label_map("a")
    with pytest.raises(InvalidArgumentError, match="uncertainty source"):
        pool.accumulator("a")
    with pytest.raises(InvalidArgumentError, match="unique"):
        Pool(("a", "a"), {"a": (1, 1, 1)})
    with pytest.raises(InvalidArgumentError, match="no shape"):
        Pool(("a", "b"), {"a": (1, 1, 1)})


def test_native_grid_geometry():
    eff, dims = _native.patch_grid((160, 256, 256), (64, 64, 64), (8, 8, 8), False)
    assert list(eff) == [64, 64, 64] and list(dims) == [13, 25, 25]
