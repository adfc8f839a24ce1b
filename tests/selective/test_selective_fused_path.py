"""The fused sort path of ``metrics`` (issue 13): inputs of at least 2^16 samples with many
distinct confidences and 0/1 residuals go from the inputs to every metric in one kernel, with
the input checks folded into its first pass (Python does not read the arrays again).

Checked here: the values against a vectorised numpy oracle, the checks (the same errors and
NaN policies as the Python validation, naming the argument), thread-count invariance, and that
clean inputs never reach the Python-side scan.
"""

import math

import numpy as np
import pytest

import medtrust.selective as sel
from medtrust import _native
from medtrust.exceptions import InvalidValueError, MedtrustWarning, NaNInputError
from reference.selective import vectorised_metrics

N = 70_000  # above the fused path's cutoff (2^16 samples)


def data(seed, n=N, levels=None):
    rng = np.random.default_rng(seed)
    conf = rng.random(n)
    if levels is not None:
        conf = np.round(conf * levels) / levels
    res = (rng.random(n) > conf).astype(np.float64)
    return conf, res


@pytest.mark.parametrize("seed,levels", [(0, None), (1, None), (2, 3000), (3, 50)])
def test_values_match_the_vectorised_oracle(seed, levels):
    conf, res = data(seed, levels=levels)
    got = sel.metrics(conf, res).to_dict()
    want = vectorised_metrics(conf, res)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
    assert got["n"] == N and math.isnan(got["aurc_ba"])


def test_confidences_outside_the_unit_interval_leave_calibration_nan():
    conf, res = data(4)
    got = sel.metrics(conf * 3 - 1, res)
    want = vectorised_metrics(conf * 3 - 1, res)
    assert "ece" not in want
    assert math.isnan(got.ece) and math.isnan(got.mce) and math.isnan(got.failure_nll)
    assert got.aurc == pytest.approx(want["aurc"], rel=1e-9)


def test_clean_inputs_are_not_scanned_in_python(monkeypatch):
    # Before issue 13, `prepare` ran `_native.describe` over both arrays (two extra reads of
    # 10^7 samples). Clean inputs now never call it, on every path: fused, hash (ties),
    # labels, continuous residuals, small inputs.
    cases = [data(5), data(6, n=600_000, levels=1000), data(7, n=300)]
    conf, res = data(8)
    cases.append((conf, res * 0.5))
    want = [sel.metrics(c, r).to_dict() for c, r in cases]
    labels = np.arange(N) % 3
    want_ba = sel.metrics(conf, res, labels=labels).to_dict()

    def scan(*_a, **_k):
        raise AssertionError("Python-side scan of clean inputs")

    monkeypatch.setattr(_native, "describe", scan)
    for (c, r), w in zip(cases, want, strict=True):
        got = sel.metrics(c, r).to_dict()
        assert got.keys() == w.keys()
        for k in w:
            assert got[k] == w[k] or (math.isnan(got[k]) and math.isnan(w[k])), k
    got_ba = sel.metrics(conf, res, labels=labels)
    assert got_ba.aurc_ba == want_ba["aurc_ba"]


@pytest.mark.parametrize(
    "where,value,exc,match",
    [
        ("confids", np.nan, NaNInputError, "confids"),
        ("confids", np.inf, NaNInputError, "confids"),
        ("residuals", np.nan, NaNInputError, "residuals"),
        ("residuals", -np.inf, NaNInputError, "residuals"),
        ("residuals", 1.5, InvalidValueError, r"\[0, 1\]"),
        ("residuals", -0.5, InvalidValueError, "check_range"),
    ],
)
def test_bad_values_in_large_inputs_raise_naming_the_argument(where, value, exc, match):
    conf, res = data(9)
    (conf if where == "confids" else res)[N - 3] = value
    with pytest.raises(exc, match=match):
        sel.metrics(conf, res)


def test_nan_policies_and_unchecked_range_on_the_fused_path():
    conf, res = data(10)
    conf[[5, 17]] = np.nan
    keep = ~np.isnan(conf)
    with pytest.warns(MedtrustWarning, match="dropped 2"):
        m = sel.metrics(conf, res, nan_policy="omit")
    assert m.n == N - 2 and m.n_dropped == 2
    assert m.aurc == sel.metrics(conf[keep], res[keep]).aurc
    assert math.isnan(sel.metrics(conf, res, nan_policy="propagate").aurc)
    c2, r2 = data(11)
    r2[::7] = 3.0  # an unbounded risk: continuous path, allowed without the range check
    v = sel.metrics(c2, r2, check_range=False)
    assert np.isfinite(v.aurc) and math.isnan(v.failure_auroc)


def test_thread_count_does_not_change_a_bit():
    code = (
        "import numpy as np, medtrust.selective as sel\n"
        "rng = np.random.default_rng(12)\n"
        "c = rng.random(200_000); r = (rng.random(200_000) > c).astype(float)\n"
        "print([float(v).hex() for v in sel.metrics(c, r).to_dict().values()])\n"
    )
    import os
    import subprocess
    import sys

    outs = set()
    for threads in ("1", "2", "3"):
        env = dict(os.environ, MEDTRUST_NUM_THREADS=threads)
        p = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
        )
        assert p.returncode == 0, p.stderr[-2000:]
        outs.add(p.stdout)
    assert len(outs) == 1
