"""Annotation patches, nnActive-compatible round files, patch scores and greedy selection.

A :class:`Patch` is an axis-aligned box ``(image_id, start[z, y, x], size[z, y, x])`` in the
array order of the images as medtrust loads them (nibabel). Round files are JSON
``{"patches": [{"file", "coords", "size"}]}`` named ``loop_XXX.json`` like nnActive's, where
``file`` is the label file name (image id + file ending); on disk their coordinates are in
SimpleITK array order (nnActive's; the axes reversed), converted in
:mod:`medtrust.io.rounds`, so both tools mean the same voxels.

Examples
--------
>>> import numpy as np
>>> from medtrust.active import patch_scores, select_patches
>>> m = np.zeros((4, 4, 8), np.float32); m[:, :, 5:] = 1.0
>>> s = patch_scores(m, patch_size=(4, 4, 2), stride=1)
>>> s.shape, float(s.max())
((1, 1, 7), 1.0)
>>> [p.start for p in select_patches(s, "img", (4, 4, 8), patch_size=(4, 4, 2), n=3)]
[(0, 0, 5), (0, 0, 0), (0, 0, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtrust import _native
from medtrust._arrays import check_summable, to_numpy
from medtrust.active._common import as_triple, check_count
from medtrust.exceptions import DatasetError, DTypeError, InvalidArgumentError, ShapeMismatchError

__all__ = [
    "ROUND_PATTERN",
    "Patch",
    "blocked_boxes",
    "patch_scores",
    "read_round",
    "read_rounds",
    "round_file_name",
    "select_patches",
    "write_round",
]

#: nnActive's round file names: loop_000.json (starting budget), loop_001.json, ...
ROUND_PATTERN = re.compile(r"^loop_(\d+)\.json$")
KNOWN_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".mha", ".npz", ".npy")


@dataclass(frozen=True, order=True)
class Patch:
    """A box to annotate: image id, first voxel (z, y, x) and size (z, y, x)."""

    image_id: str
    start: tuple[int, int, int]
    size: tuple[int, int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.image_id, str) or not self.image_id:
            raise InvalidArgumentError(
                f"image_id must be a non-empty string, got {self.image_id!r}"
            )
        object.__setattr__(self, "start", as_triple(self.start, "start", minimum=0))
        object.__setattr__(self, "size", as_triple(self.size, "size", minimum=1))

    @property
    def stop(self) -> tuple[int, int, int]:
        """One past the last voxel, per axis."""
        return (
            self.start[0] + self.size[0],
            self.start[1] + self.size[1],
            self.start[2] + self.size[2],
        )

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Index of the box in a [Z, Y, X] array."""
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop))  # type: ignore[return-value]

    @property
    def volume(self) -> int:
        """Number of voxels."""
        return self.size[0] * self.size[1] * self.size[2]

    def overlaps(self, other: Patch) -> bool:
        """Whether both boxes are in the same image and share a voxel."""
        return self.image_id == other.image_id and all(
            a < d and c < b for a, b, c, d in zip(self.start, self.stop, other.start, other.stop)
        )

    def within(self, shape: Sequence[int]) -> bool:
        """Whether the box lies inside an image of ``shape``."""
        return all(b <= s for b, s in zip(self.stop, shape))

    def to_json(self, file_ending: str = ".nii.gz") -> dict[str, Any]:
        """NnActive's patch record ``{"file", "coords", "size"}`` (SimpleITK axis order)."""
        from medtrust.io.rounds import patch_record

        return patch_record(self.image_id + file_ending, self.start, self.size)

    @classmethod
    def from_json(
        cls, d: dict[str, Any], *, shape: Sequence[int] | None = None, axis_order: str = "sitk"
    ) -> Patch:
        """Parse a round-file record (the file ending is stripped from ``file``).

        ``shape`` (array order) is needed for nnActive's ``"size": "whole"`` records.
        """
        from medtrust.io.rounds import parse_record

        file, start, size = parse_record(d, axis_order=axis_order)  # type: ignore[arg-type]
        image_id = strip_ending(file)
        if size is None:
            if shape is None:
                raise DatasetError(
                    f"record {d!r} annotates the whole image: pass the image shapes to read it"
                )
            size = as_triple(tuple(shape), "shape")
        return cls(image_id, start, size)


def strip_ending(file: str) -> str:
    """Image id of a file name (``case_001.nii.gz`` -> ``case_001``)."""
    for end in KNOWN_ENDINGS:
        if file.endswith(end):
            return file[: -len(end)]
    return file


def round_file_name(index: int) -> str:
    """``loop_XXX.json`` for round-file ``index`` (0 = starting budget; query k writes k + 1)."""
    return f"loop_{check_count(index, 'index'):03d}.json"


def write_round(
    path: str | Path,
    patches: Iterable[Patch],
    *,
    file_ending: str = ".nii.gz",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a round file atomically (coordinates in SimpleITK order, see module docstring).

    ``extra`` keys (e.g. a query log) are stored beside ``patches``; nnActive reads only
    ``patches``.
    """
    from medtrust.io.rounds import write_round_records

    return write_round_records(
        path, ((p.image_id + file_ending, p.start, p.size) for p in patches), extra=extra
    )


def read_round(
    path: str | Path, *, shapes: Mapping[str, Sequence[int]] | None = None
) -> list[Patch]:
    """Patches of one round file (in array order).

    ``shapes`` (image id -> array-order shape) resolves nnActive's ``"size": "whole"``
    records; without it such a record is an error.
    """
    from medtrust.io.rounds import read_round_records

    out = []
    for file, start, size in read_round_records(path):
        image_id = strip_ending(file)
        if size is None:
            if shapes is None or image_id not in shapes:
                raise DatasetError(
                    f"{path}: {file} is annotated whole; pass shapes= with its image shape"
                )
            size = as_triple(tuple(shapes[image_id]), "shape")
        out.append(Patch(image_id, start, size))
    return out


def read_rounds(
    folder: str | Path,
    *,
    up_to: int | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> list[Patch]:
    """All patches of the ``loop_XXX.json`` files in ``folder`` (rounds <= ``up_to``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no such folder: {folder}")
    files = sorted(
        (int(m.group(1)), f) for f in folder.iterdir() if (m := ROUND_PATTERN.match(f.name))
    )
    out: list[Patch] = []
    for idx, f in files:
        if up_to is None or idx <= up_to:
            out += read_round(f, shapes=shapes)
    return out


def blocked_boxes(patches: Iterable[Patch], image_id: str) -> np.ndarray:
    """The boxes of ``image_id`` among ``patches`` as an int64 array [k, 6] (start, size)."""
    rows = [(*p.start, *p.size) for p in patches if p.image_id == image_id]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 6)


def _as_map(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x, name)
    if a.dtype not in (np.float32, np.float64):
        if np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating):
            a = a.astype(np.float64)
        else:
            raise DTypeError(f"{name} must be a real-valued array, got dtype {a.dtype}")
    if a.ndim != 3:
        raise ShapeMismatchError(f"{name} must be a 3D [Z, Y, X] map, got shape {a.shape}")
    check_summable(a, name)  # the float64 summed-area table must not overflow
    return np.ascontiguousarray(a)


def patch_scores(
    voxel_map: Any,
    *,
    patch_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    clip: bool = True,
) -> np.ndarray:
    """Mean of ``voxel_map`` in every box of ``patch_size`` on a strided grid of start positions.

    Valid positions only: grid dims are ``(shape - patch) // stride + 1`` per axis. Sums come
    from a float64 summed-area table (cost independent of the patch size).

    Parameters
    ----------
    voxel_map
        3D array [Z, Y, X] (float32/float64; other real dtypes are converted).
    patch_size, stride
        An int or (z, y, x).
    clip
        Clip a patch larger than the image to the image (one position on that axis; the
        default, as in the strategies and :func:`~medtrust.active.score_grids`); with
        ``clip=False`` that is an error.

    Returns
    -------
    numpy.ndarray
        float64 scores [gz, gy, gx]; position (i, j, k) starts at voxel
        (i * stride_z, j * stride_y, k * stride_x).
    """
    m = _as_map(voxel_map, "voxel_map")
    patch = as_triple(patch_size, "patch_size")
    st = as_triple(stride, "stride")
    return _native.pool_map(m, patch, st, bool(clip))[0]


def select_patches(
    scores: Any,
    image_id: str,
    shape: Sequence[int],
    *,
    patch_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    n: int,
    blocked: Iterable[Patch] = (),
    clip: bool = True,
) -> list[Patch]:
    """Greedy non-overlapping selection of up to ``n`` patches of one image by score.

    Candidates are visited best first (ties by grid index, i.e. by z, then y, then x); one is
    accepted unless it intersects a ``blocked`` patch of this image or one accepted before.

    Parameters
    ----------
    scores
        Patch scores on the grid (e.g. from :func:`patch_scores`, or noisy log scores);
        ``-inf`` allowed, NaN not.
    image_id, shape
        The image and its shape (z, y, x).
    patch_size, stride, clip
        As for :func:`patch_scores`.
    n
        Maximum number of patches.
    blocked
        Patches that must not be overlapped (already annotated); other images' are ignored.
    """
    shp = as_triple(shape, "shape")
    patch = as_triple(patch_size, "patch_size")
    st = as_triple(stride, "stride")
    n = check_count(n, "n")
    eff, dims = _native.patch_grid(shp, patch, st, bool(clip))
    s = to_numpy(scores, "scores")
    if s.size != int(np.prod(dims)):
        raise ShapeMismatchError(
            f"scores have {s.size} values but the grid of shape {tuple(dims)} has "
            f"{int(np.prod(dims))} positions (image {shp}, patch {patch}, stride {st})"
        )
    flat = np.ascontiguousarray(s, dtype=np.float64).reshape(-1)
    idx = _native.select_greedy(
        flat, shp, patch, st, bool(clip), blocked_boxes(blocked, image_id), n
    )
    box = (int(eff[0]), int(eff[1]), int(eff[2]))
    return [Patch(image_id, grid_start(int(i), dims, st), box) for i in idx]


def grid_start(index: int, dims: Sequence[int], stride: Sequence[int]) -> tuple[int, int, int]:
    """First voxel of the box at flat position ``index`` of a score grid of shape ``dims``.

    The one decoding of grid positions, shared by :func:`select_patches` and the strategies.

    Examples
    --------
    >>> grid_start(10, (2, 2, 3), (4, 2, 1))
    (4, 2, 1)
    """
    _, gy, gx = dims
    z, rem = divmod(int(index), int(gy) * int(gx))
    y, x = divmod(rem, int(gx))
    return (z * stride[0], y * stride[1], x * stride[2])
