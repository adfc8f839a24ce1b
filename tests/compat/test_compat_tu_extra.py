"""medtrust.compat.torch_uncertainty's FPRx / FPR95 / adaptive ECE against torch-uncertainty."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtrust.compat import torch_uncertainty as mtu
from medtrust.compat._tu_extra import adaptive_calibration_error, fpr_at_recall
from medtrust.exceptions import InvalidArgumentError, InvalidValueError

tum = pytest.importorskip("torch_uncertainty.metrics", reason="torch-uncertainty is not installed")
from torch_uncertainty.metrics.classification.fpr import FPRx as PeerFPRx  # noqa: E402

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@SETTINGS
@given(
    st.integers(1, 60),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0.0, 0.3, 0.5, 0.9, 0.95, 1.0]),
    st.booleans(),
)
def test_fprx_matches_peer(n, seed, level, ties):
    rng = np.random.default_rng(seed)
    conf = rng.integers(0, 5, n) / 4 if ties else rng.random(n)
    conf = torch.from_numpy(conf.astype(np.float32))
    target = torch.from_numpy(rng.integers(0, 2, n))
    ours, theirs = mtu.FPRx(recall_level=level, pos_label=1), PeerFPRx(level, pos_label=1)
    ours.update(conf, target)
    theirs.update(conf, target)
    a, b = ours.compute(), theirs.compute()
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(np.isnan(a.numpy()), np.isnan(b.numpy()))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_fpr95_documented_example():
    # torch-uncertainty's docstring example: 0.75.
    m = mtu.FPR95(pos_label=1)
    m.update(torch.tensor([0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.1]), torch.tensor([1, 0, 1, 0, 0, 1, 0]))
    assert float(m.compute()) == 0.75
    # Hand-derived: a tie group is never split, so recall 0.9 needs the whole 0.5 group.
    assert (
        float(fpr_at_recall(torch.tensor([0.9, 0.5, 0.5, 0.1]), torch.tensor([1, 0, 1, 0]), 0.9, 1))
        == 0.5
    )


@SETTINGS
@given(
    st.integers(1, 80),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["l1", "l2", "max"]),
    st.integers(1, 15),
    st.sampled_from(["binary", "multiclass"]),
)
def test_adaptive_calibration_error_matches_peer(n, seed, norm, bins, task):
    rng = np.random.default_rng(seed)
    if task == "binary":
        probs = torch.from_numpy(rng.random(n).astype(np.float32))
        targets = torch.from_numpy(rng.integers(0, 2, n))
        kw = {}
    else:
        logits = torch.from_numpy(rng.normal(size=(n, 4)).astype(np.float32))
        probs = logits.softmax(-1)
        targets = torch.from_numpy(rng.integers(0, 4, n))
        kw = {"num_classes": 4}
    ours = mtu.AdaptiveCalibrationError(task=task, num_bins=bins, norm=norm, **kw)
    theirs = tum.AdaptiveCalibrationError(task=task, num_bins=bins, norm=norm, **kw)
    ours.update(probs, targets)
    theirs.update(probs, targets)
    a, b = ours.compute().double().numpy(), theirs.compute().double().numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_ace_hand_example():
    # Bins {0.6, 0.7} and {0.8, 0.9}: gaps |0.5 - 0.65| and |1 - 0.85|, weights 1/2 each.
    c = torch.tensor([0.6, 0.7, 0.8, 0.9])
    a = torch.tensor([1.0, 0.0, 1.0, 1.0])
    assert abs(float(adaptive_calibration_error(c, a, 2, "l1")) - 0.15) < 1e-7
    assert abs(float(adaptive_calibration_error(c, a, 2, "max")) - 0.15) < 1e-7


def test_options_are_checked():
    with pytest.raises(InvalidValueError, match="recall_level"):
        mtu.FPRx(recall_level=1.5, pos_label=1)
    with pytest.raises(InvalidArgumentError, match="ignore_index"):
        mtu.AdaptiveCalibrationError(task="binary", ignore_index=0)
    with pytest.raises(InvalidArgumentError, match="norm"):
        mtu.AdaptiveCalibrationError(task="binary", norm="l3")
    with pytest.raises(InvalidArgumentError, match="task"):
        mtu.AdaptiveCalibrationError(task="multilabel")


def test_patch_routes_the_new_classes():
    with mtu.patched(["FPR95", "AdaptiveCalibrationError"]) as replaced:
        assert "torch_uncertainty.metrics.FPR95" in replaced
        assert tum.FPR95 is mtu.FPR95
    assert tum.FPR95 is not mtu.FPR95
