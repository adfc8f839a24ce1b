import json

import numpy as np
import pytest

from medtrust.data import synthetic_segmentation
from medtrust.exceptions import DatasetError, InvalidArgumentError
from medtrust.io import (
    load_nifti,
    load_nnunet_dataset,
    save_nifti,
    verify_nnunet_dataset,
    write_dataset_json,
    write_nnunet_case,
)


def test_nifti_round_trip_keeps_axis_order_and_spacing(tmp_path):
    a = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    for name in ("a.nii.gz", "a.nii"):
        save_nifti(tmp_path / name, a, spacing=(3.0, 0.5, 0.7))
        arr, sp, aff = load_nifti(tmp_path / name)
        np.testing.assert_array_equal(arr, a)
        assert sp == pytest.approx((3.0, 0.5, 0.7))
        assert np.diag(aff)[:3] == pytest.approx([3.0, 0.5, 0.7])
    with pytest.raises(DatasetError, match="no such"):
        load_nifti(tmp_path / "missing.nii.gz")
    (tmp_path / "bad.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(DatasetError, match="cannot read"):
        load_nifti(tmp_path / "bad.nii.gz")
    with pytest.raises(ValueError, match="spacing"):
        save_nifti(tmp_path / "c.nii.gz", a, spacing=(1.0, 1.0))


def _toy(root, n=2, labels=None, channels=1):
    for i in range(n):
        imgs = [np.random.default_rng(i).random((4, 6, 6)).astype(np.float32)] * channels
        lab = np.zeros((4, 6, 6), np.uint8)
        lab[1:3, 2:4, 2:4] = 1
        write_nnunet_case(root, f"c{i}", imgs, lab, spacing=(2.0, 1.0, 1.0))
    write_dataset_json(
        root,
        labels=labels or {"background": 0, "organ": 1},
        channel_names={str(c): f"m{c}" for c in range(channels)},
        num_training=n,
    )


def test_load_valid_dataset(tmp_path):
    _toy(tmp_path, channels=2)
    ds = verify_nnunet_dataset(tmp_path)
    assert ds.cases == ("c0", "c1") and ds.n_channels == 2 and ds.n_classes == 2
    img, sp, _ = ds.read_image("c0")
    assert img.shape == (2, 4, 6, 6) and sp == (2.0, 1.0, 1.0)
    lab, _, _ = ds.read_label("c1")
    assert lab.dtype == np.uint8 and lab.max() == 1


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda r: (r / "dataset.json").unlink(), "dataset.json is missing"),
        (lambda r: (r / "dataset.json").write_text("{oops"), "not valid JSON"),
        (lambda r: (r / "imagesTr" / "c1_0000.nii.gz").unlink(), "c1_0000.nii.gz is missing"),
        (
            lambda r: (r / "imagesTr" / "c0_0000.nii.gz").rename(r / "imagesTr" / "c0.nii.gz"),
            "wrong channel suffix",
        ),
        (lambda r: _edit(r, numTraining=5), "numTraining is 5"),
        (lambda r: _edit(r, labels={"background": 0, "organ": 2}), "consecutive"),
        (lambda r: _edit(r, labels={"background": 0, "organ": 1, "ignore": 5}), "largest label"),
        (lambda r: _edit(r, labels={"background": 0, "organ": [1, 2]}), "region-based"),
        (lambda r: _edit(r, drop="channel_names", modality={"0": "CT"}), "nnU-Net v1"),
        (lambda r: _edit(r, file_ending=".png"), "file_ending"),
    ],
)
def test_layout_errors_are_clear(tmp_path, breakage, message):
    _toy(tmp_path)
    breakage(tmp_path)
    with pytest.raises(DatasetError, match=message):
        load_nnunet_dataset(tmp_path)


def _edit(root, drop=None, **changes):
    meta = json.loads((root / "dataset.json").read_text())
    meta.update(changes)
    if drop:
        meta.pop(drop)
    (root / "dataset.json").write_text(json.dumps(meta))


def test_verify_reads_files(tmp_path):
    _toy(tmp_path)
    save_nifti(
        tmp_path / "labelsTr" / "c1.nii.gz", np.full((4, 6, 6), 3, np.uint8), spacing=(2, 1, 1)
    )
    save_nifti(tmp_path / "imagesTr" / "c0_0000.nii.gz", np.zeros((4, 6, 5)), spacing=(2, 1, 1))
    with pytest.raises(DatasetError) as e:
        verify_nnunet_dataset(tmp_path)
    text = str(e.value)
    assert "2 problem(s)" in text and "label value 3" in text and "shape (4, 6, 5)" in text
    assert load_nnunet_dataset(tmp_path).cases == ("c0", "c1")  # layout alone is fine


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_nnunet_dataset(tmp_path / "nope")


def test_synthetic_segmentation(tmp_path):
    ds = synthetic_segmentation(
        tmp_path / "Dataset900_S",
        n_cases=6,
        shape=(8, 24, 24),
        spacing=(3.0, 1.0, 1.0),
        seed=1,
        hard_fraction=0.5,
        vessel_fraction=0.5,
    )
    verify_nnunet_dataset(ds.root)
    assert ds.class_names == ("background", "organ", "lesion", "vessel")
    meta = ds.meta["medtrust_synthetic"]
    assert len(meta["hard"]) == 3 and len(meta["vessel"]) == 3
    counts = np.zeros(4)
    for c in ds.cases:
        lab, sp, _ = ds.read_label(c)
        assert sp == (1.0, 1.0, 3.0) and lab.shape == (24, 24, 8)
        assert ((lab == 3).any()) == (c in meta["vessel"])
        counts += np.bincount(lab.ravel(), minlength=4)
    frac = counts / counts.sum()
    assert frac[0] > frac[1] > frac[2] > frac[3] > 0  # large, medium, small rare structure

    # Hard cases are noisier: background std larger.
    def bg_std(c):
        img, _, _ = ds.read_image(c)
        lab, _, _ = ds.read_label(c)
        return img[0][lab == 0].std()

    hard = np.mean([bg_std(c) for c in meta["hard"]])
    easy = np.mean([bg_std(c) for c in ds.cases if c not in meta["hard"]])
    assert hard > 1.3 * easy
    # Same parameters: reused; same seed elsewhere: identical bytes; other parameters: refused.
    assert (
        synthetic_segmentation(
            ds.root, n_cases=6, shape=(8, 24, 24), seed=1, hard_fraction=0.5, vessel_fraction=0.5
        ).cases
        == ds.cases
    )
    other = synthetic_segmentation(
        tmp_path / "Dataset901_S",
        n_cases=6,
        shape=(8, 24, 24),
        seed=1,
        hard_fraction=0.5,
        vessel_fraction=0.5,
    )
    np.testing.assert_array_equal(other.read_image("synth_002")[0], ds.read_image("synth_002")[0])
    with pytest.raises(InvalidArgumentError, match="exists"):
        synthetic_segmentation(ds.root, n_cases=7, shape=(8, 24, 24))
