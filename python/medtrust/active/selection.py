"""Patch scores on a strided grid of box positions and greedy non-overlapping selection.

The one decoding of grid positions into boxes (:func:`grid_start`) and the one greedy pick
(:func:`greedy_boxes`) serve :func:`select_patches` and every strategy.

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

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np

from medtrust import _native
from medtrust._arrays import check_summable, to_numpy
from medtrust.active._common import as_triple, check_count
from medtrust.active.patch import Patch, blocked_boxes
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)

__all__ = [
    "TIES",
    "Ties",
    "check_ties",
    "greedy_boxes",
    "grid_start",
    "patch_scores",
    "select_patches",
]

#: Order among equal scores in the greedy pick (see :func:`greedy_boxes`).
Ties = Literal["first", "nnactive"]
TIES: tuple[str, ...] = ("first", "nnactive")


def check_ties(ties: Any) -> Ties:
    """``ties`` if it is one of :data:`TIES`, else a clear error.

    Examples
    --------
    >>> check_ties("nnactive")
    'nnactive'
    """
    if ties not in TIES:
        raise InvalidArgumentError(f"ties must be one of {list(TIES)}, got {ties!r}")
    return ties  # type: ignore[no-any-return]


def _nnactive_order_keys(flat: np.ndarray) -> np.ndarray:
    """Keys without ties that visit positions in nnActive's order.

    nnActive visits ``np.flip(np.argsort(scores))``: best first and, where numpy's sort keeps
    equal scores in index order (e.g. a constant region), the *last* grid position first.
    Replacing each score by minus its place in that order leaves no ties, so the native
    kernel (ties by first index) visits exactly that order.
    """
    order = np.flip(np.argsort(flat))
    keys = np.empty(flat.size, dtype=np.float64)
    keys[order] = -np.arange(flat.size, dtype=np.float64)
    return keys


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


def greedy_boxes(
    keys: np.ndarray,
    image_id: str,
    shape: Sequence[int],
    *,
    patch_size: tuple[int, int, int],
    stride: tuple[int, int, int],
    clip: bool,
    blocked: Iterable[Patch],
    n: int,
    ties: Ties = "first",
) -> list[tuple[int, Patch]]:
    """Greedy non-overlapping pick of up to ``n`` boxes of one image by ``keys``, best first.

    The shared core of :func:`select_patches` and the strategies: the native kernel visits
    positions best first and rejects those hitting ``blocked`` boxes or boxes accepted before.
    Arguments are assumed checked (triples, ``n`` >= 0).

    Equal keys (``ties``): ``"first"`` (medtrust's default) visits them by ascending grid
    index (z, then y, then x), a rule that does not depend on any sort implementation;
    ``"nnactive"`` restores nnActive's order, ``np.flip(np.argsort(keys))`` with numpy's
    default sort (for a run of equal keys: the last grid position first). The two differ only
    where keys tie, e.g. zero-uncertainty regions or a constant map; numpy's default sort is
    not stable, so nnActive's own tie order can vary with the numpy version, and ``"nnactive"``
    reproduces it for the numpy installed.

    Parameters
    ----------
    keys
        Scores on the grid (any shape with the grid's number of positions, float64-able).
    image_id, shape
        The image and its array-order shape.
    patch_size, stride, clip
        The box geometry (the box is clipped to the image when ``clip``).
    blocked
        Boxes the picks must not overlap (other images' are ignored).
    n
        Maximum number of boxes.
    ties
        Order among equal keys: ``"first"`` or ``"nnactive"`` (see above).

    Returns
    -------
    list of (int, Patch)
        Flat grid position and box of each pick, in pick order.

    Examples
    --------
    >>> import numpy as np
    >>> keys = np.array([0.1, 0.9, 0.5, 0.2])  # grid of 4 positions along x
    >>> [(i, p.start) for i, p in greedy_boxes(keys, "a", (1, 1, 5), patch_size=(1, 1, 2),
    ...   stride=(1, 1, 1), clip=True, blocked=(), n=2)]
    [(1, (0, 0, 1)), (3, (0, 0, 3))]
    """
    shp = (int(shape[0]), int(shape[1]), int(shape[2]))
    eff, dims = _native.patch_grid(shp, patch_size, stride, bool(clip))
    flat = np.ascontiguousarray(keys, dtype=np.float64).reshape(-1)
    if ties == "nnactive":
        if np.isnan(flat).any():  # the kernel's check, before the ranks hide the NaN
            i = int(np.flatnonzero(np.isnan(flat))[0])
            raise InvalidValueError(f"patch score at grid index {i} is NaN")
        flat = _nnactive_order_keys(flat)
    idx = _native.select_greedy(
        flat, shp, patch_size, stride, bool(clip), blocked_boxes(blocked, image_id), n
    )
    box = (int(eff[0]), int(eff[1]), int(eff[2]))
    return [(int(i), Patch(image_id, grid_start(int(i), dims, stride), box)) for i in idx]


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
    ties: Ties = "first",
) -> list[Patch]:
    """Greedy non-overlapping selection of up to ``n`` patches of one image by score.

    Candidates are visited best first (ties by grid index, i.e. by z, then y, then x; or
    nnActive's order with ``ties="nnactive"``); one is accepted unless it intersects a
    ``blocked`` patch of this image or one accepted before.

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
    ties
        Order among equal scores: ``"first"`` (default) or ``"nnactive"``
        (see :func:`greedy_boxes`).

    Returns
    -------
    list of Patch
        In selection order.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.zeros((1, 1, 7))  # a constant map: every position ties
    >>> [p.start for p in select_patches(flat, "a", (1, 1, 8), patch_size=(1, 1, 2), n=2)]
    [(0, 0, 0), (0, 0, 2)]
    >>> [p.start for p in select_patches(flat, "a", (1, 1, 8), patch_size=(1, 1, 2), n=2,
    ...                                  ties="nnactive")]
    [(0, 0, 6), (0, 0, 4)]
    """
    shp = as_triple(shape, "shape")
    patch = as_triple(patch_size, "patch_size")
    st = as_triple(stride, "stride")
    n = check_count(n, "n")
    ties = check_ties(ties)
    _, dims = _native.patch_grid(shp, patch, st, bool(clip))
    s = to_numpy(scores, "scores")
    if s.size != int(np.prod(dims)):
        raise ShapeMismatchError(
            f"scores have {s.size} values but the grid of shape {tuple(dims)} has "
            f"{int(np.prod(dims))} positions (image {shp}, patch {patch}, stride {st})"
        )
    picks = greedy_boxes(
        s, image_id, shp, patch_size=patch, stride=st, clip=clip, blocked=blocked, n=n, ties=ties
    )
    return [p for _, p in picks]


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
