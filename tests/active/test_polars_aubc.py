"""mt.aubc: the AL area under the budget curve per group equals the eager AUBC bit for bit.

Oracle: :func:`medtrust.active.metrics.aubc` (numpy ``linspace`` / ``np.sum``) on each group's
rows, its own validation included.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medtrust.polars as mt
from medtrust.active.metrics import aubc
from medtrust.exceptions import InvalidArgumentError, NaNInputError


@st.composite
def runs(draw):
    """Runs of 1..300 rounds (past numpy's 8- and 128-value summation blocks), some budgets."""
    lengths = draw(st.lists(st.integers(1, 300), min_size=1, max_size=5))
    unit = st.floats(0, 1, allow_nan=False)
    dice = [draw(st.lists(unit, min_size=n, max_size=n)) for n in lengths]
    steps = [
        draw(st.lists(st.floats(0, 50, allow_nan=False), min_size=n, max_size=n)) for n in lengths
    ]
    budgets = [np.cumsum(s) + 1.0 for s in steps]
    for b in budgets:
        b[-1] += 1.0  # never constant
    return lengths, dice, budgets


@settings(max_examples=60, deadline=None)
@given(runs())
def test_aubc_per_group_equals_eager(data):
    lengths, dice, budgets = data
    df = pl.DataFrame(
        {
            "run": np.repeat(np.arange(len(lengths)), lengths),
            "dice": np.concatenate(dice),
            "budget": np.concatenate(budgets),
        }
    )
    out = (
        df.group_by("run", maintain_order=True)
        .agg(mt.aubc("dice"), mt.aubc("dice", "budget").alias("by_budget"))
        .sort("run")
    )
    for k, row in enumerate(out.iter_rows(named=True)):
        assert row["aubc"] == aubc(dice[k])
        assert row["by_budget"] == aubc(dice[k], budgets[k])
    # the same numbers in select (one run), over (broadcast) and lazy queries
    first = df.filter(pl.col("run") == 0)
    assert first.select(mt.aubc("dice")).item() == aubc(dice[0])
    over = df.with_columns(a=pl.col("dice").mt.aubc().over("run"))
    assert over.group_by("run").agg(pl.col("a").n_unique())["a"].to_list() == [1] * len(lengths)
    assert over.filter(pl.col("run") == 0)["a"][0] == aubc(dice[0])
    lazy = df.lazy().group_by("run").agg(mt.aubc("dice")).sort("run").collect(engine="streaming")
    assert lazy["aubc"].equals(out["aubc"])


def test_hand_computed_and_edge_groups():
    df = pl.DataFrame(
        {"s": ["a", "a", "a", "b", "c", "c"], "d": [0.5, 0.7, 0.9, 0.42, 0.2, 0.4]},
        schema_overrides={"d": pl.Float64},
    )
    out = df.group_by("s", maintain_order=True).agg(mt.aubc("d"))
    # a: (0.5/2 + 0.7 + 0.9/2) / 2; b: one round gives its Dice; c: (0.2 + 0.4) / 2
    assert out["aubc"].to_list() == pytest.approx([0.7, 0.42, 0.3], abs=1e-15)
    empty = df.filter(pl.col("d") > 0.8).group_by("s").agg(mt.aubc(pl.col("d").filter(False)))
    assert empty["aubc"].to_list() == [None]


def test_bad_runs_are_medtrust_errors():
    nan = pl.DataFrame({"d": [0.5, float("nan"), 0.7]})
    with pytest.raises(NaNInputError, match="dice"), mt.medtrust_errors():
        nan.select(mt.aubc("d"))
    with pytest.raises(NaNInputError), mt.medtrust_errors():
        pl.DataFrame({"d": [0.5, None]}).select(mt.aubc("d"))
    back = pl.DataFrame({"d": [0.5, 0.6, 0.7], "x": [1.0, 3.0, 2.0]})
    with pytest.raises(InvalidArgumentError, match="non-decreasing"), mt.medtrust_errors():
        back.select(mt.aubc("d", "x"))
    flat = pl.DataFrame({"d": [0.5, 0.6], "x": [2.0, 2.0]})
    with pytest.raises(InvalidArgumentError, match="constant"), mt.medtrust_errors():
        flat.select(mt.aubc("d", "x"))
    with pytest.raises(InvalidArgumentError, match="dice"):
        mt.aubc(3)  # type: ignore[arg-type]
