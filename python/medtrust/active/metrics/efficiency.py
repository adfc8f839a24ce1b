"""Foreground efficiency (FG-Eff) of an AL strategy (nnActive definition).

FG-Eff is ``b`` of the fit ``Dice(x) = -a exp(-b (x - x0)) + c`` with ``x`` the fraction of the
pool's foreground voxels inside annotated patches, ``c`` the full-data Dice, ``x0`` the
smallest ``x`` and ``a = c - Dice(x0)``.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.metrics import fg_efficiency
>>> x = np.array([0.0, 1.0]); d = np.array([0.5, 1 - 0.5 * np.exp(-2.0)])
>>> round(fg_efficiency(x, d, full_dice=1.0).b, 6)
2.0
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust._arrays import as_float_1d, check_nonempty, check_same_length
from medtrust.active.metrics.budget import _finite
from medtrust.exceptions import NaNInputError, UndefinedMetricWarning

if TYPE_CHECKING:
    import polars as pl

__all__ = ["FGEfficiency", "fg_efficiency"]


@dataclass(frozen=True)
class FGEfficiency:
    """Result of :func:`fg_efficiency`.

    Attributes
    ----------
    b
        The fitted rate (FG-Eff); NaN when undefined.
    b_std
        Standard error of ``b`` from the fit's covariance.
    a, c, x0, dice_x0
        The fixed curve parameters.
    n_points
        Number of (x, Dice) points used.
    status
        ``"ok"``, ``"too_few_points"``, ``"no_gap"`` (``a <= 0``: Dice(x0) already reaches
        the full-data Dice) or ``"fit_failed"``.
    """

    b: float
    b_std: float
    a: float
    c: float
    x0: float
    dice_x0: float
    n_points: int
    status: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict.

        Returns
        -------
        dict
            Every field by name (``b``, ``b_std``, ``a``, ``c``, ``x0``, ``dice_x0``,
            ``n_points``, ``status``).
        """
        return asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row with every field.

        Returns
        -------
        polars.DataFrame
            One row, the columns of :meth:`to_dict`.
        """
        import polars as pl

        return pl.DataFrame([self.to_dict()])

    def curve(self, x: Any) -> np.ndarray:
        """The fitted curve at ``x``.

        Parameters
        ----------
        x : array-like
            Foreground fractions to evaluate the curve at (any shape).

        Returns
        -------
        numpy.ndarray
            ``-a exp(-b (x - x0)) + c``, float, same shape as ``x`` (NaN everywhere when
            ``b`` is NaN).
        """
        xs = np.asarray(x, dtype=float)
        return -self.a * np.exp(-self.b * (xs - self.x0)) + self.c


def fg_efficiency(
    x: Any,
    dice: Any,
    *,
    full_dice: float,
    x0: float | None = None,
    dice_x0: float | None = None,
) -> FGEfficiency:
    """Foreground efficiency: rate ``b`` of ``Dice(x) = -a exp(-b (x - x0)) + c``.

    Parameters
    ----------
    x
        Fraction of the pool's foreground voxels inside annotated patches, per point (all
        rounds and seeds of one strategy may be pooled).
    dice
        Mean foreground Dice per point.
    full_dice
        ``c``: the Dice of a model trained on the fully labelled pool.
    x0, dice_x0
        Start of the curve; default ``x0 = min(x)`` and ``dice_x0`` the mean Dice of the points
        at ``x0``. Pass the values shared by all strategies of a setting (the starting budget)
        so their ``b`` are comparable.

    Returns
    -------
    FGEfficiency
        ``b`` (higher = Dice approaches full-data Dice with less foreground); NaN with an
        :class:`~medtrust.exceptions.UndefinedMetricWarning` when fewer than two distinct ``x``
        or when ``dice_x0 >= full_dice``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0]); d = np.array([0.5, 1 - 0.5 * np.exp(-2.0)])
    >>> round(fg_efficiency(x, d, full_dice=1.0).b, 6)
    2.0
    """
    from scipy.optimize import curve_fit

    xs = as_float_1d(x, "x")
    ds = as_float_1d(dice, "dice")
    check_same_length(x=xs, dice=ds)
    check_nonempty(xs, "x")
    _finite(xs, "x")
    _finite(ds, "dice")
    c = float(full_dice)
    if not math.isfinite(c):
        raise NaNInputError("full_dice must be finite")
    x0v = float(xs.min()) if x0 is None else float(x0)
    d0 = float(ds[xs == xs.min()].mean()) if dice_x0 is None else float(dice_x0)
    a = c - d0

    def result(b: float, b_std: float, status: str) -> FGEfficiency:
        return FGEfficiency(b, b_std, a, c, x0v, d0, len(xs), status)

    if len(np.unique(xs)) < 2:
        warnings.warn(
            "fg_efficiency needs >= 2 distinct x values; returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "too_few_points")
    if a <= 0:
        warnings.warn(
            f"fg_efficiency undefined: Dice at x0 ({d0:.4g}) >= full-data Dice ({c:.4g}); "
            "returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "no_gap")
    # Data-driven start: b from the point farthest from x0 (log-linearised model).
    gaps = np.clip((c - ds) / a, 1e-6, None)
    far = int(np.argmax(xs - x0v))
    b_start = max(-math.log(gaps[far]) / max(xs[far] - x0v, 1e-12), 1e-3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, pcov = curve_fit(
                lambda xx, b: -a * np.exp(-b * (xx - x0v)) + c, xs, ds, p0=[b_start], maxfev=10_000
            )
    except (RuntimeError, ValueError):
        warnings.warn(
            "fg_efficiency: curve fit did not converge; returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "fit_failed")
    var = float(pcov[0, 0])
    return result(
        float(popt[0]), math.sqrt(var) if math.isfinite(var) and var >= 0 else math.nan, "ok"
    )
