"""NRRD / MetaImage / NIfTI through SimpleITK (issue 16): files written by SimpleITK itself,
read back in nibabel's axis order with the spacing in array-axis order; NIfTI compared to
nibabel."""

import sys

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from medtrust.exceptions import DatasetError, InvalidArgumentError, MissingExtraError
from medtrust.io import (
    load_image,
    load_nifti,
    load_nnunet_dataset,
    save_image,
    verify_nnunet_dataset,
    write_dataset_json,
    write_nnunet_case,
)

SPACING = (0.7, 1.25, 3.0)  # x, y, z: anisotropic, so a swapped axis shows
ORIGIN = (10.0, -4.5, 2.25)


def _rotation():
    c, s = np.cos(0.3), np.sin(0.3)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _sitk_image(dtype=np.int16):
    # GetImageFromArray takes (z, y, x): a 5 x 4 x 3 array is a 3 (x) x 4 (y) x 5 (z) image.
    zyx = np.arange(60, dtype=dtype).reshape(5, 4, 3)
    img = sitk.GetImageFromArray(zyx)
    img.SetSpacing(SPACING)
    img.SetOrigin(ORIGIN)
    img.SetDirection(_rotation().ravel().tolist())
    return img, zyx


@pytest.mark.parametrize("ending", [".nrrd", ".mha"])
def test_sitk_written_file_reads_in_nibabel_axis_order(tmp_path, ending):
    img, zyx = _sitk_image()
    path = tmp_path / f"case{ending}"
    sitk.WriteImage(img, str(path))
    arr, spacing, affine = load_image(path)
    assert arr.shape == (3, 4, 5)
    np.testing.assert_array_equal(arr, zyx.transpose(2, 1, 0))
    assert arr.dtype == np.int16
    assert spacing == SPACING
    # Oracle by hand: RAS = diag(-1, -1, 1) @ (LPS direction @ diag(spacing)); same for origin.
    flip = np.diag([-1.0, -1.0, 1.0])
    np.testing.assert_allclose(affine[:3, :3], flip @ _rotation() @ np.diag(SPACING))
    np.testing.assert_allclose(affine[:3, 3], flip @ np.array(ORIGIN))
    # Voxel (i, j, k) maps to the world point SimpleITK gives for the same index (LPS -> RAS).
    world = np.array(img.TransformIndexToPhysicalPoint((2, 1, 4)))
    np.testing.assert_allclose((affine @ [2, 1, 4, 1])[:3], flip @ world, atol=1e-9)


def test_nifti_through_simpleitk_equals_nibabel(tmp_path):
    aff = np.eye(4)
    aff[:3, :3] = _rotation() @ np.diag(SPACING)
    aff[:3, 3] = ORIGIN
    data = np.random.default_rng(0).integers(0, 4, size=(6, 5, 4)).astype(np.uint8)
    path = tmp_path / "case.nii.gz"
    nib.save(nib.Nifti1Image(data, aff), str(path))
    a_nib, sp_nib, aff_nib = load_image(path)  # auto: nibabel
    a_itk, sp_itk, aff_itk = load_image(path, reader="simpleitk")
    np.testing.assert_array_equal(a_itk, a_nib)
    np.testing.assert_array_equal(a_nib, data)
    assert sp_itk == sp_nib == SPACING
    np.testing.assert_allclose(aff_itk, aff_nib, atol=1e-5)  # float32 header
    np.testing.assert_allclose(aff_nib, aff, atol=1e-5)


@pytest.mark.parametrize("ending", [".nrrd", ".mha", ".nii.gz", ".nii"])
def test_save_load_round_trip(tmp_path, ending):
    data = np.random.default_rng(1).normal(size=(4, 3, 5)).astype(np.float32)
    aff = np.eye(4)
    aff[:3, :3] = _rotation() @ np.diag(SPACING)
    aff[:3, 3] = ORIGIN
    path = tmp_path / f"img{ending}"
    save_image(path, data, spacing=SPACING, affine=aff)
    arr, spacing, affine = load_image(path)
    np.testing.assert_array_equal(arr, data)
    assert arr.dtype == np.float32
    assert spacing == SPACING
    np.testing.assert_allclose(affine, aff, atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("ending", [".nrrd", ".mha"])
def test_nnunet_dataset_in_sitk_formats_matches_nifti(tmp_path, ending):
    rng = np.random.default_rng(2)
    image = rng.normal(size=(1, 6, 5, 4)).astype(np.float32)
    label = rng.integers(0, 3, size=(6, 5, 4)).astype(np.uint8)
    arrays = {}
    for end in (ending, ".nii.gz"):
        root = tmp_path / f"Dataset001_{end.strip('.').replace('.', '_')}"
        write_nnunet_case(root, "c0", image, label, spacing=SPACING, file_ending=end)
        write_dataset_json(
            root,
            labels={"background": 0, "a": 1, "b": 2},
            channel_names={"0": "CT"},
            num_training=1,
            file_ending=end,
        )
        assert (root / "labelsTr" / f"c0{end}").exists()
        ds = load_nnunet_dataset(root)
        verify_nnunet_dataset(root)
        arrays[end] = (ds.read_image("c0"), ds.read_label("c0"))
    (img_a, sp_a, _), (lab_a, lsp_a, _) = arrays[ending]
    (img_b, sp_b, _), (lab_b, _, _) = arrays[".nii.gz"]
    np.testing.assert_array_equal(img_a, image)
    np.testing.assert_array_equal(img_a, img_b)
    np.testing.assert_array_equal(lab_a, lab_b)
    assert sp_a == sp_b == lsp_a == SPACING


def test_bad_files_raise_dataset_errors(tmp_path):
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: nonsense\n\n")
    with pytest.raises(DatasetError, match=r"broken\.nrrd"):
        load_image(bad)
    with pytest.raises(DatasetError, match="no such file"):
        load_image(tmp_path / "missing.mha")
    with pytest.raises(DatasetError, match="unknown image format"):
        load_image(tmp_path / "x.png")
    with pytest.raises(InvalidArgumentError, match="reader"):
        load_image(bad, reader="itk")
    with pytest.raises(InvalidArgumentError, match="NIfTI only"):
        load_image(bad, reader="nibabel")


def test_unknown_file_ending_in_dataset_json(tmp_path):
    root = tmp_path / "Dataset002_X"
    write_nnunet_case(
        root,
        "c0",
        np.zeros((1, 2, 2, 2), np.float32),
        np.zeros((2, 2, 2), np.uint8),
        spacing=(1, 1, 1),
    )
    write_dataset_json(
        root,
        labels={"background": 0, "a": 1},
        channel_names={"0": "CT"},
        num_training=1,
        file_ending=".png",
    )
    with pytest.raises(DatasetError, match=r"file_ending must be one of .*\.nrrd"):
        load_nnunet_dataset(root)


def test_missing_simpleitk_names_the_io_extra(tmp_path, monkeypatch):
    img, _ = _sitk_image()
    path = tmp_path / "case.mha"
    sitk.WriteImage(img, str(path))
    monkeypatch.setitem(sys.modules, "SimpleITK", None)  # import now fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'medtrust\[io\]'"):
        load_image(path)
    nifti = tmp_path / "x.nii.gz"
    save_image(nifti, np.zeros((2, 2, 2), np.uint8), spacing=(1, 1, 1))
    assert load_nifti(nifti)[0].shape == (2, 2, 2)  # NIfTI still reads through nibabel
