"""A working grid at a target spacing, and boxes and labels mapped between it and the raw grid.

nnActive selects and trains on nnU-Net's preprocessed images, resampled to the plan's spacing,
so a ``4 x 40 x 40`` patch means a fixed physical size there. The AL loop does the same when
``target_spacing`` is configured: images and ground truth are resampled to a *working grid*,
patch scores, selection and training run on it, and the boxes are mapped back to the *raw*
grid for the round files (``loop_XXX.json``), which stay valid for nnActive.

Conventions (array order per axis; both grids span the same field of view):

- working shape ``n_w = max(1, floor(n_raw * s_raw / s_target + 1/2))`` (nnU-Net's
  ``round(shape * spacing / target)``);
- a box edge ``e`` (a start, or a stop = start + size) maps to
  ``floor(e * n_to / n_from + 1/2)`` (round half up), the same rule for starts and stops, so
  boxes that do not overlap on one grid do not overlap on the other, and a raw box covers the
  working box's physical region up to half a raw voxel at each face; a box that would vanish
  keeps one voxel;
- labels map by nearest voxel centre: target voxel ``i`` takes source voxel
  ``floor((i + 1/2) * n_from / n_to)``; images by linear interpolation at the same centres.

Examples
--------
>>> from medtrust.active import Patch
>>> from medtrust.active.spacing import box_between, working_shape
>>> working_shape((10, 64, 64), (1.0, 0.5, 0.5), (2.0, 1.0, 1.0))
(5, 32, 32)
>>> box_between(Patch("a", (1, 8, 8), (2, 16, 16)), (5, 32, 32), (10, 64, 64))
Patch(image_id='a', start=(2, 16, 16), size=(4, 32, 32))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from medtrust.active._common import as_triple
from medtrust.active.patch import Patch
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = [
    "box_between",
    "map_edge",
    "resample_image",
    "resample_labels",
    "working_shape",
]


def _spacing(v: Any, name: str) -> tuple[float, float, float]:
    try:
        vals = [float(x) for x in v]
    except TypeError as e:
        raise InvalidArgumentError(f"{name} must be 3 positive numbers, got {v!r}") from e
    if len(vals) != 3 or not all(math.isfinite(x) and x > 0 for x in vals):
        raise InvalidArgumentError(f"{name} must be 3 positive numbers, got {v!r}")
    return (vals[0], vals[1], vals[2])


def working_shape(
    shape: Sequence[int], spacing: Sequence[float], target_spacing: Sequence[float]
) -> tuple[int, int, int]:
    """Shape of an image of ``shape`` and ``spacing`` resampled to ``target_spacing``.

    Parameters
    ----------
    shape
        Raw array-order shape.
    spacing, target_spacing
        Raw and target voxel sizes in the same order as ``shape``.

    Returns
    -------
    tuple of int
        ``max(1, floor(n * s / t + 1/2))`` per axis.

    Examples
    --------
    >>> working_shape((3, 7, 8), (3.0, 1.0, 1.0), (1.5, 2.0, 1.0))
    (6, 4, 8)
    """
    shp = as_triple(tuple(shape), "shape")
    sp = _spacing(spacing, "spacing")
    tg = _spacing(target_spacing, "target_spacing")
    out = [max(1, math.floor(n * s / t + 0.5)) for n, s, t in zip(shp, sp, tg)]
    return (out[0], out[1], out[2])


def map_edge(edge: int, n_from: int, n_to: int) -> int:
    """Box edge ``edge`` of an axis of ``n_from`` voxels on an axis of ``n_to`` voxels.

    Examples
    --------
    >>> map_edge(3, 10, 4), map_edge(5, 10, 4), map_edge(10, 10, 4)
    (1, 2, 4)
    """
    return min(math.floor(edge * n_to / n_from + 0.5), n_to)


def box_between(patch: Patch, shape_from: Sequence[int], shape_to: Sequence[int]) -> Patch:
    """The box ``patch`` of a grid of ``shape_from`` on a grid of ``shape_to`` (same view).

    Parameters
    ----------
    patch
        A box on the first grid.
    shape_from, shape_to
        Array-order shapes of the two grids (the working and the raw grid, or back).

    Returns
    -------
    Patch
        Edges mapped by :func:`map_edge`; at least one voxel per axis, inside ``shape_to``.

    Examples
    --------
    >>> box_between(Patch("a", (0, 0, 3), (1, 1, 2)), (1, 1, 10), (1, 1, 4))
    Patch(image_id='a', start=(0, 0, 1), size=(1, 1, 1))
    """
    src = as_triple(tuple(shape_from), "shape_from")
    dst = as_triple(tuple(shape_to), "shape_to")
    if not patch.within(src):
        raise ShapeMismatchError(f"{patch} lies outside a grid of shape {src}")
    start, size = [], []
    for a, b, nf, nt in zip(patch.start, patch.stop, src, dst):
        lo, hi = map_edge(a, nf, nt), map_edge(b, nf, nt)
        if hi <= lo:  # a box thinner than a voxel of the other grid keeps one voxel
            lo = min(lo, nt - 1)
            hi = lo + 1
        start.append(lo)
        size.append(hi - lo)
    return Patch(patch.image_id, tuple(start), tuple(size))  # type: ignore[arg-type]


def _centres(n_from: int, n_to: int) -> np.ndarray:
    """Source coordinates (voxel units) of the target voxel centres of one axis."""
    return (np.arange(n_to) + 0.5) * (n_from / n_to) - 0.5


def resample_labels(labels: Any, shape: Sequence[int]) -> np.ndarray:
    """An integer label map resampled to ``shape`` by nearest voxel centre.

    Parameters
    ----------
    labels
        ``[Z, Y, X]`` integer map.
    shape
        Target array-order shape (same field of view).

    Returns
    -------
    numpy.ndarray
        ``labels[floor((i + 1/2) * n_from / n_to), ...]`` per target voxel (same dtype).

    Examples
    --------
    >>> import numpy as np
    >>> resample_labels(np.array([[[0, 1, 2]]]), (1, 1, 6)).tolist()
    [[[0, 0, 1, 1, 2, 2]]]
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ShapeMismatchError(f"labels must be [Z, Y, X], got shape {lab.shape}")
    dst = as_triple(tuple(shape), "shape")
    idx = [
        np.minimum(np.floor((np.arange(nt) + 0.5) * nf / nt).astype(np.intp), nf - 1)
        for nf, nt in zip(lab.shape, dst)
    ]
    return np.ascontiguousarray(lab[np.ix_(*idx)])


def resample_image(image: Any, shape: Sequence[int]) -> np.ndarray:
    """A ``[C, Z, Y, X]`` image resampled to ``shape`` by linear interpolation (float32).

    Voxel centres are mapped as in :func:`resample_labels`; samples beyond the outer centres
    take the border value.

    Parameters
    ----------
    image
        ``[C, Z, Y, X]`` array.
    shape
        Target spatial shape.

    Returns
    -------
    numpy.ndarray
        float32 ``[C, *shape]``.

    Examples
    --------
    >>> import numpy as np
    >>> resample_image(np.array([[[[0.0, 2.0]]]]), (1, 1, 4)).round(2).tolist()
    [[[[0.0, 0.5, 1.5, 2.0]]]]
    """
    from scipy.ndimage import map_coordinates

    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 4:
        raise ShapeMismatchError(f"image must be [C, Z, Y, X], got shape {img.shape}")
    dst = as_triple(tuple(shape), "shape")
    if tuple(img.shape[1:]) == dst:
        return img.copy()
    axes = [_centres(nf, nt) for nf, nt in zip(img.shape[1:], dst)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    out = np.empty((img.shape[0], *dst), np.float32)
    for c in range(img.shape[0]):
        out[c] = map_coordinates(img[c], coords, order=1, mode="nearest")
    return out
