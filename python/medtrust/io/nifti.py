"""NIfTI label maps and images (nibabel), and probability arrays (.npz / .npy).

Every loader returns the array together with its spacing in **array-axis order** (mm per axis
of the returned array) and the affine, so that surface metrics never silently assume 1 mm.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from medtrust.io import save_nifti, load_nifti
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.nii.gz"
>>> save_nifti(path, np.zeros((4, 5, 6), np.uint8), spacing=(0.8, 0.8, 2.5))
>>> arr, spacing, affine = load_nifti(path)
>>> arr.shape, spacing
((4, 5, 6), (0.8, 0.8, 2.5))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medtrust._arrays import as_label_map, as_spacing
from medtrust._extras import require
from medtrust.exceptions import DatasetError, DTypeError

__all__ = ["load_labels", "load_nifti", "load_probabilities", "save_nifti"]


def load_nifti(path: str | Path) -> tuple[np.ndarray, tuple[float, ...], np.ndarray]:
    """Read a NIfTI file: (array as stored, spacing in array-axis order, 4x4 affine).

    The array keeps the stored dtype (no float conversion: label maps stay integers).

    Parameters
    ----------
    path
        A ``.nii`` or ``.nii.gz`` file.

    Returns
    -------
    tuple
        ``(array, spacing, affine)``: the stored array, spacing in array-axis order, 4x4 affine.
    """
    require("nibabel", "io")
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no such file: {path}")
    try:
        img = nib.load(str(path))
        # The voxels are read lazily: a truncated file fails only here (OSError, EOFError, ...).
        arr = np.asanyarray(img.dataobj)
    except Exception as e:  # nibabel raises several types for corrupt files
        raise DatasetError(f"cannot read {path} as NIfTI: {e}") from e
    zooms = img.header.get_zooms()[: arr.ndim]
    # The header stores float32: take the shortest decimal that rounds to it (0.8, not
    # 0.800000011920929), which is what the writer meant.
    spacing = tuple(float(str(np.float32(z))) for z in zooms)
    return np.asarray(arr), spacing, np.asarray(img.affine, dtype=np.float64)


def load_labels(path: str | Path) -> tuple[np.ndarray, tuple[float, ...], np.ndarray]:
    """Read a NIfTI label map as integers: (labels, spacing, affine).

    Files stored as floats (some tools do) are accepted when every value is an integer;
    anything else is refused with a clear error.

    Parameters
    ----------
    path
        A ``.nii`` or ``.nii.gz`` file.

    Returns
    -------
    tuple
        ``(labels, spacing, affine)``: integer array, spacing in array-axis order, 4x4 affine.
    """
    arr, spacing, affine = load_nifti(path)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise DTypeError(f"{path} holds non-integer values; expected a label map")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        dtype = np.uint8 if lo >= 0 and hi < 256 else np.int64
        arr = arr.astype(dtype)
    return as_label_map(arr, str(path)), spacing, affine


def save_nifti(
    path: str | Path,
    array: Any,
    *,
    spacing: Any,
    affine: np.ndarray | None = None,
) -> None:
    """Write ``array`` as NIfTI with ``spacing`` (array-axis order) in the header.

    Without an affine, a diagonal one with the spacing is used. The write is atomic.

    Parameters
    ----------
    path
        Output file (``.nii`` / ``.nii.gz``).
    array
        Array to write, in array-axis order.
    spacing
        Voxel size per array axis.
    affine
        4x4 affine (default: diagonal with the spacing).
    """
    require("nibabel", "io")
    import nibabel as nib

    from medtrust._io import atomic_write_bytes

    a = np.asarray(array)
    sp = as_spacing(spacing, a.ndim)
    if affine is None:
        affine = np.diag([*sp[:3], *([1.0] * (3 - min(3, a.ndim))), 1.0])
    img = nib.Nifti1Image(a, affine)
    img.header.set_zooms(sp)
    path = Path(path)
    atomic_write_bytes(path, img.to_bytes() if not str(path).endswith(".gz") else _gz(img))


def _gz(img: Any) -> bytes:
    import gzip

    return gzip.compress(img.to_bytes(), compresslevel=1)


def load_probabilities(path: str | Path, *, key: str | None = None) -> np.ndarray:
    """Softmax probabilities ``[C, *spatial]`` from a .npy or .npz file (float16/32 kept).

    In a .npz the array is ``key``, else "probabilities" (nnU-Net's name), else the only one.
    The spatial axes must be in the same order as the label maps' (nnU-Net writes its .npz in
    the reversed, SimpleITK order: transpose those first).

    Parameters
    ----------
    path
        A ``.npy`` or ``.npz`` file.
    key
        Array name in a ``.npz`` (default: ``probabilities``, else the only array).

    Returns
    -------
    numpy.ndarray
        Probabilities ``[C, *spatial]`` in their stored float dtype.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no such file: {path}")
    if path.suffix not in (".npy", ".npz"):
        raise DatasetError(f"expected a .npy or .npz file, got {path.name}")
    try:
        return _read_array_file(path, key)
    except DatasetError:
        raise
    except Exception as e:  # truncated or corrupt files: ValueError, OSError, EOFError, zip errors
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _read_array_file(path: Path, key: str | None) -> np.ndarray:
    # allow_pickle=False (numpy's default, spelled out): a pickle can run code when loaded.
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as z:
        names = list(z.keys())
        if key is None:
            if "probabilities" in names:
                key = "probabilities"
            elif len(names) == 1:
                key = names[0]
            else:
                raise DatasetError(f"{path} holds {names}; pass key= to choose one")
        if key not in names:
            raise DatasetError(f"{path} has no array {key!r}; it holds {names}")
        return z[key]
