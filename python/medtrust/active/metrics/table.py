"""The per-run metric table: AUBC, final Dice and FG-Eff per (setting, strategy, seed).

One polars query computes every run's AUBC (in Rust, as :func:`medtrust.polars.aubc`), final
Dice and round count; only FG-Eff's scipy fit runs per run in Python.

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

import numpy as np

from medtrust._deprecation import renamed_kwargs
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

    from medtrust import _plugin

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if setting not in df.columns:
        df = df.with_columns(pl.lit("default").alias(setting))
    has_fg = fg_fraction in df.columns
    run = [setting, strategy, seed_col]
    d = pl.col(value).cast(pl.Float64)
    # One query over the runs: rows in budget order (group_by keeps it within each run) for
    # AUBC (in Rust, bit-equal to `aubc`), the final Dice and each run's curve for the fit.
    query = (
        df.lazy()
        .sort(budget, maintain_order=True)
        .group_by(run)
        .agg(
            n_rounds=pl.len(),
            aubc=_plugin.call("aubc", [d], _plugin.kwargs("raise", False)),
            final_dice=d.last(),
            __d=d,
            __fg=pl.col(fg_fraction).cast(pl.Float64) if has_fg else pl.lit(None),
        )
        .sort(pl.col(setting).cast(pl.String), strategy, seed_col)
    )
    with _plugin.medtrust_errors():
        per_run = query.collect()
    # FG-Eff: one scipy least-squares fit per run (nnActive's protocol), the only per-run work,
    # with x0 and Dice(x0) shared by the setting (its smallest foreground fraction; the mean
    # Dice of its first-budget rows, as `Series.mean` sums them in the table's row order).
    start: dict[Any, tuple[float, float]] = {}
    if has_fg and full_dice is not None:
        for (st,), sdf in df.partition_by(setting, as_dict=True).items():
            first = sdf.filter(pl.col(budget) == sdf[budget].min())
            start[st] = (float(sdf[fg_fraction].min()), float(first[value].mean()))  # type: ignore[arg-type]
    fg_eff, status = [], []
    for r in per_run.iter_rows(named=True):
        c = full_dice.get(r[setting]) if isinstance(full_dice, dict) else full_dice
        if c is None or not has_fg:
            fg_eff.append(math.nan)
            status.append("no_full_dice")
            continue
        x0, d0 = start[r[setting]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            res = fg_efficiency(
                np.asarray(r["__fg"], dtype=np.float64),
                np.asarray(r["__d"], dtype=np.float64),
                full_dice=float(c),
                x0=x0,
                dice_x0=d0,
            )
        fg_eff.append(res.b)
        status.append(res.status)
    return per_run.select(*run, "n_rounds", "aubc", "final_dice").with_columns(
        fg_eff=pl.Series(fg_eff, dtype=pl.Float64),
        fg_eff_status=pl.Series(status, dtype=pl.String),
    )
