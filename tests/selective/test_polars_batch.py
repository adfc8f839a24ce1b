"""medtrust.polars on batches large enough to run in parallel over groups (>= 2^15 rows).

The plugin receives every group of a ``group_by`` in one call and computes them in parallel in
Rust; the oracle is still the eager function on each group's rows, bit for bit, and the error of
the first failing group (in group order) is the one reported, whatever the thread count.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

import medtrust.polars as mt
import medtrust.selective as sel
from medtrust.exceptions import InvalidValueError, NaNInputError


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    sizes = rng.integers(0, 200, 400)  # empty, one-row and larger groups
    sizes[:3] = [0, 1, 2]
    g = np.repeat(np.arange(400), sizes)
    n = len(g)
    assert n >= 2**15
    conf = rng.random(n).round(2)
    conf[rng.random(n) < 0.01] = np.nan
    return pl.DataFrame(
        {"g": g, "c": conf, "f": (rng.random(n) < 0.3) * 1.0, "y": rng.integers(0, 3, n)}
    ).with_columns(c=pl.when(pl.col("c").is_nan()).then(None).otherwise("c"))


def test_omit_and_propagate_per_group_equal_eager(big):
    q = big.group_by("g", maintain_order=True).agg(
        mt.selective_metrics("c", "f", labels="y", nan_policy="omit").alias("o"),
        mt.aurc("c", "f", nan_policy="propagate").alias("p"),
    )
    assert q.height == big["g"].n_unique()
    for row in q.iter_rows(named=True):
        part = big.filter(pl.col("g") == row["g"])
        c = part["c"].to_numpy().astype(float)
        f, y = part["f"].to_numpy(), part["y"].to_numpy()
        keep = ~np.isnan(c)
        if not keep.any():
            assert row["o"] is None
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one-class groups: NaN AUROC, as in the query
            ref = sel.metrics(c[keep], f[keep], labels=y[keep]).to_dict()
        ref.pop("n_dropped")  # the eager call saw the kept rows only
        assert all(same(row["o"][k], ref[k]) for k in ref), row["g"]
        assert row["o"]["n_dropped"] == int((~keep).sum())
        want = sel.aurc(c, f) if keep.all() else math.nan
        assert same(row["p"], want)


def test_first_failing_group_in_group_order_is_reported(big):
    ok = big.with_columns(pl.col("c").fill_null(0.5))
    bad_range = (pl.col("g") == 390) & (pl.col("f") == 1)
    broken = ok.with_columns(
        c=pl.when(pl.col("g") == 7).then(None).otherwise("c"),
        f=pl.when(bad_range).then(2.0).otherwise("f"),
    )
    q = broken.lazy().group_by("g", maintain_order=True).agg(mt.augrc("c", "f"))
    for _ in range(3):
        with pytest.raises(NaNInputError):
            mt.collect(q)
    only_range = ok.with_columns(f=pl.when(bad_range).then(2.0).otherwise("f"))
    with pytest.raises(InvalidValueError, match="residuals must lie in"):
        mt.collect(only_range.lazy().group_by("g").agg(mt.augrc("c", "f")))


def test_filters_and_slices_are_not_pushed_into_the_expression():
    # The plugin function is elementwise over the imploded groups; the implode keeps polars
    # from pushing a later filter / slice below it (which would change the rows it sees).
    df = pl.DataFrame({"g": [1, 1, 2, 2], "c": [0.9, 0.2, 0.5, 0.4], "f": [0.0, 1.0, 0.0, 1.0]})
    whole = sel.aurc(df["c"].to_numpy(), df["f"].to_numpy())
    lf = df.lazy().with_columns(a=mt.aurc("c", "f"))
    assert lf.filter(pl.col("c") > 0.3).collect()["a"].to_list() == [whole] * 3
    assert lf.head(1).collect(engine="streaming")["a"].to_list() == [whole]
    per_g = df.lazy().with_columns(a=mt.aurc("c", "f").over("g")).filter(pl.col("c") > 0.3)
    g2 = df.filter(pl.col("g") == 2)
    assert per_g.collect()["a"][-1] == sel.aurc(g2["c"].to_numpy(), g2["f"].to_numpy())
