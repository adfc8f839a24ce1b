"""Beta schedules of power sampling (ClaSP PE).

``beta_k`` for query round ``k`` (0-based) of ``query_steps`` training rounds:

- ``"exp"``: ``100 ** (k / (query_steps - 1))``: 1, 3.162, 10, 31.62 for 5 steps (default);
- ``"smooth"`` / ``"sharp"``: sigmoid of ``linspace(-6, 6, query_steps) / T`` (T = 2 / 0.5),
  min-max scaled to [1, 100];
- ``"constant"``: ``beta`` every round (ClaP PE: 1);
- ``"none"``: no noise (``inf``): plain top-k by score.

Examples
--------
>>> from medtrust.active import beta_schedule
>>> [round(beta_schedule(k, 5), 3) for k in range(4)]
[1.0, 3.162, 10.0, 31.623]
>>> [round(beta_schedule(k, 5, "smooth"), 2) for k in range(4)]
[1.0, 15.77, 50.5, 85.23]
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from medtrust.active._common import check_count
from medtrust.exceptions import InvalidArgumentError

__all__ = ["SCHEDULES", "Schedule", "beta_schedule"]

Schedule = Literal["exp", "smooth", "sharp", "constant", "none"]
SCHEDULES: tuple[str, ...] = ("exp", "smooth", "sharp", "constant", "none")
_TEMPERATURE = {"smooth": 2.0, "sharp": 0.5}


def beta_schedule(
    round_index: int,
    query_steps: int = 5,
    schedule: Schedule = "exp",
    *,
    beta: float = 1.0,
    beta_max: float = 100.0,
) -> float:
    """Inverse temperature ``beta`` of power sampling in query round ``round_index``.

    Parameters
    ----------
    round_index
        0-based query round k (k = 0 is the first query after training on the starting budget);
        must be < ``query_steps``.
    query_steps
        Training rounds of the experiment (>= 2 for the increasing schedules).
    schedule
        ``exp`` (default), ``smooth``, ``sharp``, ``constant`` or ``none`` (returns inf).
    beta
        The value of the ``constant`` schedule.
    beta_max
        End value of the increasing schedules (100 in ClaSP PE).

    Returns
    -------
    float
        The round's beta: in ``[1, beta_max]`` for the increasing schedules, ``beta`` for
        ``constant`` and ``inf`` for ``none``.
    """
    k = check_count(round_index, "round_index")
    steps = check_count(query_steps, "query_steps", minimum=1)
    if schedule not in SCHEDULES:
        raise InvalidArgumentError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    if schedule == "none":
        return math.inf
    if schedule == "constant":
        if not beta > 0:
            raise InvalidArgumentError(f"beta must be > 0, got {beta!r}")
        return float(beta)
    if not beta_max >= 1:
        raise InvalidArgumentError(f"beta_max must be >= 1, got {beta_max!r}")
    if steps < 2:
        raise InvalidArgumentError(f"schedule {schedule!r} needs query_steps >= 2, got {steps}")
    if k >= steps:
        raise InvalidArgumentError(f"round_index {k} is outside 0..{steps - 1} (query_steps)")
    if schedule == "exp":
        return float(beta_max ** (k / (steps - 1)))
    x = np.linspace(-6.0, 6.0, steps) / _TEMPERATURE[schedule]
    s = 1.0 / (1.0 + np.exp(-x))
    s = (s - s.min()) / (s.max() - s.min())
    return float(1.0 + (beta_max - 1.0) * s[k])
