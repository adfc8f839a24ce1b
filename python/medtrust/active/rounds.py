"""Round files of :class:`~medtrust.active.Patch` boxes (nnActive's ``loop_XXX.json``).

Round files are JSON ``{"patches": [{"file", "coords", "size"}]}`` named like nnActive's,
where ``file`` is the label file name (image id + file ending); on disk their coordinates are
in SimpleITK array order (nnActive's; the axes reversed). Records, names and the axis
conversion live in :mod:`medtrust.io.rounds`; this module maps them to and from patches.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from medtrust.active import Patch, read_rounds, write_round
>>> d = Path(tempfile.mkdtemp())
>>> _ = write_round(d / "loop_000.json", [Patch("a", (0, 1, 2), (1, 2, 4))])
>>> read_rounds(d)
[Patch(image_id='a', start=(0, 1, 2), size=(1, 2, 4))]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medtrust.active.patch import Patch, patch_from_record
from medtrust.exceptions import DatasetError
from medtrust.io.rounds import (
    ROUND_PATTERN,
    read_round_records,
    round_file_name,
    round_files,
    write_round_records,
)

__all__ = ["ROUND_PATTERN", "read_round", "read_rounds", "round_file_name", "write_round"]


def write_round(
    path: str | Path,
    patches: Iterable[Patch],
    *,
    file_ending: str = ".nii.gz",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a round file atomically (coordinates in SimpleITK order, see module docstring).

    Parameters
    ----------
    path
        The file to write (``loop_XXX.json`` for nnActive to find it).
    patches
        The boxes, in array order.
    file_ending
        Appended to each image id to name its label file.
    extra
        Keys stored beside ``patches`` (e.g. a query log); nnActive reads only ``patches``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_round_records(
        path, ((p.image_id + file_ending, p.start, p.size) for p in patches), extra=extra
    )


def read_round(
    path: str | Path, *, shapes: Mapping[str, Sequence[int]] | None = None
) -> list[Patch]:
    """Patches of one round file (in array order).

    Parameters
    ----------
    path
        The round file.
    shapes
        ``image id -> array-order shape``; resolves nnActive's ``"size": "whole"`` records
        (without it such a record is an error).

    Returns
    -------
    list of Patch
    """
    records = read_round_records(path)
    try:
        return [patch_from_record(*rec, shapes) for rec in records]
    except DatasetError as e:
        raise DatasetError(f"{path}: {e}") from e


def read_rounds(
    folder: str | Path,
    *,
    up_to: int | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> list[Patch]:
    """All patches of the ``loop_XXX.json`` files in ``folder`` (rounds <= ``up_to``).

    Parameters
    ----------
    folder
        The run folder.
    up_to
        Last round index read (all when None).
    shapes
        As for :func:`read_round`.

    Returns
    -------
    list of Patch
        In round order, then file order.
    """
    out: list[Patch] = []
    for _, f in round_files(folder, up_to=up_to):
        out += read_round(f, shapes=shapes)
    return out
