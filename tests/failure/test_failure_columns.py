"""Explicit CSF / case / group columns of ``evaluate_failure_detection`` (issue 16)."""

import warnings

import numpy as np
import polars as pl
import polars.selectors as cs
import pytest

from medtrust import failure
from medtrust import selective as sel
from medtrust.exceptions import DTypeError, InvalidArgumentError, UndefinedMetricWarning


def cases(n=48, seed=0):
    rng = np.random.default_rng(seed)
    dice = np.clip(rng.beta(5, 1.5, n), 0, 1)
    return pl.DataFrame(
        {
            "subject": [f"s{i}" for i in range(n)],
            "site": ["A"] * (n // 3) + ["B"] * (n // 3) + ["C"] * (n - 2 * (n // 3)),
            "dice": dice,
            "csf_good": dice + rng.normal(0, 0.05, n),
            "csf_bad": rng.random(n),
            "patient_age": rng.integers(20, 90, n),
            "scanner": rng.choice(["GE", "Siemens"], n),
        }
    )


def test_metadata_columns_are_never_csfs_and_strings_do_not_crash():
    df = cases()
    for how in ({"csf_prefix": "csf_"}, {"csfs": cs.starts_with("csf_")}):
        res = failure.evaluate_failure_detection(
            df, case_col="subject", group_col="site", n_resamples=30, **how
        )
        assert res.csfs == ("csf_good", "csf_bad")
        assert "patient_age" not in res.metrics["csf"].to_list()
        assert res.groups == ("A", "B", "C", "all")
        row = res.metrics.filter((pl.col("group") == "B") & (pl.col("csf") == "csf_good"))
        part = df.filter(pl.col("site") == "B")
        want = sel.aurc(part["csf_good"].to_numpy(), 1 - part["dice"].to_numpy())
        assert row["aurc"][0] == pytest.approx(want)
    assert res.config["group_col"] == "site" and res.config["csfs"] == ["csf_good", "csf_bad"]


def test_no_default_csfs_and_clear_errors():
    df = cases()
    with pytest.raises(InvalidArgumentError, match=r"csfs=.*patient_age"):
        failure.evaluate_failure_detection(df, case_col="subject", group_col="site")
    with pytest.raises(DTypeError, match="scanner"):
        failure.evaluate_failure_detection(
            df, csfs=["csf_good", "scanner"], case_col="subject", group_col="site"
        )
    with pytest.raises(InvalidArgumentError, match="case"):
        failure.evaluate_failure_detection(df, csfs=["csf_good"], group_col="site")
    with pytest.raises(InvalidArgumentError, match="not both"):
        failure.evaluate_failure_detection(
            df, csfs=["csf_good"], csf_prefix="csf_", case_col="subject", group_col="site"
        )
    with pytest.raises(InvalidArgumentError, match="group"):
        failure.evaluate_failure_detection(df, csfs=["site"], case_col="subject", group_col="site")


def test_without_groups_all_cases_only():
    df = cases()
    res = failure.evaluate_failure_detection(
        df, csfs=["csf_good"], case_col="subject", group_col=None, n_resamples=20
    )
    assert res.groups == ("all",)
    assert res.metrics["n"].to_list() == [df.height]


def test_one_warning_per_problem_kind_naming_the_groups():
    df = cases(60, seed=3)
    # sites A and B: every case passes; site C: every case fails
    dice = np.where(np.arange(60) < 40, 0.9, 0.3) + np.linspace(0, 0.05, 60)
    df = df.with_columns(dice=pl.Series(dice))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        failure.evaluate_failure_detection(
            df, csf_prefix="csf_", case_col="subject", group_col="site", n_resamples=20
        )
    msgs = [str(w.message) for w in got if issubclass(w.category, UndefinedMetricWarning)]
    passing = [m for m in msgs if "passes" in m]
    failing = [m for m in msgs if "fails" in m]
    assert len(passing) == 1 and "'A'" in passing[0] and "'B'" in passing[0]
    assert len(failing) == 1 and "'C'" in failing[0]
    assert len(set(msgs)) == len(msgs)  # nothing repeated per group


def test_score_table_csfs_names_the_computed_csfs():
    t = pl.DataFrame(
        {"case": ["a"], "domain": ["x"], "dice": [0.9], "nsd": [0.8], "hd95": [1.0]}
    ).with_columns(msr_mean=pl.lit(0.7), pairwise_dice=pl.lit(0.9))
    assert failure.score_table_csfs(t) == ["msr_mean", "pairwise_dice"]


def test_progress_bar_over_bootstrap_units(monkeypatch, capsys):
    monkeypatch.delenv("MEDTRUST_NO_PROGRESS", raising=False)
    df = cases()
    failure.evaluate_failure_detection(
        df, csf_prefix="csf_", case_col="subject", group_col="site", n_resamples=25,
        progress=True,
    )  # fmt: skip
    err = capsys.readouterr().err
    # 4 groups x 2 CSFs x 2 bootstraps (intervals, rank resamples), counted as they finish
    assert "bootstrap (group x CSF)" in err and "16/16 " in err
    failure.evaluate_failure_detection(
        df, csf_prefix="csf_", case_col="subject", group_col="site", n_resamples=25,
        progress=False,
    )  # fmt: skip
    assert "bootstrap" not in capsys.readouterr().err
