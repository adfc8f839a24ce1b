"""Uncertainty sources over saved softmax maps (nnU-Net ``--save_probabilities`` folders).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from medtrust.active import probs_dir_source
>>> d = Path(tempfile.mkdtemp())
>>> np.save(d / "case_0.npy", np.full((2, 2, 4, 4, 4), 0.5, np.float32))  # [M, C, Z, Y, X]
>>> source, shapes = probs_dir_source(d)
>>> shapes, source("case_0").n_members
({'case_0': (4, 4, 4)}, 2)
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from medtrust.active._common import as_triple
from medtrust.active.patch import strip_ending
from medtrust.active.pool import AccumulatorSource, UncertaintySource, members
from medtrust.exceptions import DatasetError

__all__ = ["PROB_ENDINGS", "probs_dir_source"]

PROB_ENDINGS = (".npy", ".npz")


def _npz_shape(path: Path) -> tuple[int, ...]:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        if not names:
            raise DatasetError(f"{path} holds no array")
        name = "probabilities.npy" if "probabilities.npy" in names else names[0]
        with z.open(name) as f:
            version = np.lib.format.read_magic(f)
            fmt = np.lib.format
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, _ = read(f)
    return tuple(shape)


def _array_shape(path: Path) -> tuple[int, ...]:
    try:
        if path.suffix == ".npy":
            return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        return _npz_shape(path)
    except DatasetError:
        raise
    except Exception as e:  # truncated / corrupt: ValueError, OSError, EOFError, BadZipFile
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _load(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            # members are read page by page, never all at once
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            key = "probabilities" if "probabilities" in z.files else z.files[0]
            return z[key]
    except Exception as e:  # truncated / corrupt: ValueError, OSError, EOFError, BadZipFile
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _prob_files(folder: Path) -> dict[str, Path]:
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in PROB_ENDINGS:
            out[strip_ending(f.name)] = f
    return out


def probs_dir_source(
    folder: str | Path, **acc_options: Any
) -> tuple[UncertaintySource, dict[str, tuple[int, int, int]]]:
    """An uncertainty source over saved softmax maps, and the images' shapes.

    Two layouts are read (arrays in [.., Z, Y, X] array-axis order):

    - one sub-folder per ensemble member, each with ``<image_id>.npy`` or ``.npz`` holding that
      member's ``[C, Z, Y, X]`` (nnU-Net's ``--save_probabilities`` output of each fold model;
      key ``probabilities`` in ``.npz``);
    - ``<image_id>.npy`` / ``.npz`` files holding ``[M, C, Z, Y, X]`` (or ``[C, Z, Y, X]``).

    ``.npy`` files are memory-mapped, so members stream from disk one at a time.

    Parameters
    ----------
    folder
        The probabilities folder.
    **acc_options
        Passed to each :class:`~medtrust.uncertainty.EnsembleAccumulator`.

    Returns
    -------
    (UncertaintySource, dict)
        ``image_id -> accumulator`` and ``image_id -> (Z, Y, X)``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no such probabilities folder: {folder}")
    subdirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and _prob_files(d)]
    shapes: dict[str, tuple[int, int, int]] = {}
    if subdirs:
        per_member = [_prob_files(d) for d in subdirs]
        ids = sorted(set(per_member[0]))
        for files, d in zip(per_member[1:], subdirs[1:]):
            if set(files) != set(ids):
                diff = sorted(set(files) ^ set(ids))[:5]
                raise DatasetError(
                    f"member folder {d.name} does not hold the same images as "
                    f"{subdirs[0].name} (differences: {diff})"
                )
        for i in ids:
            shp = _array_shape(per_member[0][i])
            if len(shp) != 4:
                raise DatasetError(f"{per_member[0][i]} must hold [C, Z, Y, X], got {shp}")
            shapes[i] = as_triple(shp[1:], f"shape of {i}")

        def member_files(image_id: str) -> Iterable[Any]:
            return (_load(files[image_id]) for files in per_member)

        return AccumulatorSource(member_files, acc_options), shapes
    files = _prob_files(folder)
    if not files:
        raise DatasetError(f"{folder} holds no .npy/.npz probabilities and no member folders")
    for i, f in files.items():
        shp = _array_shape(f)
        if len(shp) not in (4, 5):
            raise DatasetError(f"{f} must hold [M, C, Z, Y, X] or [C, Z, Y, X], got {shp}")
        shapes[i] = as_triple(shp[-3:], f"shape of {i}")

    def flat_members(image_id: str) -> Iterable[Any]:
        return members(_load(files[image_id]))

    return AccumulatorSource(flat_members, acc_options), shapes
