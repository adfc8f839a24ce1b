"""The per-run metric table: AUBC, final Dice and FG-Eff per (setting, strategy, seed).

Examples
--------
>>> import polars as pl
>>> from medtrust.active.metrics import run_metrics
>>> t = pl.DataFrame({"strategy": ["a"] * 3, "seed": [0] * 3, "round": [0, 1, 2],
...                   "dice_mean": [0.5, 0.7, 0.9]})
>>> run_metrics(t).select("strategy", "aubc", "final_dice").row(0)
('a', 0.7, 0.9)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from medtrust._deprecation import renamed_kwargs
from medtrust.active.metrics.budget import aubc, final_dice
from medtrust.active.metrics.efficiency import fg_efficiency
from medtrust.exceptions import UndefinedMetricWarning

__all__ = ["run_metrics"]


@renamed_kwargs(seed="seed_col")
def run_metrics(
    table: Any,
    *,
    value: str = "dice_mean",
    fg_fraction: str = "fg_fraction",
    full_dice: dict[Any, float] | float | None = None,
    setting: str = "setting",
    strategy: str = "strategy",
    seed_col: str = "seed",
    budget: str = "round",
) -> Any:
    """AUBC, final Dice and FG-Eff per (setting, strategy, seed) of a per-round table.

    ``full_dice`` (``c`` of FG-Eff) is one number or a mapping setting -> number; without it
    ``fg_eff`` is NaN. FG-Eff is fitted per seed with ``x0`` and ``Dice(x0)`` shared by the
    whole setting (mean over the round-0 rows, the common starting budget). ``value``,
    ``fg_fraction``, ``setting``, ``strategy``, ``seed_col`` and ``budget`` name the columns
    (``seed=`` is the deprecated old name of ``seed_col``).

    Parameters
    ----------
    table
        Polars (or pandas) table with one row per (setting, strategy, seed, budget level).
    value : str, default "dice_mean"
        Column of the mean foreground Dice.
    fg_fraction : str, default "fg_fraction"
        Column of the fraction of the pool's foreground voxels annotated (FG-Eff's ``x``);
        when the table lacks it ``fg_eff`` is NaN.
    full_dice : float or dict, optional
        Full-data Dice ``c``: one number, or setting -> number; None (default), or a setting
        missing from the dict: ``fg_eff`` is NaN with status ``"no_full_dice"``.
    setting : str, default "setting"
        Column of the settings; a table without it is one setting named ``"default"``.
    strategy : str, default "strategy"
        Column of the strategy names.
    seed_col : str, default "seed"
        Column of the seeds.
    budget : str, default "round"
        Column of the budget level (round); rows are ordered by it, and its smallest value
        gives the setting's ``Dice(x0)``.

    Returns
    -------
    polars.DataFrame
        ``setting, strategy, seed, n_rounds, aubc, final_dice, fg_eff, fg_eff_status``.
    """
    import polars as pl

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if setting not in df.columns:
        df = df.with_columns(pl.lit("default").alias(setting))
    rows = []
    for (st,), sdf in sorted(
        df.partition_by(setting, as_dict=True).items(), key=lambda kv: str(kv[0])
    ):
        first = sdf.filter(pl.col(budget) == sdf[budget].min())
        x0 = float(sdf[fg_fraction].min()) if fg_fraction in sdf.columns else math.nan  # type: ignore[arg-type]
        d0 = float(first[value].mean())  # type: ignore[arg-type]
        c = full_dice.get(st) if isinstance(full_dice, dict) else full_dice
        for (sg, sd), g in sorted(sdf.partition_by([strategy, seed_col], as_dict=True).items()):
            g = g.sort(budget)
            d = g[value].to_numpy()
            fg = math.nan
            status = "no_full_dice"
            if c is not None and fg_fraction in g.columns:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UndefinedMetricWarning)
                    res = fg_efficiency(
                        g[fg_fraction].to_numpy(), d, full_dice=float(c), x0=x0, dice_x0=d0
                    )
                fg, status = res.b, res.status
            rows.append(
                {
                    setting: st,
                    strategy: sg,
                    seed_col: sd,
                    "n_rounds": len(d),
                    "aubc": aubc(d),
                    "final_dice": final_dice(d),
                    "fg_eff": fg,
                    "fg_eff_status": status,
                }
            )
    return pl.DataFrame(rows)
