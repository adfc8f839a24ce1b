"""Medical images in any format nnU-Net reads: NIfTI (nibabel), NRRD and MetaImage (SimpleITK).

:func:`load_image` and :func:`save_image` pick the reader by file ending (:data:`IMAGE_ENDINGS`)
and keep medtrust's conventions for every format: the array in nibabel's voxel-axis order
(x, y, z: the transpose of SimpleITK's ``GetArrayFromImage``), the spacing in array-axis order,
and a 4x4 RAS affine as nibabel gives it (SimpleITK's LPS origin and direction converted), so a
NIfTI read through either library gives the same array, spacing and affine. Both readers need
the ``[io]`` extra (``pip install 'medtrust[io]'``).

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from medtrust.io import load_image, save_image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "case.nrrd"
>>> save_image(path, np.arange(24, dtype=np.int16).reshape(2, 3, 4), spacing=(0.8, 0.8, 2.5))
>>> arr, spacing, affine = load_image(path)
>>> arr.shape, spacing, int(arr[1, 2, 3])
((2, 3, 4), (0.8, 0.8, 2.5), 23)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from medtrust._arrays import as_spacing
from medtrust._extras import require
from medtrust._io import _mode
from medtrust.exceptions import DatasetError, InvalidArgumentError
from medtrust.io.nifti import load_nifti, save_nifti

__all__ = ["IMAGE_ENDINGS", "NIFTI_ENDINGS", "SITK_ENDINGS", "load_image", "save_image"]

#: Endings read with nibabel (as before SimpleITK support).
NIFTI_ENDINGS: tuple[str, ...] = (".nii.gz", ".nii")
#: Endings read with SimpleITK (nnU-Net's ``SimpleITKIO``: NRRD and MetaImage).
SITK_ENDINGS: tuple[str, ...] = (".nrrd", ".mha")
#: Every ending :func:`load_image` accepts (the ``file_ending`` values of nnU-Net datasets).
IMAGE_ENDINGS: tuple[str, ...] = NIFTI_ENDINGS + SITK_ENDINGS

#: Which library reads a file (:func:`load_image`).
ImageReader = Literal["auto", "nibabel", "simpleitk"]

# SimpleITK works in LPS, nibabel's affines are RAS: flip the first two world axes.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def image_ending(path: str | Path) -> str:
    """The ending of ``path`` among :data:`IMAGE_ENDINGS` (raises ``DatasetError`` if none)."""
    name = Path(path).name.lower()
    for ending in IMAGE_ENDINGS:
        if name.endswith(ending):
            return ending
    raise DatasetError(f"{Path(path).name}: unknown image format; expected one of {IMAGE_ENDINGS}")


def load_image(
    path: str | Path, *, reader: ImageReader = "auto"
) -> tuple[np.ndarray, tuple[float, ...], np.ndarray]:
    """Read an image or label map: (array as stored, spacing in array-axis order, RAS affine).

    Parameters
    ----------
    path : str or Path
        A ``.nii.gz`` / ``.nii`` file (nibabel) or ``.nrrd`` / ``.mha`` file (SimpleITK).
    reader : {"auto", "nibabel", "simpleitk"}
        ``"auto"`` (default): nibabel for NIfTI, SimpleITK otherwise. ``"simpleitk"`` reads
        NIfTI through SimpleITK too (same result up to float32 rounding of the header).

    Returns
    -------
    array : numpy.ndarray
        The voxels in the stored dtype, axes in nibabel's order (x, y, z).
    spacing : tuple of float
        mm per array axis.
    affine : numpy.ndarray
        4x4 voxel-to-world (RAS) matrix.

    Raises
    ------
    DatasetError
        Missing, unreadable or corrupt file, or an unknown ending.
    MissingExtraError
        nibabel / SimpleITK not installed (``pip install 'medtrust[io]'``).

    Examples
    --------
    >>> from medtrust.io.images import image_ending
    >>> image_ending("labelsTr/case_001.nii.gz"), image_ending("case_001_0000.mha")
    ('.nii.gz', '.mha')
    """
    if reader not in ("auto", "nibabel", "simpleitk"):
        raise InvalidArgumentError(
            f"reader must be 'auto', 'nibabel' or 'simpleitk', got {reader!r}"
        )
    ending = image_ending(path)
    if reader == "nibabel" and ending not in NIFTI_ENDINGS:
        raise InvalidArgumentError(f"reader='nibabel' reads NIfTI only, not {ending}")
    if ending in NIFTI_ENDINGS and reader != "simpleitk":
        return load_nifti(path)
    sitk = require("SimpleITK", "io")
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no such file: {path}")
    try:
        img = sitk.ReadImage(str(path))
        arr = sitk.GetArrayViewFromImage(img)
    except Exception as e:  # SimpleITK raises RuntimeError for unreadable / corrupt files
        raise DatasetError(f"cannot read {path} with SimpleITK: {e}") from e
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise DatasetError(f"{path}: vector images are not supported (one value per voxel)")
    # GetArrayFromImage orders axes (z, y, x); nibabel (and medtrust) use (x, y, z).
    array = np.ascontiguousarray(np.asarray(arr).T)
    if ending in NIFTI_ENDINGS:  # float32 header: the shortest decimal, as load_nifti does
        spacing = tuple(float(str(np.float32(s))) for s in img.GetSpacing())
    else:  # NRRD stores direction x spacing; its column norms are off by an ulp (0.7 -> 0.69..98)
        spacing = tuple(float(f"{s:.15g}") for s in img.GetSpacing())
    ndim = img.GetDimension()
    direction = np.asarray(img.GetDirection(), dtype=np.float64).reshape(ndim, ndim)
    affine = np.eye(4)
    k = min(ndim, 3)
    rot = np.eye(3)
    rot[:k, :k] = direction[:k, :k] * np.asarray(spacing[:k])
    origin = np.zeros(3)
    origin[:k] = img.GetOrigin()[:k]
    affine[:3, :3] = _LPS_TO_RAS @ rot
    affine[:3, 3] = _LPS_TO_RAS @ origin
    return array, spacing, affine


def save_image(
    path: str | Path, array: Any, *, spacing: Any, affine: np.ndarray | None = None
) -> None:
    """Write ``array`` (nibabel axis order) in the format of ``path``'s ending, atomically.

    Parameters
    ----------
    path : str or Path
        Target file; the ending picks the writer (see :data:`IMAGE_ENDINGS`).
    array : array_like
        Voxels, axes in nibabel's order (x, y, z); the dtype is kept.
    spacing : sequence of float
        mm per array axis.
    affine : numpy.ndarray, optional
        4x4 RAS voxel-to-world matrix (default: diagonal with the spacing, origin 0).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.mha"
    >>> save_image(path, np.ones((3, 3, 3), np.uint8), spacing=(1.0, 1.0, 3.0))
    >>> load_image(path)[1]
    (1.0, 1.0, 3.0)
    """
    ending = image_ending(path)
    if ending in NIFTI_ENDINGS:
        save_nifti(path, array, spacing=spacing, affine=affine)
        return
    sitk = require("SimpleITK", "io")
    a = np.asarray(array)
    sp = as_spacing(spacing, a.ndim)
    img = sitk.GetImageFromArray(np.ascontiguousarray(a.T))
    img.SetSpacing([float(s) for s in sp])
    k = min(a.ndim, 3)
    if affine is not None and a.ndim == 3:
        aff = np.asarray(affine, dtype=np.float64)
        lps = _LPS_TO_RAS @ aff[:3, :3]  # the flip is its own inverse
        img.SetDirection((lps / np.asarray(sp[:k])).ravel().tolist())
        img.SetOrigin((_LPS_TO_RAS @ aff[:3, 3]).tolist())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # SimpleITK writes to a name, not bytes: write a temporary file with the same ending in the
    # same folder and rename it into place (never a half-written image).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=ending)
    os.close(fd)
    try:
        sitk.WriteImage(img, tmp, useCompression=True)
        os.chmod(tmp, _mode())  # mkstemp's 0600 -> what open() would give under the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
