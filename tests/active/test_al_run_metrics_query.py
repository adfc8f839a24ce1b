"""run_metrics in one polars query equals the per-run eager metrics (the report's table).

Oracle: the eager :func:`~medtrust.active.metrics.aubc` / ``final_dice`` / ``fg_efficiency``
on each run's rows sorted by round, with the setting's x0 and Dice(x0) computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from medtrust.active.metrics import aubc, fg_efficiency, final_dice, run_metrics
from medtrust.exceptions import NaNInputError


def table(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for setting in ("s2", "s1"):
        for strategy in ("random", "entropy", "bald"):
            for s in (2, 0, 1):
                n_rounds = int(rng.integers(1, 6))
                dice = np.sort(rng.uniform(0.3, 0.8, n_rounds))
                fg = np.sort(rng.uniform(0.05, 0.6, n_rounds))
                for k in range(n_rounds):
                    rows.append(
                        {
                            "setting": setting,
                            "strategy": strategy,
                            "seed": s,
                            "round": k,
                            "dice_mean": float(dice[k]),
                            "fg_fraction": float(fg[k]),
                        }
                    )
    return pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=seed)  # any row order


def eager(df: pl.DataFrame, full: dict[str, float]) -> dict[tuple, dict]:
    out = {}
    for (st,), sdf in df.partition_by("setting", as_dict=True).items():
        x0 = float(sdf["fg_fraction"].min())
        d0 = float(sdf.filter(pl.col("round") == sdf["round"].min())["dice_mean"].mean())
        for (sg, sd), g in sdf.partition_by(["strategy", "seed"], as_dict=True).items():
            g = g.sort("round")
            d = g["dice_mean"].to_numpy()
            fit = fg_efficiency(
                g["fg_fraction"].to_numpy(), d, full_dice=full[st], x0=x0, dice_x0=d0
            )
            out[(st, sg, sd)] = {
                "n_rounds": len(d),
                "aubc": aubc(d),
                "final_dice": final_dice(d),
                "fg_eff": fit.b,
                "fg_eff_status": fit.status,
            }
    return out


@pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_query_equals_the_eager_metrics_per_run(seed):
    df = table(seed)
    full = {"s1": 0.85, "s2": 0.9}
    got = run_metrics(df, full_dice=full)
    ref = eager(df, full)
    keys = [tuple(k) for k in got.select("setting", "strategy", "seed").rows()]
    assert keys == sorted(ref)  # sorted by setting, strategy, seed
    for row in got.iter_rows(named=True):
        want = ref[(row["setting"], row["strategy"], row["seed"])]
        assert row["aubc"] == want["aubc"]  # bit-equal (Rust AUBC sums as np.sum)
        assert row["final_dice"] == want["final_dice"] and row["n_rounds"] == want["n_rounds"]
        assert row["fg_eff_status"] == want["fg_eff_status"]
        fg, want_fg = row["fg_eff"], want["fg_eff"]
        assert (math.isnan(fg) and math.isnan(want_fg)) or fg == want_fg  # same fit inputs


def test_without_full_dice_or_fg_column_fg_eff_is_nan():
    df = table(3)
    got = run_metrics(df.drop("fg_fraction", "setting"))
    assert set(got["setting"]) == {"default"}
    assert got["fg_eff"].is_nan().all() and set(got["fg_eff_status"]) == {"no_full_dice"}
    with pytest.raises(NaNInputError):
        run_metrics(df.with_columns(dice_mean=pl.lit(float("nan"))))
