"""Paired bootstrap under nan_policy="omit" drops the union of NaN rows (issue 10 item 3)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from medtrust.exceptions import EmptyInputError, MedtrustWarning, ShapeMismatchError
from medtrust.selective import aurc, bootstrap_ci, evaluate, paired_bootstrap

NAN = math.nan
# The reproducer of the issue: a and b each hold one NaN, in different rows.
A = [NAN, 0.7, 0.6, 0.2, 0.9, 0.1]
B = [0.5, NAN, 0.6, 0.2, 0.9, 0.1]
R = [1, 0, 0, 1, 0, 1]
KEEP = slice(2, None)  # rows without NaN in either CSF


def test_omit_uses_the_same_rows_for_every_csf() -> None:
    with pytest.warns(MedtrustWarning, match="dropped 2 of 6"):
        got = paired_bootstrap({"a": A, "b": B}, R, n_resamples=300, seed=4, nan_policy="omit")
    # oracle: the same bootstrap on the rows clean in both CSFs, given by hand
    clean = paired_bootstrap(
        {"a": A[KEEP], "b": B[KEEP]}, R[KEEP], n_resamples=300, seed=4, nan_policy="raise"
    )
    assert got.n_dropped == 2 and clean.n_dropped == 0
    np.testing.assert_array_equal(got.values, clean.values)
    np.testing.assert_array_equal(got.estimates, clean.estimates)
    # a and b are equal on the shared rows, so every paired resample gives them equal AURCs
    np.testing.assert_array_equal(got.metric("aurc")[:, 0], got.metric("aurc")[:, 1])
    j = got.metric_names.index("aurc")
    assert got.estimates[0, j] == aurc(A[KEEP], R[KEEP])


def test_residual_and_label_nans_join_the_union() -> None:
    res = {"a": [0, 0, NAN, 1, 0, 1], "b": [1, 0, 0, 1, 0, 1]}
    conf = {"a": [0.1, 0.7, 0.6, 0.2, 0.9, 0.1], "b": [0.5, 0.7, 0.6, 0.2, 0.9, NAN]}
    with pytest.warns(MedtrustWarning, match="dropped 2 of 6"):
        got = paired_bootstrap(conf, res, n_resamples=50, seed=1, nan_policy="omit")
    assert got.n_dropped == 2
    labels = [0, 1, 0, NAN, 1, 0]
    with pytest.warns(MedtrustWarning, match="dropped 1 of 6"):
        got = paired_bootstrap(
            {"a": [*A[1:], 0.3]}, R, n_resamples=20, labels=labels, nan_policy="omit"
        )
    assert got.n_dropped == 1


def test_bootstrap_ci_and_evaluate_follow_the_same_rule() -> None:
    with pytest.warns(MedtrustWarning):
        ci = bootstrap_ci(A, R, n_resamples=200, seed=2, nan_policy="omit")
    ref = bootstrap_ci(A[1:], R[1:], n_resamples=200, seed=2)
    assert (ci.low, ci.high, ci.estimate) == (ref.low, ref.high, ref.estimate)

    df = pl.DataFrame({"a": A, "b": B, "r": R})
    with pytest.warns(MedtrustWarning):
        out = evaluate(
            df, confid=["a", "b"], residual="r", ci=True, n_resamples=200, seed=3, nan_policy="omit"
        )
    clean = paired_bootstrap({"a": A[KEEP], "b": B[KEEP]}, R[KEEP], n_resamples=200, seed=3).ci(
        "aurc"
    )
    for row in out.iter_rows(named=True):
        assert row["aurc_low"] == clean[row["csf"]].low
        assert row["aurc_high"] == clean[row["csf"]].high


def test_omit_refuses_when_nothing_is_left_or_lengths_differ() -> None:
    with pytest.raises(EmptyInputError, match="all 2 sample"):
        paired_bootstrap({"a": [NAN, 0.2], "b": [0.1, NAN]}, [0, 1], nan_policy="omit")
    with pytest.raises(ShapeMismatchError, match=r"confids\['b'\] has 2"):
        paired_bootstrap({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2]}, [0, 1, 0], nan_policy="omit")
