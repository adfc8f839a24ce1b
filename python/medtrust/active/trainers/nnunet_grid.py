"""The nnU-Net backend on the AL loop's working grid: images, affines and files for nnU-Net.

With a target spacing (configured, or nnU-Net's plan spacing, :func:`plan_spacing` in
:mod:`medtrust.active.trainers.nnunet`) the loop selects, trains and predicts on a working grid
(:mod:`medtrust.active.spacing`). nnActive selects on nnU-Net's preprocessed images; here the
raw images are resampled to the working grid with nnU-Net's own resampling function (cubic
spline, nearest along a much coarser axis: nnU-Net's default for images), so nnU-Net, whose
plan spacing is then the working spacing, resamples no more and its outputs lie on the loop's
grid.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.trainers.nnunet_grid import working_affine
>>> working_affine(np.diag([2.0, 1.0, 1.0, 1.0]), (10, 8, 8), (5, 8, 8)).diagonal().tolist()
[4.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._extras import require
from medtrust.active.trainers.base import CaseData

__all__ = ["case_image", "link_or_convert", "raw_shape", "working_affine"]


def raw_shape(case: CaseData) -> tuple[int, int, int]:
    """Spatial shape of a case's raw image file (nibabel order; header read only)."""
    require("nibabel", "io")
    import nibabel as nib

    shp = nib.load(str(case.image_files[0])).header.get_data_shape()
    return (int(shp[0]), int(shp[1]), int(shp[2]))


def working_affine(
    affine: np.ndarray, shape_raw: Sequence[int], shape_work: Sequence[int]
) -> np.ndarray:
    """The affine of the working grid of a raw image (same field of view, nibabel order).

    Working voxel ``i`` of an axis has its centre at raw voxel coordinate
    ``(i + 1/2) * n_raw / n_work - 1/2`` (the convention of :mod:`medtrust.active.spacing`).

    Parameters
    ----------
    affine
        4x4 affine of the raw image.
    shape_raw, shape_work
        Raw and working spatial shapes (nibabel order).

    Returns
    -------
    numpy.ndarray
        4x4 affine of the working grid.
    """
    f = np.array([r / w for r, w in zip(shape_raw, shape_work)], np.float64)
    a = np.asarray(affine, np.float64)
    out = a.copy()
    out[:3, :3] = a[:3, :3] * f[None, :]
    out[:3, 3] = a[:3, 3] + a[:3, :3] @ (0.5 * f - 0.5)
    return out


def case_image(case: CaseData) -> tuple[np.ndarray, dict[str, Any]]:
    """A case's raw image on the case's grid, in nnU-Net's (SimpleITK) axis order.

    Read with nnU-Net's ``NibabelIO``; when ``case.shape`` is not the file's shape (the loop's
    working grid), resampled with nnU-Net's ``resample_data_or_seg_to_shape`` (its default
    image settings: ``order=3``, ``order_z=0``, separate z decided by anisotropy) to
    ``case.shape`` at ``case.spacing``.

    Parameters
    ----------
    case
        The case (``shape`` and ``spacing`` in nibabel order).

    Returns
    -------
    tuple
        float32 ``[C, z, y, x]`` (nibabel's axes reversed) and nnU-Net's properties
        (``spacing`` in the same order).
    """
    from nnunetv2.imageio.nibabel_reader_writer import NibabelIO

    img, props = NibabelIO().read_images([str(f) for f in case.image_files])
    want = tuple(int(v) for v in reversed(case.shape))
    if tuple(img.shape[1:]) != want:
        from nnunetv2.preprocessing.resampling.default_resampling import (
            resample_data_or_seg_to_shape,
        )

        spacing = [float(v) for v in reversed(case.spacing)]
        img = resample_data_or_seg_to_shape(
            img,
            want,
            props["spacing"],
            spacing,
            is_seg=False,
            order=3,
            order_z=0,
            force_separate_z=None,
        )
        props = {"spacing": spacing}
    return np.ascontiguousarray(img, dtype=np.float32), props


def link_or_convert(src: Path, target: Path) -> None:
    """``target`` (``.nii.gz``) as a link to ``src``, or a converted copy of a ``.nii`` file."""
    from medtrust.io.nifti import load_nifti, save_nifti

    target.parent.mkdir(parents=True, exist_ok=True)
    if src.name.endswith(".nii") and not src.name.endswith(".nii.gz"):
        arr, sp, aff = load_nifti(src)
        save_nifti(target, arr, spacing=sp, affine=aff)
        return
    try:
        target.symlink_to(Path(src).resolve())
    except OSError:
        shutil.copyfile(src, target)
