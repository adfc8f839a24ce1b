"""Big-endian inputs and 11+ channel nnU-Net datasets are valid (issue 10 item 5)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

import medtrust.failure as fl
import medtrust.segmentation as seg
from medtrust.io import load_labels, load_nnunet_dataset, write_dataset_json, write_nnunet_case
from medtrust.uncertainty import EnsembleAccumulator


def _masks() -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros((8, 8, 8), np.int16)
    a[2:6, 2:6, 2:6] = 1
    b = np.zeros_like(a)
    b[2:6, 2:6, 3:7] = 1
    b[0, 0, 0] = 2
    return a, b


@pytest.mark.parametrize("dtype", [">i2", ">i4", ">u2", ">i8"])
def test_big_endian_label_maps_give_the_native_values(dtype: str) -> None:
    a, b = _masks()
    big_a, big_b = a.astype(dtype), b.astype(dtype)
    assert not big_a.dtype.isnative
    assert seg.dice(big_a, big_b).per_class == seg.dice(a, b).per_class
    assert seg.dice(big_a, big_b).per_class[1] == pytest.approx(0.75)  # 2*48/(64+64)
    assert seg.hd(big_a, b, spacing=(1, 1, 1)) == seg.hd(a, b, spacing=(1, 1, 1))
    assert seg.hd95(big_a == 1, big_b == 1, spacing=(1, 2, 1)) == 1.0


def test_big_endian_float_maps_for_aggregate_and_the_accumulator() -> None:
    rng = np.random.default_rng(3)
    conf = rng.random((6, 6, 6))
    big = conf.astype(">f4")
    pred = (conf > 0.5).astype(np.uint8)
    assert fl.aggregate(big, pred) == fl.aggregate(conf.astype(np.float32), pred)
    p = rng.random((2, 5, 5)).astype(np.float32)
    p /= p.sum(0, keepdims=True)
    native, swapped = EnsembleAccumulator(), EnsembleAccumulator()
    native.add(p)
    swapped.add(p.astype(">f4"))
    np.testing.assert_array_equal(native.mean_probs(), swapped.mean_probs())


def test_load_labels_reads_a_big_endian_nifti(tmp_path) -> None:
    a, _ = _masks()
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(a.astype(">i2"), np.diag([0.5, 1.0, 2.0, 1.0]), header=hdr)
    img.header.set_zooms((0.5, 1.0, 2.0))
    path = tmp_path / "big.nii"
    path.write_bytes(img.to_bytes())
    raw = nib.load(str(path)).get_data_dtype()
    assert raw.byteorder == ">"  # the file really is big-endian
    labels, spacing, _ = load_labels(path)
    np.testing.assert_array_equal(labels, a)
    assert spacing == (0.5, 1.0, 2.0)
    assert seg.dice(labels, a).value == 1.0


def test_nnunet_dataset_with_eleven_channels_keeps_numeric_channel_order(tmp_path) -> None:
    root = tmp_path / "Dataset011_Many"
    image = np.stack([np.full((2, 3, 3), c, np.float32) for c in range(11)])
    write_nnunet_case(root, "c0", image, np.zeros((2, 3, 3), np.uint8), spacing=(1, 1, 1))
    names = {str(c): f"ch{c}" for c in range(11)}
    write_dataset_json(root, labels={"background": 0}, channel_names=names, num_training=1)
    ds = load_nnunet_dataset(root)
    assert ds.n_channels == 11
    assert list(ds.channel_names) == [str(c) for c in range(11)]
    img, _, _ = ds.read_image("c0")
    assert img[:, 0, 0, 0].tolist() == list(range(11))


def test_latin1_dataset_json_is_a_dataset_error(tmp_path) -> None:
    from medtrust.exceptions import DatasetError

    root = tmp_path / "Dataset012_Latin"
    write_nnunet_case(
        root,
        "c0",
        np.zeros((2, 3, 3), np.float32),
        np.zeros((2, 3, 3), np.uint8),
        spacing=(1, 1, 1),
    )
    meta = {
        "channel_names": {"0": "Röntgen"},
        "labels": {"background": 0},
        "numTraining": 1,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_bytes(json.dumps(meta, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(DatasetError, match="UTF-8"):
        load_nnunet_dataset(root)
