"""Budget-curve metrics of one AL run: AUBC and final Dice (nnActive definitions).

- AUBC: trapezoid area under the mean-Dice-per-round curve, x axis normalised to [0, 1];
- final Dice: the last round's mean foreground Dice.

Examples
--------
>>> from medtrust.active.metrics import aubc, final_dice
>>> aubc([0.3, 0.5, 0.7]), final_dice([0.3, 0.5, 0.7])
(0.5, 0.7)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtrust._arrays import as_float_1d, check_nonempty, check_same_length
from medtrust.exceptions import InvalidArgumentError, NaNInputError

__all__ = ["aubc", "final_dice"]


def _finite(a: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(a)):
        raise NaNInputError(f"{name} has NaN or inf values")


def aubc(dice: Any, x: Any = None) -> float:
    """Area under the budget curve (trapezoid rule, x axis normalised to [0, 1]).

    Parameters
    ----------
    dice
        Mean Dice per round, in round order (one seed).
    x
        Budget per round (e.g. annotated voxels). Default: equally spaced rounds, so with five
        rounds AUBC = ``(d0/2 + d1 + d2 + d3 + d4/2) / 4``. Given budgets are min-max scaled.

    Returns
    -------
    float
        The area; a single round gives its Dice.

    Examples
    --------
    >>> aubc([0.5, 0.7, 0.9])
    0.7
    """
    d = as_float_1d(dice, "dice")
    check_nonempty(d, "dice")
    _finite(d, "dice")
    if len(d) == 1:
        return float(d[0])
    if x is None:
        xs = np.linspace(0.0, 1.0, len(d))
    else:
        xs = as_float_1d(x, "x")
        check_same_length(dice=d, x=xs)
        _finite(xs, "x")
        if np.any(np.diff(xs) < 0):
            raise InvalidArgumentError("x (budgets) must be non-decreasing")
        span = xs[-1] - xs[0]
        if span <= 0:
            raise InvalidArgumentError("x (budgets) must not be constant")
        xs = (xs - xs[0]) / span
    return float(np.sum((xs[1:] - xs[:-1]) * (d[1:] + d[:-1]) / 2.0))


def final_dice(dice: Any) -> float:
    """Mean Dice of the last round.

    Parameters
    ----------
    dice : array-like
        1-D mean Dice per round, in round order.

    Returns
    -------
    float
        ``dice[-1]`` (a NaN there is returned as is).

    Raises
    ------
    EmptyInputError
        ``dice`` is empty.

    Examples
    --------
    >>> final_dice([0.3, 0.5])
    0.5
    """
    d = as_float_1d(dice, "dice")
    check_nonempty(d, "dice")
    return float(d[-1])
