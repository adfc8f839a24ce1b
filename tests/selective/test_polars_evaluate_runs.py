"""selective.evaluate's two query forms give the same table, equal to the eager metrics.

Contiguous groups of a DataFrame go through the run form (the run lengths of
``pl.struct(by).rle()`` passed to the plugin, groups as slices of the columns); any other
layout (a key seen in two runs, a LazyFrame) through ``group_by`` over imploded rows. The
oracle is :func:`medtrust.selective.metrics` / :func:`medtrust.selective.paired_bootstrap` on
each group's numpy rows, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import medtrust.selective as sel
from medtrust import _io, _native
from medtrust.exceptions import EmptyInputError, InvalidArgumentError, NaNInputError
from medtrust.selective.evaluate import _runs


def same(a: float | None, b: float | None) -> bool:
    """Bit-equal floats, NaN equal to NaN."""
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def frame(sizes: list[int], seed: int, nan_rows: int = 0) -> pl.DataFrame:
    """Contiguous groups (``ds``, ``shift``) of the given sizes; ties, some NaN confidences."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    gid = np.repeat(np.arange(len(sizes)), sizes)
    good = np.round(rng.random(n), 1)
    bad = rng.random(n)
    if nan_rows:
        bad[rng.choice(n, nan_rows, replace=False)] = np.nan
    return pl.DataFrame(
        {
            "ds": [f"d{g % 3}" for g in gid],
            "shift": gid // 3,
            "good": good,
            "bad": bad,
            "failed": (rng.random(n) > good).astype(float),
            "y": rng.integers(0, 2, n).astype(float),
        }
    )


def check_against_eager(out: pl.DataFrame, df: pl.DataFrame, ci: bool, **kw) -> None:
    for row in out.iter_rows(named=True):
        p = df.filter((pl.col("ds") == row["ds"]) & (pl.col("shift") == row["shift"]))
        c, r = p[row["csf"]].to_numpy(), p["failed"].to_numpy()
        with np.errstate(all="ignore"):
            ref = sel.metrics(c, r, nan_policy=kw.get("nan_policy", "raise")).to_dict()
        assert all(same(row[k], ref[k]) for k in ref), (row, ref)
        if ci:
            ok = np.isfinite(p["good"].to_numpy()) & np.isfinite(p["bad"].to_numpy())
            boot = sel.paired_bootstrap(
                {"good": p["good"].to_numpy()[ok], "bad": p["bad"].to_numpy()[ok]},
                r[ok],
                n_resamples=kw["n_resamples"],
            )
            for m in ("aurc", "naurc"):
                interval = boot.ci(m)[row["csf"]]
                assert same(row[f"{m}_low"], interval.low)
                assert same(row[f"{m}_high"], interval.high)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=7),
    seed=st.integers(0, 2**16),
    ci=st.booleans(),
)
def test_run_form_equals_group_by_form_and_eager(sizes, seed, ci):
    df = frame(sizes, seed)
    runs = _runs(df, ["ds", "shift"])
    assert runs is not None and runs[1] == sizes
    assert runs[0].equals(df.select("ds", "shift").unique(maintain_order=True))
    kw = dict(confid=["good", "bad"], residual="failed", by=["ds", "shift"], ci=ci)
    kw["n_resamples"] = 30
    runs = sel.evaluate(df, **kw)
    grouped = sel.evaluate(df.lazy(), **kw)  # a LazyFrame takes the group_by form
    assert runs.equals(grouped)
    assert runs.height == 2 * len(sizes)
    check_against_eager(runs, df, ci, n_resamples=30)


def test_run_lengths_that_miss_rows_are_refused():
    from medtrust import _plugin

    df = frame([3, 4], seed=1)
    for lengths in ([3, 3], [3, 4, 1]):
        kw = _plugin.kwargs("raise", True, names=["good"], run_lengths=lengths)
        expr = _plugin.call_columns("evaluate_groups", [pl.col("good"), pl.col("failed")], kw)
        with pytest.raises(InvalidArgumentError, match="run lengths add up to"):
            with _plugin.medtrust_errors():
                df.lazy().select(expr).collect(engine="in-memory")


def test_omit_and_ci_pair_the_rows_valid_for_every_csf():
    df = frame([30, 25, 40], seed=3, nan_rows=9)
    kw = dict(confid=["good", "bad"], residual="failed", by=["ds", "shift"])
    with pytest.warns(UserWarning, match="dropped 9"):
        out = sel.evaluate(df, ci=True, n_resamples=40, nan_policy="omit", **kw)
    with pytest.warns(UserWarning, match="dropped 9"):
        assert out.equals(sel.evaluate(df.lazy(), ci=True, n_resamples=40, nan_policy="omit", **kw))
    check_against_eager(out, df, True, n_resamples=40, nan_policy="omit")
    with pytest.raises(NaNInputError):
        sel.evaluate(df, **kw)


def test_a_key_in_two_runs_takes_the_group_by_form():
    df = pl.DataFrame(
        {
            "ds": ["a", "a", "b", "b", "a"],
            "shift": [0] * 5,
            "good": [0.9, 0.2, 0.5, 0.4, 0.7],
            "failed": [0.0, 1.0, 1.0, 0.0, 1.0],
        }
    )
    assert _runs(df, ["ds", "shift"]) is None
    out = sel.evaluate(df, confid="good", residual="failed", by=["ds", "shift"])
    assert out["ds"].to_list() == ["a", "b"] and out["n"].to_list() == [3, 2]
    a = df.filter(pl.col("ds") == "a")
    assert out["aurc"][0] == sel.aurc(a["good"].to_numpy(), a["failed"].to_numpy())


def test_labels_null_keys_and_empty_frames():
    df = pl.DataFrame(
        {
            "site": [None, None, None, "x", "x", "x"],
            "c": [0.9, 0.4, 0.3, 0.8, 0.6, 0.2],
            "f": [0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
            "y": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        }
    )
    out = sel.evaluate(df, confid="c", residual="f", by=["site"], labels="y")
    assert out.equals(sel.evaluate(df.lazy(), confid="c", residual="f", by=["site"], labels="y"))
    assert out["site"].to_list() == [None, "x"]
    x = df.filter(pl.col("site") == "x")
    ref = sel.metrics(x["c"].to_numpy(), x["f"].to_numpy(), labels=x["y"].to_numpy())
    assert same(out["augrc_ba"][1], ref.augrc_ba)
    empty = df.clear()
    got = sel.evaluate(empty, confid="c", residual="f", by=["site"])
    assert got.height == 0
    assert got.schema == sel.evaluate(empty.lazy(), confid="c", residual="f", by=["site"]).schema
    with pytest.raises(EmptyInputError):
        sel.evaluate(empty, confid="c", residual="f")


class _Bar:
    def __init__(self) -> None:
        self.done = 0
        self.closed = False

    def update(self, n: int) -> None:
        self.done += n

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def bars(monkeypatch) -> list[_Bar]:
    """The bars `_io.progress_bar` makes during the test (a recording stand-in)."""
    made: list[_Bar] = []

    def fake_bar(*, total, desc, enabled=True, leave=True):
        if not enabled:
            return None
        made.append(_Bar())
        made[-1].total = total
        return made[-1]

    monkeypatch.setattr(_io, "progress_bar", fake_bar)
    return made


def test_ci_progress_bar_counts_every_group_and_csf(monkeypatch, bars):
    monkeypatch.delenv("MEDTRUST_NO_PROGRESS", raising=False)
    monkeypatch.setattr(_io, "_have_tqdm", lambda: True)
    df = frame([20, 30, 25, 10], seed=1)
    kw = dict(confid=["good", "bad"], residual="failed", by=["ds", "shift"], ci=True)
    out = sel.evaluate(df, n_resamples=20, progress=True, **kw)
    assert out.height == 8
    assert len(bars) == 1 and bars[0].total == 8 and bars[0].done == 8 and bars[0].closed
    sel.evaluate(df.lazy(), n_resamples=20, progress=True, **kw)  # group_by form
    assert bars[1].total == 8 and bars[1].done == 8
    sel.evaluate(df, n_resamples=20, progress=False, **kw)
    assert len(bars) == 2  # no bar asked for, none made
    assert _native._plugin_progress(123456789) == 0  # an unknown token counts nothing


def test_cli_ci_shows_the_bootstrap_bar(monkeypatch, tmp_path, capsys, bars):
    from medtrust.cli.main import main

    # As on a terminal: the CLI leaves the choice to progress_enabled(None).
    monkeypatch.setattr(_io, "progress_enabled", lambda flag=None: flag is not False)
    path = tmp_path / "scores.parquet"
    frame([15, 20, 12], seed=2).write_parquet(path)
    args = ["selective", "evaluate", str(path), "--confid", "good", "--confid", "bad"]
    args += ["--residual", "failed", "--by", "ds", "--by", "shift", "--ci", "--n-resamples", "20"]
    assert main(args) == 0
    assert len(bars) == 1 and bars[0].total == 6 and bars[0].done == 6
    assert main([*args, "--no-progress"]) == 0
    assert len(bars) == 1
    capsys.readouterr()
