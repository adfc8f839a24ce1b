"""The failure evaluation's bootstrap rankings come from one polars query over all groups.

Oracle: :func:`medtrust.selective.rank_csfs` (numpy paired bootstrap + ``rank_values`` +
``rank_distribution``) run on each group on its own, as the evaluation did before; mean ranks,
rank distributions and intervals must be equal bit for bit. Also checks the polars ranking
helpers of :mod:`medtrust.analysis` against their numpy versions.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.analysis import rank_distribution, rank_distribution_frame, rank_expr, rank_values
from medtrust.failure import evaluate_failure_detection
from medtrust.selective import rank_csfs


def _cases(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 90
    dice = rng.uniform(0.3, 0.95, n).round(2)
    return pl.DataFrame(
        {
            "case": [f"c{i}" for i in range(n)],
            "domain": rng.choice(["iid", "shift_b", "shift_a"], n),
            "dice": dice,
            "good": (dice + rng.normal(0, 0.05, n)).round(2),
            "tied": (dice > 0.6).astype(float),  # two levels: many tied resample metrics
            "bad": rng.random(n).round(1),
        }
    )


@pytest.mark.parametrize(
    ("rank_metric", "binary"), [("aurc", False), ("failure_auroc", True), ("augrc", True)]
)
def test_rankings_equal_rank_csfs_per_group(rank_metric, binary):
    cases = _cases(3)
    names = ["good", "tied", "bad"]
    res = evaluate_failure_detection(
        cases, csfs=names, binary=binary, n_resamples=60, seed=5, rank_metric=rank_metric
    )
    assert res.groups == ("iid", "shift_a", "shift_b", "all")
    dist = res.rank_distribution
    assert dist.columns == ["group", "csf", "rank", "frequency"]
    for g in res.groups:
        part = cases if g == "all" else cases.filter(pl.col("domain") == g)
        d = part["dice"].to_numpy()
        r = (d < 0.75).astype(float) if binary else 1.0 - d
        ref = rank_csfs(
            {c: part[c].to_numpy() for c in names},
            r,
            metric=rank_metric,
            n_resamples=60,
            seed=5,
        )
        got = dist.filter(pl.col("group") == g).drop("group")
        assert got.equals(ref.rank_distribution.select("csf", "rank", "frequency"))
        rows = res.metrics.filter(pl.col("group") == g)
        means = dict(zip(ref.mean_rank["csf"], ref.mean_rank["mean_rank"]))
        for row in rows.iter_rows(named=True):
            assert row["mean_rank"] == means[row["csf"]]
            for k in ("aurc", "augrc"):
                ci = ref.bootstrap.ci(k)[row["csf"]]
                assert (row[f"{k}_low"], row[f"{k}_high"]) == (ci.low, ci.high)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 4),
    st.booleans(),
    st.lists(st.sampled_from([0.1, 0.2, 0.3, float("nan")]), min_size=72, max_size=72),
)
def test_polars_ranks_equal_numpy_ranks(n_blocks, k, higher, pool):
    values = np.array(pool[: n_blocks * k]).reshape(n_blocks, k)
    names = [f"m{j}" for j in range(k)]
    long = pl.DataFrame(
        {
            "g": ["x"] * (n_blocks * k),
            "block": np.repeat(np.arange(n_blocks), k),
            "name": names * n_blocks,
            "v": values.reshape(-1),
        }
    )
    ranked = long.with_columns(rank=rank_expr("v", over=["g", "block"], higher_is_better=higher))
    ref = rank_values(values, higher_is_better=higher)
    assert np.array_equal(ranked["rank"].to_numpy().reshape(n_blocks, k), ref)
    got = rank_distribution_frame(ranked, names, by=["g"])
    assert got.drop("g").equals(rank_distribution(ref, names))
    assert rank_distribution_frame(ranked, names).equals(rank_distribution(ref, names))
