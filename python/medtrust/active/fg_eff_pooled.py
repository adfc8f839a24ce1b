"""FG-Eff with nnActive's protocol: one fit per strategy pooling every seed and round.

nnActive fits ``Dice(x) = -a exp(-b (x - x0)) + c`` once per method on the points of all
seeds and rounds together, with ``x0`` the smallest ``x`` among them and
``a = c - (mean Dice at x0)``; the fit's standard error of ``b`` comes with it.
:func:`medtrust.active.metrics.run_metrics` keeps medtrust's per-seed fits (``x0`` shared by
the setting), which give a spread over seeds instead.

Examples
--------
>>> import numpy as np, polars as pl
>>> from medtrust.active.fg_eff_pooled import fg_efficiency_pooled
>>> x = np.array([0.1, 0.3, 0.6, 0.1, 0.3, 0.6])
>>> d = 0.9 - 0.5 * np.exp(-3.0 * (x - 0.1))
>>> t = pl.DataFrame({"strategy": ["a"] * 6, "seed": [0] * 3 + [1] * 3, "fg_fraction": x,
...                   "dice_mean": d})
>>> r = fg_efficiency_pooled(t, full_dice=0.9)
>>> round(r["fg_eff"][0], 6), r["n_points"][0]
(3.0, 6)
"""

from __future__ import annotations

import warnings
from typing import Any

from medtrust.exceptions import InvalidArgumentError, UndefinedMetricWarning

__all__ = ["fg_efficiency_pooled"]


def fg_efficiency_pooled(
    table: Any,
    *,
    full_dice: dict[Any, float] | float | None,
    value: str = "dice_mean",
    fg_fraction: str = "fg_fraction",
    setting: str = "setting",
    strategy: str = "strategy",
) -> Any:
    """One FG-Eff fit per (setting, strategy) over all its seeds and rounds (nnActive).

    Parameters
    ----------
    table
        Per-round table (polars or pandas) with ``value`` and ``fg_fraction`` columns.
    full_dice
        ``c``: one number or a mapping setting -> number (None: every fit is NaN,
        status ``no_full_dice``).
    value, fg_fraction, setting, strategy
        Column names (a missing ``setting`` column means one setting).

    Returns
    -------
    polars.DataFrame
        ``setting, strategy, fg_eff, fg_eff_se, a, c, x0, dice_x0, n_points, status``;
        ``fg_eff_se`` is the standard error of ``b`` from the fit's covariance.
    """
    import math

    import polars as pl

    from medtrust.active.metrics import fg_efficiency

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    missing = [c for c in (value, fg_fraction, strategy) if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"table lacks the column(s) {missing}; has {df.columns}")
    if setting not in df.columns:
        df = df.with_columns(pl.lit("default").alias(setting))
    rows = []
    for (st, sg), g in sorted(
        df.partition_by([setting, strategy], as_dict=True).items(), key=lambda kv: str(kv[0])
    ):
        c = full_dice.get(st) if isinstance(full_dice, dict) else full_dice
        row: dict[str, Any] = {setting: st, strategy: sg, "n_points": g.height}
        if c is None:
            row.update(
                fg_eff=math.nan, fg_eff_se=math.nan, a=math.nan, c=math.nan, x0=math.nan,
                dice_x0=math.nan, status="no_full_dice",
            )  # fmt: skip
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                r = fg_efficiency(
                    g[fg_fraction].to_numpy(), g[value].to_numpy(), full_dice=float(c)
                )
            row.update(
                fg_eff=r.b, fg_eff_se=r.b_std, a=r.a, c=r.c, x0=r.x0, dice_x0=r.dice_x0,
                status=r.status,
            )  # fmt: skip
        rows.append(row)
    cols = [setting, strategy, "fg_eff", "fg_eff_se", "a", "c", "x0", "dice_x0", "n_points"]
    return pl.DataFrame(rows).select([*cols, "status"])
