"""Polars-native analysis: one query of medtrust expressions vs today's loop and pure polars.

Data: G groups x R rows, two CSFs (``good``, ``bad``; confidences rounded to 3 decimals, so
ties), binary residuals. Three ways, timed in the same run:

- ``medtrust``: ``selective.evaluate`` = one polars query running the Rust plugin
  (``evaluate_groups``: every metric of both CSFs; the groups, contiguous here, reach Rust as
  runs of rows whose lengths come from one ``rle`` pass, without a hash ``group_by`` or
  implode);
- ``loop``: a copy of ``evaluate`` before issue 12 (``partition_by`` + ``metrics()`` per group
  and CSF in Python), kept here verbatim as the baseline;
- ``pure polars``: a hand-written polars AURC (AURC only) with the same convention (tie groups,
  coverage-0 end point, trapezoid rule).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import medtrust.polars as mt
import medtrust.selective as sel
from conftest import best_of, best_of_interleaved
from medtrust.selective.metrics import metrics


def frame(groups: int, rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = groups * rows
    good = rng.random(n)
    failed = (rng.random(n) > good).astype(np.float64)
    return pl.DataFrame(
        {
            "model": np.repeat(np.arange(groups) % 20, rows),
            "shift": np.repeat(np.arange(groups) // 20, rows),
            "good": np.round(good, 3),
            "bad": np.round(rng.random(n), 3),
            "failed": failed,
        }
    )


def loop_evaluate(df: pl.DataFrame, confs: list[str], residual: str, by: list[str]):
    """``selective.evaluate`` as it was before the polars plugin (no CIs, no labels)."""
    groups = df.partition_by(by, as_dict=True, maintain_order=True) if by else {(): df}
    rows = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        part = groups[key]
        res = part[residual].to_numpy()
        for c in confs:
            m = metrics(part[c].to_numpy(), res)
            row = dict(zip(by, key))
            row["csf"] = c
            row.update(m.to_dict())
            rows.append(row)
    return pl.DataFrame(rows)


def polars_aurc(df: pl.DataFrame, conf: str, residual: str, by: list[str]) -> pl.DataFrame:
    """AURC per group in plain polars expressions (tie groups, coverage-0 point, trapezoid)."""
    ties = (
        df.group_by([*by, conf])
        .agg(k=pl.len(), s=pl.col(residual).sum())
        .sort([*by, conf], descending=[*([False] * len(by)), True])
    )
    cn = pl.col("k").cum_sum().over(by)
    cs = pl.col("s").cum_sum().over(by)
    pts = ties.with_columns(cov=cn / pl.col("k").sum().over(by), sr=cs / cn)
    prev_cov = pl.col("cov").shift(1).over(by).fill_null(0.0)
    prev_sr = pl.col("sr").shift(1).over(by).fill_null(pl.col("sr").first().over(by))
    area = (pl.col("cov") - prev_cov) * (pl.col("sr") + prev_sr) / 2
    return pts.with_columns(a=area).group_by(by).agg(aurc=pl.col("a").sum())


def medtrust_evaluate(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return sel.evaluate(df, confid=["good", "bad"], residual="failed", by=by)


@pytest.fixture(scope="module")
def df_2000():
    return frame(2000, 1000)


def test_baselines_agree_with_medtrust(df_2000):
    small = df_2000.filter(pl.col("shift") < 2)
    ours = medtrust_evaluate(small, ["model", "shift"])
    loop = loop_evaluate(small, ["good", "bad"], "failed", ["model", "shift"])
    assert ours.drop("n_dropped").equals(loop.drop("n_dropped"))
    plain = polars_aurc(small, "good", "failed", ["model", "shift"]).sort("model", "shift")
    mine = small.group_by("model", "shift").agg(mt.aurc("good", "failed")).sort("model", "shift")
    assert np.allclose(plain["aurc"], mine["aurc"], rtol=1e-12, atol=1e-15)


# Issue 12's targets: a target that is met is a plain assert; one not met is an xfail whose
# reason prints the measured figure. What remains is the per-group core kernel
# (rust/core/src/risk, issue 13): `test_evaluate_phases` prints its share.


def _target(r: float, target: float, what: str) -> None:
    if r < target:
        pytest.xfail(f"{what}: measured {r:.1f}x < target {target}x (kernel-bound, see phases)")
    assert r >= target


def test_2000_groups_vs_loop_and_pure_polars(benchmark, df_2000, ratio):
    by = ["model", "shift"]
    medtrust_evaluate(df_2000, by)  # warm the plugin
    t_ours, t_loop = best_of_interleaved(
        lambda: medtrust_evaluate(df_2000, by),
        lambda: loop_evaluate(df_2000, ["good", "bad"], "failed", by),
        3,
    )
    t_plain = best_of(lambda: [polars_aurc(df_2000, c, "failed", by) for c in ("good", "bad")], 3)
    benchmark.pedantic(medtrust_evaluate, args=(df_2000, by), rounds=3, iterations=1)
    r_loop = ratio("evaluate 2000 groups x 1000 rows x 2 CSFs vs the loop", t_ours, t_loop, None)
    r_plain = ratio("evaluate (all metrics) vs pure-polars AURC only", t_ours, t_plain, None)
    assert r_plain >= 10  # met
    _target(r_loop, 20, "2000 groups vs the loop")


def test_evaluate_phases(df_2000, ratio):
    """Where evaluate's time goes (each phase: ratio = whole evaluate / phase)."""
    from medtrust import _native, _plugin
    from medtrust.selective.evaluate import _runs

    by, confs = ["model", "shift"], ["good", "bad"]
    runs = _runs(df_2000, by)
    assert runs is not None
    kw = _plugin.kwargs("raise", True, names=confs, run_lengths=runs[1])
    values = [pl.col(c) for c in (*confs, "failed")]
    plugin = _plugin.call_columns("evaluate_groups", values, kw)
    parts = df_2000.partition_by(by, maintain_order=True)
    arrays = [(p["good"].to_numpy(), p["bad"].to_numpy(), p["failed"].to_numpy()) for p in parts]

    def kernel_one_thread() -> None:  # the core kernel alone, every (group, CSF), serially
        for good, bad, failed in arrays:
            _native.risk_metrics(good, failed)
            _native.risk_metrics(bad, failed)

    medtrust_evaluate(df_2000, by)
    t_all = best_of(lambda: medtrust_evaluate(df_2000, by), 3)
    t_runs = best_of(lambda: _runs(df_2000, by), 3)
    # In memory, as `evaluate` collects a DataFrame (the streaming engine would copy it first).
    t_plugin = best_of(lambda: df_2000.lazy().select(plugin).collect(engine="in-memory"), 3)
    t_group_by = best_of(
        lambda: df_2000.group_by(by).agg(pl.struct(*values).implode()), 3
    )  # what the runs form avoids
    t_kernel = best_of(kernel_one_thread, 2) / _native.num_threads()
    ratio("evaluate phase: contiguity check (rle)", t_runs, t_all, None)
    ratio("evaluate phase: plugin call (runs form)", t_plugin, t_all, None)
    ratio("evaluate phase: core kernel (1 thread / n_threads)", t_kernel, t_all, None)
    ratio("avoided: polars group_by + implode", t_group_by, t_all, None)


def test_1e5_groups_of_100_vs_loop(ratio):
    df = frame(100_000, 100, seed=1)
    by = ["model", "shift"]
    medtrust_evaluate(df, by)  # warm the plugin, as the 2,000-group row does
    # Two rounds of three queries (0.5 s, 2 threads) and one loop (25-30 s, serial).
    t_ours, t_loop = best_of_interleaved(
        lambda: medtrust_evaluate(df, by),
        lambda: loop_evaluate(df, ["good", "bad"], "failed", by),
        2,
        ours_per_round=3,
    )
    r = ratio("evaluate 1e5 groups x 100 rows x 2 CSFs vs the loop", t_ours, t_loop, None)
    _target(r, 50, "1e5 groups vs the loop")
