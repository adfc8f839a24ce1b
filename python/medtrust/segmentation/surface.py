"""Surface metrics (HD, HD95 or any percentile, ASSD, NSD) from distances computed once.

:func:`surface_distances` crops both masks to their joint bounding box, finds each surface,
computes the exact Euclidean distance (anisotropic, in Rust) of every surface element to the
other surface and returns the sorted surface-to-surface distances; every metric derives from
them without recomputing. The distances are searched outward from each element (only ~1 % of
a volume lies on the surfaces), with the separable distance transform taking over plane by
plane where the surfaces lie far apart; both give scipy's ``distance_transform_edt`` values.

Spacing is required (mm per array axis, in array-axis order); ``medtrust.io.load_nifti``
returns it with the array.

Two surface conventions (argument ``surface``)
----------------------------------------------
===========  ================================================  ===================================
             ``"voxels"`` (default)                            ``"surfels"``
===========  ================================================  ===================================
elements     border voxels: foreground voxels with a face      surface elements on the grid of
             neighbour in the background (or outside the       voxel corners, from a marching-cubes
             image)                                            triangulation of each 2x2x2 cell
weight       1 per voxel                                       area in mm^2 (contour length in mm
                                                               in 2-D)
HD95         ``max`` over both directions of the linearly      ``max`` over both directions of the
             interpolated 95th percentile (numpy)              first distance whose cumulative
                                                               area reaches 95 % (no interpolation)
NSD          fraction of border voxels within the tolerance    fraction of surface area within the
                                                               tolerance
peer         MONAI ``compute_surface_dice`` /                  DeepMind ``surface-distance``;
             ``compute_hausdorff_distance`` (default)          MONAI with ``use_subvoxels=True``
===========  ================================================  ===================================

With anisotropic spacing they differ: a border voxel on a face across the coarse axis stands for
a larger area than one across a fine axis, and only ``"surfels"`` weights it so.

Undefined cases
---------------
- both masks empty: NaN for every metric (``empty="nan"``, default) or a perfect score
  (``empty="perfect"``: distances 0, NSD 1);
- one mask empty: NSD = 0; HD, every percentile and ASSD follow ``one_empty``: "inf" (default,
  the same for every percentile), "diagonal" (the image diagonal in mm) or "nan".

Examples
--------
>>> import numpy as np
>>> from medtrust.segmentation import surface_distances
>>> a = np.zeros((8, 8, 10), bool); a[2:6, 2:6, 2:6] = True
>>> b = np.zeros_like(a); b[2:6, 2:6, 3:7] = True   # shifted by one voxel along axis 2
>>> d = surface_distances(a, b, spacing=(1.0, 1.0, 2.0))
>>> d.hd(), round(d.nsd(1.0), 4)
(2.0, 0.7143)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    as_int,
    as_label_map,
    as_real,
    as_spacing,
    check_choice,
    check_same_shape,
)
from medtrust.exceptions import InvalidArgumentError
from medtrust.segmentation.policies import (
    EMPTY_SURFACE_POLICIES,
    ONE_EMPTY_POLICIES,
    SURFACES,
    OneEmptyPolicy,
    Surface,
    SurfaceEmptyPolicy,
    check_empty,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "EMPTY_SURFACE_POLICIES",
    "ONE_EMPTY_POLICIES",
    "SURFACES",
    "SurfaceDistances",
    "assd",
    "hd",
    "hd95",
    "nsd",
    "surface_distances",
]


@dataclass(frozen=True)
class SurfaceDistances:
    """Sorted surface-to-surface distances (mm) of one pair of masks, with element weights.

    ``status`` is "ok", "pred_empty", "target_empty" or "both_empty".

    Attributes
    ----------
    pred_to_target
        Sorted distances (mm) from each prediction surface element to the target surface.
    pred_weights
        Weight of each of those elements (1 for voxels, the area in mm^2 for surfels).
    target_to_pred
        Sorted distances (mm) from each target surface element to the prediction surface.
    target_weights
        Weight of each of those elements.
    surface
        ``"voxels"`` or ``"surfels"``: how the surfaces were sampled.
    spacing
        Voxel size per array axis (mm).
    shape
        Shape of the masks.
    status
        ``"ok"``, ``"pred_empty"``, ``"target_empty"`` or ``"both_empty"``.
    one_empty
        Value when exactly one mask is empty: ``"inf"`` (default), ``"diagonal"`` (the image
        diagonal in ``spacing`` units) or ``"nan"``.
    empty
        Value when both masks are empty: ``"nan"`` (default, undefined) or ``"perfect"`` (the best
        value).
    """

    pred_to_target: np.ndarray
    pred_weights: np.ndarray
    target_to_pred: np.ndarray
    target_weights: np.ndarray
    surface: Surface
    spacing: tuple[float, ...]
    shape: tuple[int, ...]
    status: str
    one_empty: OneEmptyPolicy = "inf"
    empty: SurfaceEmptyPolicy = "nan"
    _cum: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    # -- undefined cases ----------------------------------------------------------------------
    def _undefined_distance(self) -> float | None:
        if self.status == "both_empty":
            return 0.0 if self.empty == "perfect" else math.nan
        if self.status in ("pred_empty", "target_empty"):
            if self.one_empty == "inf":
                return math.inf
            if self.one_empty == "nan":
                return math.nan
            return self.diagonal
        return None

    @property
    def diagonal(self) -> float:
        """Length of the image diagonal in mm (the "diagonal" policy value)."""
        return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(self.shape, self.spacing))))

    # -- metrics ------------------------------------------------------------------------------
    def hd(self) -> float:
        """Hausdorff distance: the largest distance in either direction.

        Returns
        -------
        float
            HD in mm (0 = identical surfaces); ``one_empty`` / ``empty`` decide the value for empty
            masks.
        """
        u = self._undefined_distance()
        if u is not None:
            return u
        return float(max(self.pred_to_target[-1], self.target_to_pred[-1]))

    def _directed_percentile(self, d: np.ndarray, w: np.ndarray, key: str, q: float) -> float:
        if self.surface == "voxels":
            return float(np.percentile(d, q))
        cum = self._cum.get(key)
        if cum is None:
            cum = np.cumsum(w) / np.sum(w)
            self._cum[key] = cum
        idx = int(np.searchsorted(cum, q / 100.0))
        return float(d[min(idx, len(d) - 1)])

    def hd95(self, percentile: float = 95.0) -> float:
        """Robust Hausdorff distance at ``percentile`` (default 95) of each direction, max of two.

        "voxels": numpy's linear interpolation over border voxels (MONAI); "surfels": the first
        distance whose cumulative area fraction reaches the percentile (DeepMind).

        Parameters
        ----------
        percentile
            Percentile of each direction's distances, in (0, 100].

        Returns
        -------
        float
            The robust HD in mm (lower is better).
        """
        percentile = as_real(percentile, "percentile", lo=0.0, hi=100.0)
        u = self._undefined_distance()
        if u is not None:
            return u
        a = self._directed_percentile(self.pred_to_target, self.pred_weights, "p", percentile)
        b = self._directed_percentile(self.target_to_pred, self.target_weights, "t", percentile)
        return max(a, b)

    def assd(self) -> float:
        """Average symmetric surface distance: weighted mean over both surfaces' elements.

        Returns
        -------
        float
            ASSD in mm (lower is better).
        """
        u = self._undefined_distance()
        if u is not None:
            return u
        w = np.concatenate([self.pred_weights, self.target_weights])
        d = np.concatenate([self.pred_to_target, self.target_to_pred])
        return float(np.sum(d * w) / np.sum(w))

    def mean_distances(self) -> tuple[float, float]:
        """Directed (weighted) mean distances: (pred to target, target to pred).

        Returns
        -------
        tuple of float
            (pred to target, target to pred) mean distances in mm.
        """
        u = self._undefined_distance()
        if u is not None:
            return u, u
        return (
            float(np.sum(self.pred_to_target * self.pred_weights) / np.sum(self.pred_weights)),
            float(np.sum(self.target_to_pred * self.target_weights) / np.sum(self.target_weights)),
        )

    def nsd(self, tolerance: float) -> float:
        """Normalized surface Dice: weighted fraction of both surfaces within ``tolerance`` mm.

        Parameters
        ----------
        tolerance
            Distance in mm (``spacing`` units) within which a surface element counts as matched.

        Returns
        -------
        float
            NSD in [0, 1] (higher is better); 0 when exactly one mask is empty, ``empty`` when both
            are.
        """
        tolerance = as_real(tolerance, "tolerance", lo=0.0)
        if self.status == "both_empty":
            return 1.0 if self.empty == "perfect" else math.nan
        if self.status != "ok":
            return 0.0
        kp = np.searchsorted(self.pred_to_target, tolerance, side="right")
        kt = np.searchsorted(self.target_to_pred, tolerance, side="right")
        if self.surface == "voxels":
            return float((kp + kt) / (len(self.pred_to_target) + len(self.target_to_pred)))
        good = np.sum(self.pred_weights[:kp]) + np.sum(self.target_weights[:kt])
        return float(good / (np.sum(self.pred_weights) + np.sum(self.target_weights)))

    def to_frame(self) -> pl.DataFrame:
        """One row per surface element: direction, distance (mm), weight.

        ``direction`` is ``"pred_to_target"`` or ``"target_to_pred"``; rows are sorted by
        distance within a direction.

        Returns
        -------
        polars.DataFrame
            Columns ``direction, distance, weight``.
        """
        import polars as pl

        n_p, n_t = len(self.pred_to_target), len(self.target_to_pred)
        return pl.DataFrame(
            {
                "direction": ["pred_to_target"] * n_p + ["target_to_pred"] * n_t,
                "distance": np.concatenate([self.pred_to_target, self.target_to_pred]).astype(
                    np.float64
                ),
                "weight": np.concatenate([self.pred_weights, self.target_weights]).astype(
                    np.float64
                ),
            },
            schema={"direction": pl.Utf8, "distance": pl.Float64, "weight": pl.Float64},
        )

    def to_dict(self, tolerance: float | None = None, percentile: float = 95.0) -> dict[str, Any]:
        """hd, hd<percentile>, assd (and nsd when a tolerance is given), status.

        Parameters
        ----------
        tolerance
            NSD tolerance in mm (None: no ``nsd`` entry).
        percentile
            Percentile of each direction's distances, in (0, 100].

        Returns
        -------
        dict
            ``hd``, ``hd<percentile>``, ``assd``, optionally ``nsd``, and ``status``.
        """
        d: dict[str, Any] = {
            "hd": self.hd(),
            f"hd{percentile:g}": self.hd95(percentile),
            "assd": self.assd(),
            "status": self.status,
            "surface": self.surface,
        }
        if tolerance is not None:
            d["nsd"] = self.nsd(tolerance)
        return d


def _mask(x: Any, name: str, label: int | None) -> np.ndarray:
    a = as_label_map(x, name)
    if label is not None and not isinstance(label, bool):
        as_int(label, "label", lo=0, hi=2**63 - 1)
    if a.dtype == bool:
        if label not in (None, 1, True):
            raise InvalidArgumentError(f"{name} is a boolean mask; label must be None or 1")
        return a
    return np.ascontiguousarray(a != 0 if label is None else a == label)


def surface_distances(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    label: int | None = None,
    surface: Surface = "voxels",
    one_empty: OneEmptyPolicy = "inf",
    empty: SurfaceEmptyPolicy = "nan",
) -> SurfaceDistances:
    """Surface distances between a prediction and a reference, computed once.

    Parameters
    ----------
    pred, target
        Boolean masks, or label maps of one shape (2-D or 3-D).
    spacing
        Voxel size in mm per array axis, in array-axis order (required).
    label
        Class to compare in label maps (default: every non-zero label is foreground).
    surface
        "voxels" (border voxels, MONAI's default) or "surfels" (area-weighted surface
        elements, DeepMind's); see the module docs.
    one_empty, empty
        Policies for one or two empty masks (module docs).

    Returns
    -------
    SurfaceDistances
        Both directions' sorted distances and weights, from which every surface metric is read
        without recomputation.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((6, 6), bool); a[1:4, 1:5] = True
    >>> surface_distances(a, a, spacing=(1.0, 1.0)).hd()
    0.0
    """
    check_choice(surface, "surface", SURFACES)
    check_choice(one_empty, "one_empty", ONE_EMPTY_POLICIES)
    empty = check_empty(empty, EMPTY_SURFACE_POLICIES)
    p = _mask(pred, "pred", label)
    t = _mask(target, "target", label)
    shape = check_same_shape(pred=p, target=t)
    if len(shape) not in (2, 3):
        raise InvalidArgumentError(
            f"pred and target must be 2-D or 3-D masks for surface metrics, got shape {shape}"
        )
    sp = as_spacing(spacing, len(shape))
    dp, wp, dt, wt, pe, te = _native.surface_distances(p, t, list(sp), surface)
    status = "both_empty" if pe and te else "pred_empty" if pe else "target_empty" if te else "ok"
    return SurfaceDistances(dp, wp, dt, wt, surface, sp, tuple(shape), status, one_empty, empty)


def _pair(
    pred: Any,
    target: Any,
    spacing: Any,
    label: int | None,
    surface: Surface,
    one_empty: OneEmptyPolicy,
    empty: SurfaceEmptyPolicy,
) -> SurfaceDistances:
    # The four scalar metrics spell their keywords out (the API contract) and share this call.
    return surface_distances(
        pred,
        target,
        spacing=spacing,
        label=label,
        surface=surface,
        one_empty=one_empty,
        empty=empty,
    )


def hd(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    label: int | None = None,
    surface: Surface = "voxels",
    one_empty: OneEmptyPolicy = "inf",
    empty: SurfaceEmptyPolicy = "nan",
) -> float:
    """Hausdorff distance in mm (keyword arguments as :func:`surface_distances`).

    Parameters
    ----------
    pred
        Predicted boolean mask or label map (2-D or 3-D).
    target
        Reference mask or label map of the same shape.
    spacing
        Voxel size per array axis, in array-axis order (mm for medical images; required).
    label
        The class whose masks are compared (``pred == label`` vs ``target == label``); None: every
        non-zero label is foreground.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).
    one_empty
        Value when exactly one mask is empty: ``"inf"`` (default), ``"diagonal"`` (the image
        diagonal in ``spacing`` units) or ``"nan"``.
    empty
        Value when both masks are empty: ``"nan"`` (default, undefined) or ``"perfect"`` (the best
        value).

    Returns
    -------
    float
        Hausdorff distance in mm (lower is better); ``inf`` by default when exactly one mask is
        empty, NaN when both are.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5), bool); a[1:3, 1:3] = True
    >>> b = np.zeros((5, 5), bool); b[1:3, 2:4] = True
    >>> hd(a, b, spacing=(1.0, 0.5))
    0.5
    """
    return _pair(pred, target, spacing, label, surface, one_empty, empty).hd()


def hd95(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    percentile: float = 95.0,
    label: int | None = None,
    surface: Surface = "voxels",
    one_empty: OneEmptyPolicy = "inf",
    empty: SurfaceEmptyPolicy = "nan",
) -> float:
    """Robust Hausdorff distance at ``percentile`` (mm); see :meth:`SurfaceDistances.hd95`.

    The other keyword arguments are those of :func:`surface_distances`.

    Parameters
    ----------
    pred
        Predicted boolean mask or label map (2-D or 3-D).
    target
        Reference mask or label map of the same shape.
    spacing
        Voxel size per array axis, in array-axis order (mm for medical images; required).
    label
        The class whose masks are compared (``pred == label`` vs ``target == label``); None: every
        non-zero label is foreground.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).
    one_empty
        Value when exactly one mask is empty: ``"inf"`` (default), ``"diagonal"`` (the image
        diagonal in ``spacing`` units) or ``"nan"``.
    empty
        Value when both masks are empty: ``"nan"`` (default, undefined) or ``"perfect"`` (the best
        value).
    percentile
        Percentile of each direction's distances, in (0, 100].

    Returns
    -------
    float
        Robust Hausdorff distance in mm (lower is better); empty masks as :func:`hd`.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5), bool); a[1:3, 1:3] = True
    >>> hd95(a, a, spacing=(1.0, 1.0))
    0.0
    """
    return _pair(pred, target, spacing, label, surface, one_empty, empty).hd95(percentile)


def assd(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    label: int | None = None,
    surface: Surface = "voxels",
    one_empty: OneEmptyPolicy = "inf",
    empty: SurfaceEmptyPolicy = "nan",
) -> float:
    """Average symmetric surface distance in mm (keyword arguments as :func:`surface_distances`).

    Parameters
    ----------
    pred
        Predicted boolean mask or label map (2-D or 3-D).
    target
        Reference mask or label map of the same shape.
    spacing
        Voxel size per array axis, in array-axis order (mm for medical images; required).
    label
        The class whose masks are compared (``pred == label`` vs ``target == label``); None: every
        non-zero label is foreground.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).
    one_empty
        Value when exactly one mask is empty: ``"inf"`` (default), ``"diagonal"`` (the image
        diagonal in ``spacing`` units) or ``"nan"``.
    empty
        Value when both masks are empty: ``"nan"`` (default, undefined) or ``"perfect"`` (the best
        value).

    Returns
    -------
    float
        Average symmetric surface distance in mm (lower is better); empty masks as :func:`hd`.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5), bool); a[1:3, 1:3] = True
    >>> assd(a, a, spacing=(1.0, 1.0))
    0.0
    """
    return _pair(pred, target, spacing, label, surface, one_empty, empty).assd()


def nsd(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    tolerance: float,
    label: int | None = None,
    surface: Surface = "voxels",
    one_empty: OneEmptyPolicy = "inf",
    empty: SurfaceEmptyPolicy = "nan",
) -> float:
    """Normalized surface Dice at ``tolerance`` mm (other keywords as :func:`surface_distances`).

    Parameters
    ----------
    pred
        Predicted boolean mask or label map (2-D or 3-D).
    target
        Reference mask or label map of the same shape.
    spacing
        Voxel size per array axis, in array-axis order (mm for medical images; required).
    label
        The class whose masks are compared (``pred == label`` vs ``target == label``); None: every
        non-zero label is foreground.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).
    one_empty
        Value when exactly one mask is empty: ``"inf"`` (default), ``"diagonal"`` (the image
        diagonal in ``spacing`` units) or ``"nan"``.
    empty
        Value when both masks are empty: ``"nan"`` (default, undefined) or ``"perfect"`` (the best
        value).
    tolerance
        Distance in mm (``spacing`` units) within which a surface element counts as matched.

    Returns
    -------
    float
        Normalized surface Dice in [0, 1] (higher is better); 0 when exactly one mask is empty, NaN
        (or 1 with ``empty='perfect'``) when both are.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5), bool); a[1:3, 1:3] = True
    >>> nsd(a, a, spacing=(1.0, 1.0), tolerance=1.0)
    1.0
    """
    return _pair(pred, target, spacing, label, surface, one_empty, empty).nsd(tolerance)
