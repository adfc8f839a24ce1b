"""The annotation box: :class:`Patch` (image id, first voxel, size) and file-name ids.

A :class:`Patch` is an axis-aligned box ``(image_id, start[z, y, x], size[z, y, x])`` in the
array order of the images as medtrust loads them (nibabel). Its round-file record (nnActive's
``{"file", "coords", "size"}``, SimpleITK axis order on disk) is converted in
:mod:`medtrust.io.rounds`, the one place that knows both orders.

Examples
--------
>>> from medtrust.active import Patch
>>> p = Patch("case_0", (0, 2, 4), (4, 4, 4))
>>> p.stop, p.volume, p.overlaps(Patch("case_0", (3, 5, 7), (2, 2, 2)))
((4, 6, 8), 64, True)
>>> p.to_json()
{'file': 'case_0.nii.gz', 'coords': [4, 2, 0], 'size': [4, 4, 4]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtrust.active._common import as_triple
from medtrust.exceptions import DatasetError, InvalidArgumentError

__all__ = ["KNOWN_ENDINGS", "Patch", "blocked_boxes", "patch_from_record", "strip_ending"]

KNOWN_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".mha", ".npz", ".npy")


@dataclass(frozen=True, order=True)
class Patch:
    """A box to annotate: image id, first voxel (z, y, x) and size (z, y, x).

    Attributes
    ----------
    image_id : str
        Id of the image (a non-empty string, the file name without its ending).
    start : tuple of int
        First voxel ``(z, y, x)`` in array order, each >= 0 (an int is broadcast to 3 axes).
    size : tuple of int
        Box size ``(z, y, x)`` in voxels, each >= 1 (an int is broadcast to 3 axes).
    """

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
        """Whether both boxes are in the same image and share a voxel.

        Parameters
        ----------
        other : Patch
            The other box.

        Returns
        -------
        bool
            True when ``other`` has the same ``image_id`` and the boxes intersect on every
            axis (boxes that only touch do not overlap).
        """
        return self.image_id == other.image_id and all(
            a < d and c < b for a, b, c, d in zip(self.start, self.stop, other.start, other.stop)
        )

    def within(self, shape: Sequence[int]) -> bool:
        """Whether the box lies inside an image of ``shape``.

        Parameters
        ----------
        shape : sequence of int
            Array-order image shape ``(Z, Y, X)``.

        Returns
        -------
        bool
            True when :attr:`stop` is <= ``shape`` on every axis.
        """
        return all(b <= s for b, s in zip(self.stop, shape))

    def to_json(self, file_ending: str = ".nii.gz") -> dict[str, Any]:
        """NnActive's patch record ``{"file", "coords", "size"}`` (SimpleITK axis order).

        Parameters
        ----------
        file_ending : str, default ".nii.gz"
            Appended to ``image_id`` to give the record's ``"file"``.

        Returns
        -------
        dict
            ``{"file": image_id + file_ending, "coords": [x, y, z], "size": [x, y, z]}``.
        """
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
        return patch_from_record(file, start, size, None if shape is None else {image_id: shape})


def patch_from_record(
    file: str,
    start: Sequence[int],
    size: Sequence[int] | None,
    shapes: dict[str, Sequence[int]] | Any | None = None,
) -> Patch:
    """The :class:`Patch` of a parsed round-file record (array order).

    Parameters
    ----------
    file
        The record's file name (its ending is stripped to give the image id).
    start, size
        Array-order start and size; ``size`` None is nnActive's ``"whole"`` record.
    shapes
        ``image_id -> array-order shape``, needed only for ``"whole"`` records.

    Returns
    -------
    Patch

    Examples
    --------
    >>> patch_from_record("a.nii.gz", (0, 0, 0), None, {"a": (4, 8, 8)})
    Patch(image_id='a', start=(0, 0, 0), size=(4, 8, 8))
    """
    image_id = strip_ending(file)
    if size is None:
        if shapes is None or image_id not in shapes:
            raise DatasetError(f"{file} is annotated whole: pass its image shape (shapes=)")
        size = as_triple(tuple(shapes[image_id]), "shape")
    return Patch(image_id, tuple(start), tuple(size))  # type: ignore[arg-type]


def strip_ending(file: str) -> str:
    """Image id of a file name (``case_001.nii.gz`` -> ``case_001``).

    Examples
    --------
    >>> strip_ending("case_001.nii.gz"), strip_ending("case_001")
    ('case_001', 'case_001')
    """
    for end in KNOWN_ENDINGS:
        if file.endswith(end):
            return file[: -len(end)]
    return file


def blocked_boxes(patches: Iterable[Patch], image_id: str) -> np.ndarray:
    """The boxes of ``image_id`` among ``patches`` as an int64 array [k, 6] (start, size).

    Examples
    --------
    >>> blocked_boxes([Patch("a", (0, 1, 2), (1, 1, 1)), Patch("b", 0, 1)], "a").tolist()
    [[0, 1, 2, 1, 1, 1]]
    """
    rows = [(*p.start, *p.size) for p in patches if p.image_id == image_id]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 6)
