"""Round files mean the same voxels in medtrust and in nnActive (SimpleITK array order).

nnActive reads images with SimpleITK (``GetArrayFromImage``: the NIfTI axes reversed) and
slices ``array[coords[0]:coords[0]+size[0], ...]``. The reader below does exactly that, on a
non-cubic, anisotropic dataset, and is checked against SimpleITK itself.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtrust.active import Patch, read_round, write_round
from medtrust.active.loop.config import ExperimentConfig
from medtrust.io import load_nifti, write_dataset_json, write_nnunet_case

SHAPE = (20, 14, 6)  # nibabel (NIfTI i, j, k) order; SimpleITK reads (6, 14, 20)
SPACING = (0.8, 1.1, 3.5)


def _dataset(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "Dataset010_Aniso"
    labels = {}
    for case in ("a", "b"):
        lab = rng.integers(0, 3, size=SHAPE).astype(np.uint8)
        lab[:, :, :2] = 0  # the slice axis matters: the first 2 slices are background
        write_nnunet_case(
            root, case, rng.normal(size=SHAPE).astype(np.float32), lab, spacing=SPACING
        )
        labels[case] = lab
    write_dataset_json(
        root, labels={"background": 0, "x": 1, "y": 2}, channel_names={"0": "CT"}, num_training=2
    )
    return root, labels


def _sitk_array(path):
    """What nnActive's ``GetArrayFromImage(ReadImage(path))`` returns (the axes reversed)."""
    import nibabel as nib

    return np.asarray(nib.load(str(path)).dataobj).T


def _sitk_mask(root, round_file, case):
    """Voxels of ``case`` covered by a round file, read the way nnActive reads it."""
    arr = _sitk_array(root / "labelsTr" / f"{case}.nii.gz")
    mask = np.zeros(arr.shape, bool)
    for rec in json.loads(round_file.read_text())["patches"]:
        if rec["file"] != f"{case}.nii.gz":
            continue
        if rec["size"] == "whole":
            mask[:] = True
            continue
        sl = tuple(slice(c, c + s) for c, s in zip(rec["coords"], rec["size"]))
        mask[sl] = True
    return arr, mask


def test_sitk_reader_matches_simpleitk(tmp_path):
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed")
    root, _labels = _dataset(tmp_path)
    f = root / "labelsTr" / "a.nii.gz"
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(f))), _sitk_array(f))
    assert _sitk_array(f).shape == SHAPE[::-1]


def test_written_round_file_covers_the_same_voxels_in_sitk_order(tmp_path):
    root, _labels = _dataset(tmp_path)
    patches = [
        Patch("a", (3, 2, 1), (10, 5, 4)),  # 4 slices, 10 x 5 in-plane (array order)
        Patch("a", (0, 9, 0), (6, 5, 2)),
        Patch("b", (12, 0, 3), (8, 14, 3)),
    ]
    rf = tmp_path / "loop_001.json"
    write_round(rf, patches)
    for case in ("a", "b"):
        lab, _, _ = load_nifti(root / "labelsTr" / f"{case}.nii.gz")
        ours = np.zeros(lab.shape, bool)
        for p in patches:
            if p.image_id == case:
                ours[p.slices] = True
        arr, theirs = _sitk_mask(root, rf, case)
        # Same voxel set: nnActive's mask is ours with the axes reversed ...
        np.testing.assert_array_equal(theirs, ours.T)
        # ... hence the same annotated foreground.
        assert int((arr[theirs] > 0).sum()) == int((lab[ours] > 0).sum()) > 0
    # On disk: SimpleITK order, flagged.
    obj = json.loads(rf.read_text())
    assert obj["patches"][0] == {"file": "a.nii.gz", "coords": [1, 2, 3], "size": [4, 5, 10]}
    assert obj["axis_order"] == "sitk"


def test_nnactive_round_file_is_read_as_the_same_voxels(tmp_path):
    root, _labels = _dataset(tmp_path)
    rf = tmp_path / "loop_000.json"
    recs = [
        {"file": "a.nii.gz", "coords": [2, 1, 5], "size": [3, 6, 11]},
        {"file": "b.nii.gz", "coords": [0, 0, 0], "size": "whole"},
    ]
    rf.write_text(json.dumps({"patches": recs}))  # nnActive writes no axis_order key
    shapes = {"a": SHAPE, "b": SHAPE}
    got = read_round(rf, shapes=shapes)
    assert got == [Patch("a", (5, 1, 2), (11, 6, 3)), Patch("b", (0, 0, 0), SHAPE)]
    for case in ("a", "b"):
        lab, _, _ = load_nifti(root / "labelsTr" / f"{case}.nii.gz")
        ours = np.zeros(lab.shape, bool)
        for p in got:
            if p.image_id == case:
                ours[p.slices] = True
        _, theirs = _sitk_mask(root, rf, case)
        np.testing.assert_array_equal(theirs, ours.T)
    # Writing what was read gives nnActive's records back (whole images as full boxes).
    out = tmp_path / "again.json"
    write_round(out, got)
    assert json.loads(out.read_text())["patches"][0] == recs[0]


def test_whole_record_needs_shapes(tmp_path):
    from medtrust.exceptions import DatasetError

    rf = tmp_path / "loop_000.json"
    rf.write_text(
        json.dumps({"patches": [{"file": "a.nii.gz", "coords": [0, 0, 0], "size": "whole"}]})
    )
    with pytest.raises(DatasetError, match="whole"):
        read_round(rf)


def test_old_array_order_files_are_read_unchanged(tmp_path):
    rf = tmp_path / "loop_000.json"
    rf.write_text(
        json.dumps(
            {
                "axis_order": "array",
                "patches": [{"file": "a.nii.gz", "coords": [1, 2, 3], "size": [4, 5, 6]}],
            }
        )
    )
    assert read_round(rf) == [Patch("a", (1, 2, 3), (4, 5, 6))]


def test_config_patch_size_follows_the_paper_convention():
    # ACDC 4x40x40: 4 slices through-plane. nibabel reads an ACDC volume as (X, Y, slices), so
    # the box is (40, 40, 4) in medtrust's array order; likewise the stride (1, 8, 8).
    cfg = ExperimentConfig.from_dict(
        {
            "dataset": {"synthetic": {"n_cases": 4}},
            "strategies": ["random"],
            "patch_size": [4, 40, 40],
            "pooling_stride": [1, 8, 8],
            "query_size": 30,
        }
    )
    assert cfg.patch_size == (4, 40, 40)
    assert cfg.array_patch_size == (40, 40, 4)
    assert cfg.array_stride == (8, 8, 1)


def test_synthetic_dataset_is_stored_like_a_scan(tmp_path):
    from medtrust.data import synthetic_segmentation

    ds = synthetic_segmentation(
        tmp_path / "Dataset900_S", n_cases=2, shape=(6, 16, 20), spacing=(3.0, 1.0, 0.5)
    )
    lab, sp, _ = ds.read_label(ds.cases[0])
    assert lab.shape == (20, 16, 6) and sp == (0.5, 1.0, 3.0)
    assert _sitk_array(ds.label_file(ds.cases[0])).shape == (6, 16, 20)


def test_cli_query_on_sitk_ordered_probabilities_writes_the_same_voxels(tmp_path):
    # The same maps saved in array order and in SimpleITK order (nnU-Net's .npz) give round
    # files that mean the same voxels, with --patch-size given in each map's order.
    from medtrust.cli.main import main
    from medtrust.data.al_pool import synthetic_al_pool

    probs, _ = synthetic_al_pool(n_images=2, shape=(6, 10, 14), n_classes=3, n_members=2, seed=2)
    for order, tr in (("array", lambda a: a), ("sitk", lambda a: a.transpose(0, 3, 2, 1))):
        for m in range(2):
            d = tmp_path / order / f"fold_{m}"
            d.mkdir(parents=True)
            for k, v in probs.items():
                np.save(d / f"{k}.npy", np.ascontiguousarray(tr(v[m])))
    ps = {"array": ["2", "3", "4"], "sitk": ["4", "3", "2"]}
    for order in ("array", "sitk"):
        rc = main(
            ["al", "query", "--probs", str(tmp_path / order), "--strategy", "pe", "--size", "5",
             "--patch-size", *ps[order], "--axis-order", order, "--no-progress",
             "--out", str(tmp_path / f"{order}.json")]
        )  # fmt: skip
        assert rc == 0
    a = json.loads((tmp_path / "array.json").read_text())["patches"]
    b = json.loads((tmp_path / "sitk.json").read_text())["patches"]
    assert a == b and len(a) == 5
    assert all(r["size"] == [4, 3, 2] for r in a)  # SimpleITK order on disk
