"""medtrust.polars: every expression equals the eager medtrust function on each group.

The oracle is the eager path (``medtrust.selective.metrics`` / ``bootstrap_ci`` /
``risk_coverage_curve`` on the numpy rows of the group, its own validation included), compared
bit for bit, NaN included.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import medtrust.polars as mt
import medtrust.selective as sel
from medtrust import _plugin
from medtrust.exceptions import (
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    NaNInputError,
    PolarsPluginError,
)

METRICS = list(mt.METRICS)


def same(a: float, b: float) -> bool:
    """Bit-equal floats, NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def eager(conf, res, labels=None, nan_policy="raise", check_range=True):
    """The eager metrics of one group as a dict (None where the eager function raises Empty)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = sel.metrics(
                conf, res, labels=labels, nan_policy=nan_policy, check_range=check_range
            )
        except EmptyInputError:
            return None
    return m.to_dict()


def _null_to_nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@st.composite
def frames(draw):
    """Random groups (one-row ones included), tied confidences, nulls / NaN, binary or not."""
    n = draw(st.integers(0, 60))
    n_groups = draw(st.integers(1, 6))
    binary = draw(st.booleans())
    levels = draw(st.integers(1, 8))  # few confidence levels -> many ties
    g = draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n))
    conf = draw(st.lists(st.integers(0, levels), min_size=n, max_size=n))
    res = draw(
        st.lists(
            st.integers(0, 1) if binary else st.floats(0, 1, allow_nan=False),
            min_size=n,
            max_size=n,
        )
    )
    holes = draw(st.lists(st.sampled_from(["ok", "ok", "ok", "null", "nan"]), min_size=n))
    conf_v: list[float | None] = [c / levels for c in conf]
    for i, h in enumerate(holes[:n]):
        if h == "null":
            conf_v[i] = None
        elif h == "nan":
            conf_v[i] = math.nan
    return pl.DataFrame(
        {"g": g, "conf": conf_v, "res": [float(r) for r in res]},
        schema={"g": pl.Int64, "conf": pl.Float64, "res": pl.Float64},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), policy=st.sampled_from(["omit", "propagate"]))
def test_group_by_struct_equals_eager_per_group(df, policy):
    out = df.group_by("g").agg(mt.selective_metrics("conf", "res", nan_policy=policy))
    for g, s in zip(out["g"], out["conf"]):
        part = df.filter(pl.col("g") == g)
        ref = eager(_null_to_nan(part["conf"]), part["res"].to_numpy(), nan_policy=policy)
        if ref is None:
            assert s is None
            continue
        for k in [*METRICS, "n", "n_dropped"]:
            assert same(s[k], ref[k]), (k, s[k], ref[k])


@settings(max_examples=40, deadline=None)
@given(df=frames(), name=st.sampled_from(METRICS))
def test_single_metric_over_and_lazy_equal_eager(df, name):
    df = df.filter(pl.col("conf").is_not_null() & pl.col("conf").is_not_nan())
    if df.height == 0:
        return
    over = df.with_columns(v=mt.metric(name, "conf", "res").over("g"))
    lazy = df.lazy().group_by("g").agg(mt.metric(name, "conf", "res")).collect()
    for g, v in zip(lazy["g"], lazy[name]):
        part = df.filter(pl.col("g") == g)
        ref = eager(part["conf"].to_numpy(), part["res"].to_numpy())[name]
        assert same(v, ref)
        assert all(same(x, ref) for x in over.filter(pl.col("g") == g)["v"])


def test_raise_policy_fails_the_query_with_the_medtrust_class():
    df = pl.DataFrame({"g": [1, 1, 2], "c": [0.9, None, 0.4], "f": [0, 1, 1]})
    with pytest.raises(NaNInputError, match="null, NaN or inf"):
        mt.collect(df.lazy().group_by("g").agg(mt.aurc("c", "f")))
    with pytest.raises(pl.exceptions.ComputeError, match=r"medtrust\[NaNInputError\]"):
        df.select(mt.aurc("c", "f"))
    bad = pl.DataFrame({"c": [0.9, 0.4], "f": [0.0, 2.0]})
    with pytest.raises(InvalidValueError, match="check_range"):
        mt.collect(bad.lazy().select(mt.augrc("c", "f")))
    assert bad.select(mt.augrc("c", "f", check_range=False)).item() == sel.augrc(
        [0.9, 0.4], [0.0, 2.0], check_range=False
    )


def test_options_are_checked_before_any_query():
    with pytest.raises(InvalidArgumentError, match="nan_policy"):
        mt.aurc("c", "f", nan_policy="drop")
    with pytest.raises(InvalidArgumentError, match="metric"):
        mt.metric("auc", "c", "f")
    with pytest.raises(InvalidArgumentError, match="bins"):
        mt.ece("c", "f", bins=0)
    with pytest.raises(InvalidArgumentError, match="alpha"):
        mt.bootstrap_ci("c", "f", alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="n_resamples"):
        mt.bootstrap_ci("c", "f", n_resamples=0)
    with pytest.raises(InvalidArgumentError, match="column name"):
        mt.aurc(3, "f")


def test_empty_and_one_row_groups():
    empty = pl.DataFrame({"c": [], "f": []}, schema={"c": pl.Float64, "f": pl.Float64})
    assert empty.select(mt.aurc("c", "f")).item() is None
    assert empty.select(mt.selective_metrics("c", "f")).item() is None
    one = pl.DataFrame({"c": [0.3], "f": [1.0]})
    s = one.select(mt.selective_metrics("c", "f")).item()
    ref = eager([0.3], [1.0])
    assert all(same(s[k], ref[k]) for k in METRICS)
    # a group emptied by "omit" is null, where the eager function raises EmptyInputError
    gone = pl.DataFrame({"c": [None, 0.5], "f": [1.0, 0.0], "g": [1, 2]})
    got = gone.group_by("g").agg(mt.aurc("c", "f", nan_policy="omit")).sort("g")
    assert got["aurc"].to_list() == [None, 0.0]


def test_labels_give_the_balanced_metrics():
    rng = np.random.default_rng(3)
    n = 300
    df = pl.DataFrame(
        {
            "g": rng.integers(0, 3, n),
            "c": rng.random(n).round(2),
            "f": (rng.random(n) < 0.3).astype(float),
            "y": rng.integers(0, 4, n),
        }
    )
    out = df.group_by("g").agg(mt.selective_metrics("c", "f", labels="y"))
    for g, s in zip(out["g"], out["c"]):
        p = df.filter(pl.col("g") == g)
        ref = eager(p["c"].to_numpy(), p["f"].to_numpy(), labels=p["y"].to_numpy())
        assert all(same(s[k], ref[k]) for k in METRICS)
    assert df.select(mt.aurc_ba("c", "f", "y")).item() == sel.aurc_ba(
        df["c"].to_numpy(), df["f"].to_numpy(), df["y"].to_numpy()
    )


def test_curve_and_bootstrap_equal_eager():
    rng = np.random.default_rng(1)
    n = 400
    df = pl.DataFrame(
        {
            "g": rng.integers(0, 2, n),
            "c": rng.random(n).round(2),
            "f": (rng.random(n) < 0.25).astype(float),
        }
    )
    q = df.group_by("g").agg(
        mt.risk_coverage_curve("c", "f").alias("curve"),
        mt.bootstrap_ci("c", "f", metric=["aurc", "failure_auroc"], n_resamples=200, seed=7),
    )
    for row in q.iter_rows(named=True):
        p = df.filter(pl.col("g") == row["g"])
        c, f = p["c"].to_numpy(), p["f"].to_numpy()
        ref = sel.risk_coverage_curve(c, f)
        assert np.array_equal(row["curve"]["coverage"], ref.coverages)
        assert np.array_equal(row["curve"]["selective_risk"], ref.selective_risks)
        assert np.array_equal(row["curve"]["generalized_risk"], ref.generalized_risks)
        assert np.array_equal(row["curve"]["threshold"], ref.thresholds)
        for m in ("aurc", "failure_auroc"):
            low, high = sel.bootstrap_ci(c, f, metric=m, n_resamples=200, seed=7)
            assert row["c"][f"{m}_low"] == low and row["c"][f"{m}_high"] == high
            assert row["c"][m] == getattr(sel.metrics(c, f), m)


def test_streaming_engine_and_namespace():
    rng = np.random.default_rng(2)
    n = 20_000
    df = pl.DataFrame(
        {"g": rng.integers(0, 50, n), "c": rng.random(n), "f": (rng.random(n) < 0.2) * 1.0}
    )
    q = df.lazy().group_by("g").agg(pl.col("c").mt.augrc("f"), mt.eaurc("c", "f")).sort("g")
    a, b = q.collect(engine="streaming"), q.collect(engine="in-memory")
    assert a.equals(b)
    p = df.filter(pl.col("g") == 7)
    row = a.filter(pl.col("g") == 7).row(0, named=True)
    assert row["c"] == sel.augrc(p["c"].to_numpy(), p["f"].to_numpy())
    assert row["eaurc"] == sel.eaurc(p["c"].to_numpy(), p["f"].to_numpy())


_THREAD_SCRIPT = """
import numpy as np, polars as pl, medtrust.polars as mt
rng = np.random.default_rng(5)
n = 30000
df = pl.DataFrame({"g": rng.integers(0, 40, n), "c": rng.random(n).round(3),
                   "f": (rng.random(n) < 0.3) * 1.0})
q = df.lazy().group_by("g").agg(mt.selective_metrics("c", "f"),
    mt.bootstrap_ci("c", "f", metric="augrc", n_resamples=100, seed=3).alias("ci")).sort("g")
out = q.collect()
ci = out.select(pl.col("ci").struct.field("augrc_low", "augrc_high"))
print(out.unnest("c").drop("ci").hstack(ci).to_numpy().tobytes().hex())
"""


def test_results_do_not_depend_on_the_thread_count():
    outs = []
    for threads in ("1", "4"):
        env = dict(os.environ, POLARS_MAX_THREADS=threads, MEDTRUST_NUM_THREADS=threads)
        r = subprocess.run(
            [sys.executable, "-c", _THREAD_SCRIPT], env=env, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]


def test_unloadable_plugin_is_a_clear_medtrust_error(monkeypatch, tmp_path):
    fake = tmp_path / "not_a_plugin.so"
    fake.write_bytes(b"\x7fELF not really")
    monkeypatch.setattr(_plugin, "_LIB", fake)
    _plugin.check.cache_clear()
    try:
        with pytest.raises(PolarsPluginError, match="cannot run in the installed polars"):
            mt.aurc("c", "f")
    finally:
        monkeypatch.undo()
        _plugin.check.cache_clear()
    got = pl.DataFrame({"c": [0.9, 0.1], "f": [0, 1]}).select(mt.aurc("c", "f")).item()
    assert got == sel.aurc([0.9, 0.1], [0, 1])


def test_evaluate_is_one_query_equal_to_the_eager_loop():
    rng = np.random.default_rng(4)
    n = 600
    df = pl.DataFrame(
        {
            "ds": rng.choice(["b", "a", "c"], n),
            "shift": rng.integers(0, 2, n),
            "good": rng.random(n),
            "bad": rng.random(n).round(1),
            "failed": (rng.random(n) < 0.3).astype(float),
        }
    )
    out = sel.evaluate(
        df, confid=["good", "bad"], residual="failed", by=["ds", "shift"], ci=True, n_resamples=50
    )
    assert out.height == 12
    assert out.select("ds", "shift", "csf").rows()[:3] == [
        ("a", 0, "good"),
        ("a", 0, "bad"),
        ("a", 1, "good"),
    ]
    for row in out.iter_rows(named=True):
        p = df.filter((pl.col("ds") == row["ds"]) & (pl.col("shift") == row["shift"]))
        r = p["failed"].to_numpy()
        ref = sel.metrics(p[row["csf"]].to_numpy(), r).to_dict()
        assert all(same(row[k], ref[k]) for k in ref)
        boot = sel.paired_bootstrap(
            {"good": p["good"].to_numpy(), "bad": p["bad"].to_numpy()}, r, n_resamples=50
        )
        ci = boot.ci("naurc")[row["csf"]]
        assert same(row["naurc_low"], ci.low) and same(row["naurc_high"], ci.high)
    lazy = sel.evaluate(df.lazy(), confid="good", residual="failed", by=["ds"])
    assert lazy["ds"].to_list() == ["a", "b", "c"]
    for ds, v in zip(lazy["ds"], lazy["aurc"]):
        p = df.filter(pl.col("ds") == ds)
        assert v == sel.aurc(p["good"].to_numpy(), p["failed"].to_numpy())


def test_evaluate_errors_are_medtrust_errors():
    df = pl.DataFrame({"c": [0.5, None, 0.2], "f": [0.0, 1.0, 1.0], "g": [1, 1, 2]})
    with pytest.raises(NaNInputError):
        sel.evaluate(df, confid="c", residual="f", by=["g"])
    with pytest.warns(UserWarning, match="dropped 1"):
        out = sel.evaluate(df, confid="c", residual="f", by=["g"], nan_policy="omit")
    assert out["n"].to_list() == [1, 1]
    gone = pl.DataFrame({"c": [None, 0.5], "f": [1.0, 0.0], "g": [1, 2]})
    with pytest.raises(EmptyInputError):
        sel.evaluate(gone, confid="c", residual="f", by=["g"], nan_policy="omit")


def _parquet_groups(path, n_rows: int, n_groups: int) -> None:
    """Write ``n_rows`` rows in row groups of 10^6 (never the whole table in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    chunk = min(n_rows, 1_000_000)
    schema = pa.schema([("g", pa.int32()), ("c", pa.float64()), ("f", pa.float64())])
    with pq.ParquetWriter(path, schema) as w:
        for start in range(0, n_rows, chunk):
            idx = np.arange(start, start + chunk)
            c = np.round(rng.random(chunk), 3)
            f = (rng.random(chunk) > c).astype(np.float64)
            w.write_table(pa.table({"g": (idx % n_groups).astype(np.int32), "c": c, "f": f}))


def _check_large_scan(tmp_path, n_rows: int) -> None:
    path = tmp_path / "preds.parquet"
    _parquet_groups(path, n_rows, 10)
    q = pl.scan_parquet(path).group_by("g").agg(mt.augrc("c", "f"), mt.aurc("c", "f")).sort("g")
    out = mt.collect(q, engine="streaming")
    assert out.height == 10
    # oracle: the eager function on one group read on its own
    g3 = pl.scan_parquet(path).filter(pl.col("g") == 3).collect()
    row = out.row(3, named=True)
    assert row["augrc"] == sel.augrc(g3["c"].to_numpy(), g3["f"].to_numpy())
    assert row["aurc"] == sel.aurc(g3["c"].to_numpy(), g3["f"].to_numpy())


@pytest.mark.slow
def test_lazy_scan_parquet_1e7_rows(tmp_path):
    _check_large_scan(tmp_path, 10_000_000)


@pytest.mark.skipif(
    os.environ.get("MEDTRUST_HUGE_TESTS") != "1",
    reason="10^8-row Parquet scan takes minutes; set MEDTRUST_HUGE_TESTS=1 to run it",
)
def test_lazy_scan_parquet_1e8_rows(tmp_path):
    _check_large_scan(tmp_path, 100_000_000)
