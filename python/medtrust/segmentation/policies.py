"""One vocabulary for the undefined cases of segmentation metrics (overlap and surface alike).

``empty`` says what a metric is when *both* maps lack the class:

- ``"nan"``: undefined, left out of macro means (nanmean);
- ``"perfect"``: the best value of the metric (Dice = IoU = NSD = 1, distances 0): the two
  maps agree that the class is absent;
- ``"skip"`` (overlap metrics only): left out of ``per_class`` altogether.

``one_empty`` (surface distances only) says what a distance is when exactly one mask is empty:
``"inf"``, ``"diagonal"`` (the image diagonal in mm) or ``"nan"``. ``"one"``, the overlap
metrics' former name of ``"perfect"``, is still accepted with a :class:`DeprecationWarning`.

Examples
--------
>>> from medtrust.segmentation.policies import check_empty
>>> check_empty("perfect", OVERLAP_EMPTY_POLICIES)
'perfect'
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from medtrust._arrays import check_choice

__all__ = [
    "EMPTY_SURFACE_POLICIES",
    "ONE_EMPTY_POLICIES",
    "OVERLAP_EMPTY_POLICIES",
    "SURFACES",
    "EmptyPolicy",
    "OneEmptyPolicy",
    "Surface",
    "SurfaceEmptyPolicy",
    "check_empty",
]

#: Both maps lack the class (overlap metrics: all three; surface metrics: "nan", "perfect").
EmptyPolicy = Literal["nan", "perfect", "skip"]
#: Both masks empty, for surface metrics.
SurfaceEmptyPolicy = Literal["nan", "perfect"]
#: Exactly one mask empty, for surface distances.
OneEmptyPolicy = Literal["inf", "diagonal", "nan"]
#: Surface convention: border voxels (MONAI) or area-weighted surface elements (DeepMind).
Surface = Literal["voxels", "surfels"]

#: Values of ``empty=`` for the overlap metrics.
OVERLAP_EMPTY_POLICIES: tuple[str, ...] = ("nan", "perfect", "skip")
#: Values of ``empty=`` for the surface metrics.
EMPTY_SURFACE_POLICIES: tuple[str, ...] = ("nan", "perfect")
#: Values of ``one_empty=``.
ONE_EMPTY_POLICIES: tuple[str, ...] = ("inf", "diagonal", "nan")
#: Surface conventions.
SURFACES: tuple[str, ...] = ("voxels", "surfels")


def check_empty(empty: str, allowed: tuple[str, ...]) -> Any:
    """``empty`` checked against ``allowed``, with the deprecated ``"one"`` read as "perfect"."""
    if empty == "one":
        warnings.warn(
            'empty="one" is deprecated; use empty="perfect" (the same policy)',
            DeprecationWarning,
            stacklevel=3,
        )
        empty = "perfect"
    check_choice(empty, "empty", allowed)
    return empty
