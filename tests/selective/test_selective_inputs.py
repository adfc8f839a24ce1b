"""Bad inputs give clear medtrust errors before any work; other input types, same numbers."""

import numpy as np
import polars as pl
import pytest
import torch

import medtrust.selective as sel
from medtrust.exceptions import (
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    MedtrustWarning,
    NaNInputError,
    ShapeMismatchError,
)

CONF = [0.9, 0.8, 0.8, 0.3]
RES = [0, 1, 0, 1]


@pytest.mark.parametrize(
    "conf,res,exc,match",
    [
        ([], [], EmptyInputError, "empty"),
        ([0.1, 0.2], [0], ShapeMismatchError, "same length"),
        ([[0.1, 0.2], [0.3, 0.4]], [0, 1, 0, 1], ShapeMismatchError, "1-D"),
        (["a", "b"], [0, 1], DTypeError, "numeric"),
        ("abc", [0, 1, 0], DTypeError, "array-like"),
        ([0.1, np.nan], [0, 1], NaNInputError, "nan_policy"),
        ([0.1, 0.2], [0, np.inf], NaNInputError, "residuals"),
        ([0.1, 0.2], [0, 1.5], InvalidValueError, r"\[0, 1\]"),
        ([0.1, 0.2], [-0.5, 1], InvalidValueError, "check_range"),
    ],
)
def test_bad_inputs_raise_clear_errors(conf, res, exc, match):
    with pytest.raises(exc, match=match):
        sel.metrics(conf, res)
    with pytest.raises(ValueError):  # every medtrust input error is a ValueError
        sel.aurc(conf, res)


def test_bad_options():
    with pytest.raises(InvalidArgumentError, match="nan_policy"):
        sel.aurc(CONF, RES, nan_policy="drop")
    with pytest.raises(InvalidArgumentError, match="bins"):
        sel.metrics(CONF, RES, bins=0)
    with pytest.raises(InvalidValueError, match="binary"):
        sel.failure_auroc(CONF, [0, 0.5, 0, 1])
    with pytest.raises(InvalidValueError, match=r"\[0, 1\]"):
        sel.ece([1.5, 0.2], [0, 1])
    with pytest.raises(InvalidValueError, match="integer"):
        sel.aurc_ba(CONF, RES, [0, 0.5, 1, 1])
    with pytest.raises(InvalidArgumentError, match="alpha"):
        sel.bootstrap_ci(CONF, RES, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="n_resamples"):
        sel.bootstrap_ci(CONF, RES, n_resamples=0)
    with pytest.raises(InvalidArgumentError, match="metric"):
        sel.bootstrap_ci(CONF, RES, metric="nope")


def test_nan_policy_omit_reports_count_and_propagate_returns_nan():
    conf = [0.9, np.nan, 0.8, 0.8, 0.3]
    res = [0, 1, 1, 0, 1]
    with pytest.warns(MedtrustWarning, match="dropped 1"):
        m = sel.metrics(conf, res, nan_policy="omit")
    assert m.n_dropped == 1 and m.n == 4
    assert m.aurc == pytest.approx(0.1875)
    p = sel.metrics(conf, res, nan_policy="propagate")
    assert np.isnan(p.aurc) and np.isnan(p.augrc)
    assert np.isnan(sel.aurc(conf, res, nan_policy="propagate"))
    with pytest.raises(EmptyInputError), pytest.warns(MedtrustWarning):
        sel.aurc([np.nan], [1], nan_policy="omit")


def test_check_range_false_allows_unbounded_risks():
    hd95 = [3.0, 12.5, 4.0, 40.0]
    v = sel.aurc(CONF, hd95, check_range=False)
    assert v > 0 and np.isfinite(v)


def test_torch_polars_and_sequences_give_numpy_numbers():
    expected = sel.metrics(np.array(CONF), np.array(RES, float)).to_dict()
    variants = [
        (torch.tensor(CONF), torch.tensor(RES)),
        (torch.tensor(CONF, dtype=torch.float64, requires_grad=True), torch.tensor(RES)),
        (torch.tensor(CONF, dtype=torch.bfloat16), torch.tensor(RES, dtype=torch.bool)),
        (pl.Series(CONF), pl.Series(RES)),
        (tuple(CONF), tuple(RES)),
        (np.array(CONF, np.float32), np.array(RES, np.int8)),
    ]
    for conf, res in variants[:2] + variants[3:]:
        got = sel.metrics(conf, res).to_dict()
        for k, v in expected.items():
            assert (np.isnan(v) and np.isnan(got[k])) or got[k] == pytest.approx(v, abs=1e-7), k
    # bfloat16 rounds the confidences but keeps their order and ties: same ranking metrics
    got = sel.metrics(*variants[2])
    assert got.aurc == expected["aurc"] and got.augrc == expected["augrc"]


def test_float64_contiguous_input_is_not_copied():
    from medtrust._arrays import as_float_1d

    a = np.linspace(0, 1, 10)
    assert as_float_1d(a, "a") is a
