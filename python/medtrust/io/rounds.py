"""nnActive round files (``loop_XXX.json``): the one place where axis orders are converted.

medtrust reads images with nibabel, whose arrays keep the NIfTI voxel order ``(i, j, k)``;
nnActive (and nnU-Net) read them with SimpleITK, whose ``GetArrayFromImage`` returns the
**reversed** axes ``(k, j, i)`` (for a scan: slices first, then rows, then columns). A box is
the same set of voxels in both tools only when its coordinates are converted between the two.

Convention: **round files on disk are in SimpleITK array order** (nnActive's), so that a file
written by medtrust is read by nnActive as the same voxels and vice versa. Everything in memory
(:class:`medtrust.active.Patch`, label maps, probability maps) is in the array order of the
images as medtrust loads them (nibabel). The experiment config's ``patch_size`` and
``pooling_stride`` follow the paper's settings, i.e. SimpleITK order too (ACDC ``4x40x40`` is 4
slices through-plane by 40 x 40 in-plane); :func:`to_array_order` converts them.

Record format (nnActive)::

    {"patches": [{"file": "case_001.nii.gz", "coords": [z, y, x], "size": [z, y, x]}, ...]}

``"size": "whole"`` (nnActive's record for a fully annotated image, coords ``[0, 0, 0]``) is
read as the whole image. medtrust adds ``"axis_order": "sitk"``; files that say
``"axis_order": "array"`` (written by medtrust before this convention) are read unchanged.

Examples
--------
>>> from medtrust.io.rounds import patch_record, parse_record
>>> patch_record("case.nii.gz", (1, 2, 3), (4, 16, 8))
{'file': 'case.nii.gz', 'coords': [3, 2, 1], 'size': [8, 16, 4]}
>>> parse_record({"file": "case.nii.gz", "coords": [3, 2, 1], "size": [8, 16, 4]})
('case.nii.gz', (1, 2, 3), (4, 16, 8))
>>> parse_record({"file": "case.nii.gz", "coords": [0, 0, 0], "size": "whole"})
('case.nii.gz', (0, 0, 0), None)
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from medtrust.exceptions import DatasetError, InvalidArgumentError

__all__ = [
    "AXIS_ORDER",
    "ROUND_PATTERN",
    "parse_record",
    "patch_record",
    "read_round_records",
    "round_file_name",
    "round_files",
    "to_array_order",
    "to_sitk_order",
    "write_round_records",
]

#: nnActive's round file names: loop_000.json (starting budget), loop_001.json, ...
ROUND_PATTERN = re.compile(r"^loop_(\d+)\.json$")

#: Axis order of coordinates and sizes in round files written by medtrust.
AXIS_ORDER: Literal["sitk"] = "sitk"

Triple = tuple[int, int, int]


def _triple(v: Sequence[Any], name: str) -> Triple:
    vals = list(v)
    if len(vals) != 3:
        raise DatasetError(f"{name} must have 3 values, got {v!r}")
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, int):
            if isinstance(x, float) and x == int(x):
                continue
            raise DatasetError(f"{name} must hold integers, got {v!r}")
    return (int(vals[0]), int(vals[1]), int(vals[2]))


def to_sitk_order(v: Sequence[int]) -> Triple:
    """Array-order (nibabel) triple -> SimpleITK array order (reversed axes)."""
    a, b, c = v
    return (int(c), int(b), int(a))


def to_array_order(v: Sequence[int]) -> Triple:
    """SimpleITK array-order triple (round files, paper settings) -> medtrust's array order."""
    a, b, c = v
    return (int(c), int(b), int(a))


def patch_record(file: str, start: Sequence[int], size: Sequence[int]) -> dict[str, Any]:
    """The nnActive record of a box given in medtrust's array order."""
    return {
        "file": file,
        "coords": list(to_sitk_order(start)),
        "size": list(to_sitk_order(size)),
    }


def parse_record(
    d: Any, *, axis_order: Literal["sitk", "array"] = "sitk"
) -> tuple[str, Triple, Triple | None]:
    """``(file, start, size)`` in medtrust's array order; ``size`` None for ``"whole"``."""
    try:
        file, coords, size = d["file"], d["coords"], d["size"]
    except (KeyError, TypeError) as e:
        raise DatasetError(f"patch record needs file, coords and size: {d!r}") from e
    start = _triple(coords, "coords")
    if size == "whole":
        return str(file), (0, 0, 0), None
    if isinstance(size, str):
        raise DatasetError(f"patch record size must be 3 integers or 'whole', got {size!r}")
    box = _triple(size, "size")
    if axis_order == "array":
        return str(file), start, box
    return str(file), to_array_order(start), to_array_order(box)


def write_round_records(
    path: str | Path,
    records: Iterable[tuple[str, Sequence[int], Sequence[int]]],
    *,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``(file, start, size)`` boxes (array order) as a round file, atomically.

    ``extra`` keys (e.g. a query log) are stored beside ``patches``; nnActive reads only
    ``patches``.
    """
    from medtrust._io import atomic_write_json

    obj: dict[str, Any] = {"patches": [patch_record(f, s, n) for f, s, n in records]}
    if extra:
        clash = sorted({"patches", "axis_order"} & set(extra))
        if clash:
            raise InvalidArgumentError(f"extra must not contain the key(s) {clash}")
        obj.update(extra)
    obj["axis_order"] = AXIS_ORDER
    path = Path(path)
    atomic_write_json(path, obj)
    return path


def read_round_records(path: str | Path) -> list[tuple[str, Triple, Triple | None]]:
    """Boxes of one round file as ``(file, start, size)`` in array order (size None: whole)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise DatasetError(f"no such round file: {path}") from e
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(obj, dict) or not isinstance(obj.get("patches"), list):
        raise DatasetError(f"{path} has no 'patches' list")
    order = obj.get("axis_order", "sitk")
    if order not in ("sitk", "array"):
        raise DatasetError(f"{path}: axis_order must be 'sitk' or 'array', got {order!r}")
    return [parse_record(d, axis_order=order) for d in obj["patches"]]


def round_file_name(index: int) -> str:
    """``loop_XXX.json`` for round-file ``index`` (0 = starting budget; query k writes k + 1).

    Parameters
    ----------
    index
        Round-file index (>= 0).

    Returns
    -------
    str
        The file name nnActive uses for that round.

    Examples
    --------
    >>> round_file_name(3)
    'loop_003.json'
    """
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
        raise InvalidArgumentError(f"index must be an integer >= 0, got {index!r}")
    return f"loop_{int(index):03d}.json"


def round_files(folder: str | Path, *, up_to: int | None = None) -> list[tuple[int, Path]]:
    """The ``loop_XXX.json`` files of ``folder`` as ``(index, path)``, by index.

    Parameters
    ----------
    folder
        A run folder.
    up_to
        Keep rounds with index <= ``up_to`` (all when None).

    Returns
    -------
    list of (int, pathlib.Path)
        Round index and file, in increasing index.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("loop_001.json", "loop_000.json", "notes.json"):
    ...     _ = (d / name).write_text('{"patches": []}')
    >>> [(k, f.name) for k, f in round_files(d)]
    [(0, 'loop_000.json'), (1, 'loop_001.json')]
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no such folder: {folder}")
    files = sorted(
        (int(m.group(1)), f) for f in folder.iterdir() if (m := ROUND_PATTERN.match(f.name))
    )
    return [(k, f) for k, f in files if up_to is None or k <= up_to]
