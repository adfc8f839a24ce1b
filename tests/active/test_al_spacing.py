"""Working grid at a target spacing: shapes, boxes and labels mapped to and from the raw grid."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.active import Patch
from medtrust.active.spacing import (
    box_between,
    resample_image,
    resample_labels,
    working_shape,
)
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

# A non-cubic, anisotropic raw grid (array order) and a target spacing that is coarser on
# two axes and finer on the third.
RAW_SHAPE = (7, 30, 45)
RAW_SPACING = (4.0, 1.3, 0.9)
TARGET = (2.0, 1.5, 1.5)


def test_working_shape_is_nnunets_rounding():
    # 7 * 4 / 2 = 14, 30 * 1.3 / 1.5 = 26, 45 * 0.9 / 1.5 = 27 (hand-computed)
    assert working_shape(RAW_SHAPE, RAW_SPACING, TARGET) == (14, 26, 27)
    assert working_shape((5, 5, 5), (1.0, 1.0, 1.0), (1.0, 2.0, 10.0)) == (5, 3, 1)  # 2.5 -> 3
    with pytest.raises(InvalidArgumentError, match="target_spacing"):
        working_shape((5, 5, 5), (1, 1, 1), (1, 0, 1))


def _boxes(draw_shape):
    return st.tuples(*(st.integers(0, n - 1) for n in draw_shape)).flatmap(
        lambda a: st.tuples(
            st.just(a), st.tuples(*(st.integers(1, n - s) for s, n in zip(a, draw_shape)))
        )
    )


WORK = working_shape(RAW_SHAPE, RAW_SPACING, TARGET)


@settings(max_examples=200, deadline=None)
@given(_boxes(WORK))
def test_raw_box_covers_the_same_physical_region(box):
    start, size = box
    p = Patch("a", start, size)
    raw = box_between(p, WORK, RAW_SHAPE)
    assert raw.within(RAW_SHAPE)
    for ax in range(3):
        extent = RAW_SHAPE[ax] * RAW_SPACING[ax]  # both grids span the same field of view
        w = extent / WORK[ax]  # working voxel size (mm)
        r = RAW_SPACING[ax]
        for e_work, e_raw in ((p.start[ax], raw.start[ax]), (p.stop[ax], raw.stop[ax])):
            # each face within half a raw voxel, unless the box had to keep one raw voxel
            if raw.size[ax] > 1 or p.size[ax] * w >= r:
                assert abs(e_work * w - e_raw * r) <= r / 2 + 1e-9


@settings(max_examples=200, deadline=None)
@given(_boxes(WORK), _boxes(WORK))
def test_disjoint_boxes_stay_disjoint_on_the_raw_grid(a, b):
    pa, pb = Patch("a", *a), Patch("a", *b)
    if pa.overlaps(pb):
        return
    ra, rb = box_between(pa, WORK, RAW_SHAPE), box_between(pb, WORK, RAW_SHAPE)
    thin = any(
        p.size[ax] * RAW_SHAPE[ax] / WORK[ax] < 1 for p in (pa, pb) for ax in range(3)
    )  # boxes thinner than a raw voxel keep one voxel and may then touch a neighbour
    assert thin or not ra.overlaps(rb)


def test_box_outside_its_grid_is_an_error():
    with pytest.raises(ShapeMismatchError):
        box_between(Patch("a", (0, 0, 0), (2, 2, 2)), (1, 5, 5), (2, 10, 10))


def test_labels_round_trip_exactly_through_an_integer_upsampling():
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 4, size=(3, 5, 7)).astype(np.uint8)
    up = resample_labels(lab, (6, 15, 7))  # factors 2, 3, 1
    assert up.shape == (6, 15, 7) and up.dtype == np.uint8
    np.testing.assert_array_equal(up[::2, ::3], lab)
    np.testing.assert_array_equal(resample_labels(up, lab.shape), lab)


def test_labels_round_trip_on_the_anisotropic_grid_keeps_the_objects():
    # A blocky label map (objects larger than both grids' voxels) survives raw -> working ->
    # raw except near object borders: compare with a plain nearest-centre oracle and check
    # that at least 90% of the voxels come back.
    lab = np.zeros(RAW_SHAPE, np.uint8)
    lab[1:6, 4:20, 5:30] = 1
    lab[2:5, 10:28, 20:44] = 2
    work = resample_labels(lab, WORK)
    oracle = np.empty(WORK, np.uint8)
    for i, j, k in itertools.product(*(range(n) for n in WORK)):
        src = [int((c + 0.5) * nr / nw) for c, nr, nw in zip((i, j, k), RAW_SHAPE, WORK)]
        oracle[i, j, k] = lab[tuple(src)]
    np.testing.assert_array_equal(work, oracle)
    back = resample_labels(work, RAW_SHAPE)
    assert (back == lab).mean() > 0.9
    for c in (1, 2):  # every class keeps its voxel count within 15%
        assert abs(int((back == c).sum()) - int((lab == c).sum())) <= 0.15 * (lab == c).sum()


def test_image_resampling_is_linear_between_voxel_centres():
    img = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4) * 2.0  # 0 2 4 6
    out = resample_image(img, (1, 1, 8))
    # target centres at source coordinates -0.25, 0.25, 0.75, ... (border value outside)
    np.testing.assert_allclose(out[0, 0, 0], [0, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.0], atol=1e-6)
    assert resample_image(img, (1, 1, 4)).tolist() == img.tolist()


# ---------------------------------------------------------------------- the loop
pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")


def _sitk_reader(label_file):
    """Label map in SimpleITK array order (nnActive's view): nibabel's axes reversed."""
    import nibabel as nib

    return np.asarray(nib.load(str(label_file)).dataobj).transpose(2, 1, 0)


def test_loop_at_a_target_spacing_writes_raw_grid_round_files(tmp_path):
    from medtrust.active.loop import ExperimentConfig, run_grid
    from medtrust.active.rounds import read_round

    cfg = ExperimentConfig.from_dict(
        {
            "name": "sp",
            # SimpleITK order: 6 slices of 3 mm, 20 x 28 in-plane (1.0 x 0.8 mm)
            "dataset": {"synthetic": {"n_cases": 6, "shape": [6, 20, 28], "spacing": [3, 1, 0.8]}},
            "target_spacing": [1.5, 2.0, 1.6],  # -> working grid 12 x 10 x 14 (SimpleITK order)
            "strategies": ["pe"],
            "patch_size": [4, 4, 4],
            "query_size": 3,
            "rounds": 2,
            "pooling_stride": [2, 2, 2],
            "seeds": [0],
            "ensemble_size": 1,
            "starting_budget": "random",
            "trainer": {
                "backend": "unet",
                "iterations": 2,
                "batch_size": 1,
                "base_channels": 4,
                "patch_size": [8, 8, 8],
                "device": "cpu",
                "num_threads": 1,
            },
        }
    )
    run_grid(cfg, tmp_path)
    (meta_file,) = (tmp_path / "cache").glob("*/meta.json")
    meta = json.loads(meta_file.read_text())
    assert set(map(tuple, meta["raw_shapes"].values())) == {(28, 20, 6)}  # array order
    assert set(map(tuple, meta["shapes"].values())) == {(14, 10, 12)}
    run = tmp_path / "runs" / "default" / "pe" / "seed_0"
    labels_dir = next((tmp_path / "data").glob("Dataset*")) / "labelsTr"
    seen: dict[str, np.ndarray] = {}
    n_files = 0
    for loop in sorted(run.glob("loop_*.json")):
        n_files += 1
        work = read_round(run / f"working_grid_{loop.name}")
        records = json.loads(loop.read_text())["patches"]
        assert len(records) == len(work) > 0
        for rec, wp in zip(records, work):
            sitk = _sitk_reader(labels_dir / rec["file"])
            z, y, x = rec["coords"]
            dz, dy, dx = rec["size"]
            assert z + dz <= sitk.shape[0] and y + dy <= sitk.shape[1] and x + dx <= sitk.shape[2]
            mask = np.zeros(sitk.shape, bool)
            mask[z : z + dz, y : y + dy, x : x + dx] = True
            # the same voxels as the working box mapped to the raw grid (array order)
            raw = box_between(wp, (14, 10, 12), (28, 20, 6))
            want = np.zeros((28, 20, 6), bool)
            want[raw.slices] = True
            np.testing.assert_array_equal(mask, want.transpose(2, 1, 0))
            # nnActive's rule: boxes of all rounds never overlap
            case = rec["file"]
            assert not (seen.setdefault(case, np.zeros(sitk.shape, bool)) & mask).any()
            seen[case] |= mask
    assert n_files == 2  # starting budget + 1 query (the last of 2 rounds trains only)
    cands = json.loads((run / "pe_001.json").read_text())
    for rec in cands["patches"]:
        assert rec["coords"][0] + rec["size"][0] <= 6  # raw grid: 6 slices


def test_target_spacing_config_errors():
    from medtrust.active.loop import ExperimentConfig
    from medtrust.exceptions import ConfigError

    base = {
        "dataset": {"synthetic": {"n_cases": 6, "shape": [6, 20, 28]}},
        "strategies": ["pe"],
        "patch_size": [4, 4, 4],
        "query_size": 3,
    }
    with pytest.raises(ConfigError, match="target_spacing"):
        ExperimentConfig.from_dict({**base, "target_spacing": [1, -1, 1]})
    with pytest.raises(ConfigError, match="target_spacing"):
        ExperimentConfig.from_dict({**base, "target_spacing": [1, 1]})
    cfg = ExperimentConfig.from_dict({**base, "target_spacing": [3, 2, 1]})
    assert cfg.array_target_spacing == (1.0, 2.0, 3.0)
    assert ExperimentConfig.from_dict(base).fingerprint() != cfg.fingerprint()


def test_validation_checks_the_patch_on_the_working_grid():
    from medtrust.active.loop import ExperimentConfig
    from medtrust.exceptions import ConfigError

    base = {
        # SimpleITK order: 6 slices of 3 mm, 20 x 28 in-plane at 1 x 0.8 mm
        "dataset": {"synthetic": {"n_cases": 6, "shape": [6, 20, 28], "spacing": [3, 1, 0.8]}},
        "strategies": ["pe"],
        "patch_size": [4, 8, 8],
        "query_size": 3,
        "rounds": 2,
    }
    ExperimentConfig.from_dict(base).validate()  # 8 <= 20 and 28 on the raw grid
    # at 4 mm in-plane the working grid is 12 x 5 x 6 (SimpleITK order): 8 voxels do not fit
    cfg = ExperimentConfig.from_dict({**base, "target_spacing": [1.5, 4, 4]})
    with pytest.raises(ConfigError, match=r"along x \(largest image: 6 voxels at target_spacing"):
        cfg.validate()
