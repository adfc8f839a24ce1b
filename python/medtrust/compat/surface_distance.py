"""DeepMind's ``surface-distance`` package (``import surface_distance``) on medtrust's kernels.

Change ``import surface_distance`` to ``from medtrust.compat import surface_distance`` (or
call :func:`patch`). Same functions, ``(mask_gt, mask_pred)`` argument order, dict keys,
surfel convention (area-weighted surface elements on the grid of voxel corners, from the
neighbour-code tables; contour length in 2-D) and sort order (by distance, then area).
:func:`compute_surface_distances` runs medtrust's exact anisotropic Euclidean kernel in Rust
instead of two dense ``distance_transform_edt`` calls.

Empty masks follow DeepMind's definitions (its numpy arithmetic, without the ``np.Inf`` /
``np.NaN`` aliases that numpy 2 removed, so these cases no longer crash):

- both empty: four empty arrays; robust Hausdorff ``inf``; averages ``(nan, nan)``; overlaps
  ``(nan, nan)``; surface Dice ``nan``; volumetric Dice ``nan``;
- one empty: the distances of the other surface are ``inf``; the directed averages are
  ``(inf, nan)`` in DeepMind's order (gt->pred, pred->gt) when the prediction is empty.

Examples
--------
>>> import numpy as np
>>> gt = np.zeros((8, 8, 8), bool); gt[2:6, 2:6, 2:6] = True
>>> pred = np.zeros_like(gt); pred[2:6, 2:6, 3:7] = True
>>> d = compute_surface_distances(gt, pred, spacing_mm=(1, 1, 2))
>>> sorted(d)
['distances_gt_to_pred', 'distances_pred_to_gt', 'surfel_areas_gt', 'surfel_areas_pred']
>>> float(compute_robust_hausdorff(d, 100))
2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from medtrust import _native
from medtrust.exceptions import DTypeError, InvalidArgumentError, ShapeMismatchError

__all__ = [
    "compute_average_surface_distance",
    "compute_dice_coefficient",
    "compute_robust_hausdorff",
    "compute_surface_dice_at_tolerance",
    "compute_surface_distances",
    "compute_surface_overlap_at_tolerance",
    "patch",
    "patched",
    "unpatch",
]

_KEYS = ("distances_gt_to_pred", "distances_pred_to_gt", "surfel_areas_gt", "surfel_areas_pred")


def _bool_mask(name: str, a: Any) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise DTypeError(f"The argument {name!r} should be a numpy array, not a {type(a)}")
    if a.dtype != bool:
        raise DTypeError(
            f"The argument {name!r} should be a numpy array of type bool, not {a.dtype}"
        )
    return np.ascontiguousarray(a)


def compute_surface_distances(
    mask_gt: Any, mask_pred: Any, spacing_mm: Any
) -> dict[str, np.ndarray]:
    """Distances between the surfaces of two boolean masks (2-D or 3-D), DeepMind's dict.

    Parameters
    ----------
    mask_gt, mask_pred
        Boolean numpy masks of one shape.
    spacing_mm
        Voxel spacing, one value per axis (array-axis order).

    Returns
    -------
    dict
        ``distances_gt_to_pred``, ``distances_pred_to_gt`` (sorted, mm), ``surfel_areas_gt``,
        ``surfel_areas_pred`` (mm^2, or mm in 2-D).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> compute_surface_distances(m, m, (1.0, 1.0))["surfel_areas_gt"].sum()
    np.float64(6.82842712474619)
    """
    gt = _bool_mask("mask_gt", mask_gt)
    pred = _bool_mask("mask_pred", mask_pred)
    sp = [float(s) for s in np.asarray(spacing_mm, dtype=np.float64).reshape(-1)]
    if not gt.ndim == pred.ndim == len(sp):
        raise ShapeMismatchError(
            f"The arguments must be of compatible shape. Got mask_gt with {gt.ndim} dimensions "
            f"({gt.shape}) and mask_pred with {pred.ndim} dimensions ({pred.shape}), while the "
            f"spacing_mm was {len(sp)} elements."
        )
    if gt.ndim not in (2, 3):
        raise InvalidArgumentError(f"Only 2D and 3D masks are supported, not {gt.ndim}D.")
    if gt.shape != pred.shape:
        raise ShapeMismatchError(f"mask_gt {gt.shape} and mask_pred {pred.shape} differ in shape")
    if not all(np.isfinite(s) and s > 0 for s in sp):
        raise InvalidArgumentError(f"spacing_mm values must be finite and > 0, got {sp}")
    d_pg, w_p, d_gp, w_g, _, _ = _native.surface_distances(pred, gt, sp, "surfels")
    return dict(zip(_KEYS, (d_gp, d_pg, w_g, w_p)))


def _parts(sd: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    try:
        return tuple(np.asarray(sd[k]) for k in _KEYS)
    except (KeyError, TypeError) as e:
        raise InvalidArgumentError(
            f"surface_distances must be the dict of compute_surface_distances ({_KEYS}): {e}"
        ) from e


def compute_average_surface_distance(surface_distances: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """Area-weighted mean distances: (gt to pred, pred to gt).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> tuple(map(float, compute_average_surface_distance(compute_surface_distances(m, m, (1, 1)))))
    (0.0, 0.0)
    """
    d_gp, d_pg, w_g, w_p = _parts(surface_distances)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(d_gp * w_g) / np.sum(w_g), np.sum(d_pg * w_p) / np.sum(w_p)


def _directed_percentile(d: np.ndarray, w: np.ndarray, percent: float) -> Any:
    if len(d) == 0:
        return np.inf
    cum = np.cumsum(w) / np.sum(w)
    return d[min(int(np.searchsorted(cum, percent / 100.0)), len(d) - 1)]


def compute_robust_hausdorff(surface_distances: dict[str, np.ndarray], percent: float) -> Any:
    """Hausdorff distance at ``percent`` of the surface area (100: the maximum), in mm.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros((4, 4), bool)
    >>> compute_robust_hausdorff(compute_surface_distances(z, z, (1, 1)), 95)
    inf
    """
    d_gp, d_pg, w_g, w_p = _parts(surface_distances)
    return max(_directed_percentile(d_gp, w_g, percent), _directed_percentile(d_pg, w_p, percent))


def compute_surface_overlap_at_tolerance(
    surface_distances: dict[str, np.ndarray], tolerance_mm: float
) -> tuple[Any, Any]:
    """Fraction of each surface's area within ``tolerance_mm`` of the other: (gt, pred).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> tuple(map(float, compute_surface_overlap_at_tolerance(
    ...     compute_surface_distances(m, m, (1, 1)), 0.0)))
    (1.0, 1.0)
    """
    d_gp, d_pg, w_g, w_p = _parts(surface_distances)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            np.sum(w_g[d_gp <= tolerance_mm]) / np.sum(w_g),
            np.sum(w_p[d_pg <= tolerance_mm]) / np.sum(w_p),
        )


def compute_surface_dice_at_tolerance(
    surface_distances: dict[str, np.ndarray], tolerance_mm: float
) -> Any:
    """Surface Dice: area of both surfaces within ``tolerance_mm``, over their total area.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> float(compute_surface_dice_at_tolerance(compute_surface_distances(m, m, (1, 1)), 1.0))
    1.0
    """
    d_gp, d_pg, w_g, w_p = _parts(surface_distances)
    good = np.sum(w_g[d_gp <= tolerance_mm]) + np.sum(w_p[d_pg <= tolerance_mm])
    with np.errstate(invalid="ignore", divide="ignore"):
        return good / (np.sum(w_g) + np.sum(w_p))


def compute_dice_coefficient(mask_gt: Any, mask_pred: Any) -> Any:
    """Volumetric Dice of two boolean masks (NaN when both are empty), one Rust pass.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([True, True, False]); b = np.array([True, False, False])
    >>> round(float(compute_dice_coefficient(a, b)), 4)
    0.6667
    """
    gt, pred = np.asarray(mask_gt), np.asarray(mask_pred)
    if gt.dtype != bool or pred.dtype != bool or gt.shape != pred.shape:
        # DeepMind's arithmetic on whatever it is given (broadcasting included).
        volume_sum = gt.sum() + pred.sum()
        return np.nan if volume_sum == 0 else 2 * (gt & pred).sum() / volume_sum
    tp, vp, vg, _, _ = _native.confusion_counts(
        np.ascontiguousarray(pred).reshape(-1), np.ascontiguousarray(gt).reshape(-1), 2
    )
    volume_sum = np.int64(vp[1]) + np.int64(vg[1])
    if volume_sum == 0:
        return np.nan
    return 2 * np.int64(tp[1]) / volume_sum


# -- patching --------------------------------------------------------------------------------------
_NAMES = (
    "compute_surface_distances",
    "compute_average_surface_distance",
    "compute_robust_hausdorff",
    "compute_surface_overlap_at_tolerance",
    "compute_surface_dice_at_tolerance",
    "compute_dice_coefficient",
)


def patch(names: Sequence[str] | None = None) -> list[str]:
    """Make ``surface_distance`` answer with the shims; returns the replaced names.

    Examples
    --------
    >>> import surface_distance
    >>> "surface_distance.compute_surface_distances" in patch()
    True
    >>> surface_distance.compute_surface_distances is compute_surface_distances
    True
    >>> len(unpatch())
    12
    """
    from medtrust.compat import _patching

    chosen = list(_NAMES if names is None else names)
    unknown = sorted(set(chosen) - set(_NAMES))
    if unknown:
        raise InvalidArgumentError(
            f"surface_distance names without a shim: {unknown}; choose from {_NAMES}"
        )
    here = globals()
    targets = {n: ["surface_distance", "surface_distance.metrics"] for n in chosen}
    return _patching.apply("surface_distance", {n: here[n] for n in chosen}, targets)


def unpatch() -> list[str]:
    """Restore every name :func:`patch` replaced; returns them."""
    from medtrust.compat import _patching

    return _patching.restore("surface_distance")


def patched(names: Sequence[str] | None = None) -> AbstractContextManager[list[str]]:
    """Context manager: :func:`patch` on entry, :func:`unpatch` on exit (yields the report)."""
    from medtrust.compat import _patching

    return _patching.scoped(patch, unpatch, names)
