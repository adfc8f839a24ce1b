"""medtrust.compat.torch_uncertainty against torch-uncertainty itself (test extra)."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtrust.compat import torch_uncertainty as mtu

tum = pytest.importorskip("torch_uncertainty.metrics", reason="torch-uncertainty is not installed")

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
NAMES = ["AURC", "AUGRC", "CovAt5Risk", "RiskAt80Cov"]


@st.composite
def batches(draw):
    n = draw(st.integers(1, 25))
    k = draw(st.sampled_from([1, 2, 3]))  # 1: binary P(class 1) vector
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    if k == 1:
        probs = torch.from_numpy(rng.random(n).astype(np.float32))
    else:
        probs = torch.softmax(torch.from_numpy(rng.normal(size=(n, k)).astype(np.float32)), -1)
    targets = torch.from_numpy(rng.integers(0, max(k, 2), n))
    return probs, targets


def same(a, b):
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    assert a.shape == b.shape
    assert torch.equal(a.isnan(), b.isnan())
    np.testing.assert_allclose(a[~a.isnan()].numpy(), b[~b.isnan()].numpy(), rtol=1e-6, atol=1e-7)


@SETTINGS
@given(data=batches(), name=st.sampled_from(NAMES), split=st.booleans())
def test_parity_with_torch_uncertainty(data, name, split):
    probs, targets = data
    ours, theirs = getattr(mtu, name)(), getattr(tum, name)()
    parts = [(probs, targets)]
    if split and len(targets) > 1:
        h = len(targets) // 2
        parts = [(probs[:h], targets[:h]), (probs[h:], targets[h:])]
    for p, t in parts:
        ours.update(p, t)
        theirs.update(p, t)
    if name == "RiskAt80Cov" and len(targets) == 0:
        return
    same(ours.compute(), theirs.compute())


def _expected_over_tie_orders(name, scores, errors):
    """Average of the per-order values over every order of the tied samples (brute force)."""
    vals = []
    n = len(scores)
    for perm in itertools.permutations(range(n)):
        # Descending by score; ties in the order of perm.
        order = sorted(perm, key=lambda i: -scores[i])
        e = np.array([errors[i] for i in order], float)
        rates = np.cumsum(e) / np.arange(1, n + 1)
        cov = np.arange(1, n + 1) / n
        y = rates if name == "AURC" else rates * cov
        if name == "RiskAt80Cov":
            vals.append(rates[math.ceil(n * 0.8) - 1])
        else:
            vals.append(np.sum(np.diff(cov) * (y[1:] + y[:-1]) / 2) / (1 - 1 / n))
    return float(np.mean(vals))


@pytest.mark.parametrize("name", ["AURC", "AUGRC", "RiskAt80Cov"])
def test_tie_exact_value_is_the_order_average(name):
    scores = [0.9, 0.7, 0.7, 0.7, 0.6]  # P(class 1) >= 0.5: the max is the score
    errors = [0, 1, 0, 1, 1]
    m = getattr(mtu, name)(ties="exact")
    # Binary probs whose max is the score and whose argmax error is the given one.
    probs = torch.tensor(scores)
    targets = torch.tensor([1 - e for e in errors])
    m.update(probs, targets)
    assert float(m.compute()) == pytest.approx(_expected_over_tie_orders(name, scores, errors))
    # And it does not depend on the input order.
    perm = torch.tensor([3, 0, 4, 2, 1])
    m2 = getattr(mtu, name)(ties="exact")
    m2.update(probs[perm], targets[perm])
    assert float(m2.compute()) == pytest.approx(float(m.compute()))


def test_small_n_and_bad_thresholds():
    m = mtu.AURC()
    m.update(torch.tensor([0.9]), torch.tensor([1]))
    assert torch.isnan(m.compute()).all()
    with pytest.raises(Exception, match="risk_threshold"):
        mtu.CovAtxRisk(risk_threshold=2.0)
    assert mtu.AURC()._reductions["scores"].__name__ == "dim_zero_cat"


def test_patch_routes_the_metrics():
    with mtu.patched() as replaced:
        assert "torch_uncertainty.metrics.AURC" in replaced
        assert tum.AURC is mtu.AURC
    assert tum.AURC is not mtu.AURC
