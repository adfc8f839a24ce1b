"""medtrust.compat.torchmetrics against torchmetrics itself (installed by the test extra)."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtrust.compat import torchmetrics as mt

tm_fn = pytest.importorskip(
    "torchmetrics.functional.segmentation", reason="torchmetrics (test extra) is not installed"
)
tm_seg = pytest.importorskip("torchmetrics.segmentation")

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def same(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    x, y = a.double().numpy(), b.double().numpy()
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    fin = np.isfinite(y)
    np.testing.assert_allclose(x[fin], y[fin], rtol=1e-6, atol=1e-7)


def peer(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@st.composite
def inputs(draw):
    n = draw(st.integers(2, 5))
    b = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(draw(st.sampled_from([2, 3]))))
    top = draw(st.integers(1, n))  # absent classes when top < n
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    p = torch.from_numpy(rng.integers(0, top, (b, *shape)))
    t = torch.from_numpy(rng.integers(0, top, (b, *shape)))
    fmt = draw(st.sampled_from(["index", "one-hot-int", "one-hot-float", "mixed"]))
    oh = lambda x: torch.nn.functional.one_hot(x, n).movedim(-1, 1)  # noqa: E731
    if fmt == "one-hot-int":
        return oh(p), oh(t), n, "one-hot"
    if fmt == "one-hot-float":
        scores = torch.from_numpy(rng.random((b, n, *shape)).astype(np.float32))
        return scores, oh(t), n, "one-hot"
    if fmt == "mixed":
        return oh(p), t, n, "mixed"
    return p, t, n, "index"


@SETTINGS
@given(
    case=inputs(),
    inc=st.booleans(),
    average=st.sampled_from(["micro", "macro", "weighted", "none"]),
    level=st.sampled_from(["samplewise", "global"]),
)
def test_dice_score_parity(case, inc, average, level):
    p, t, n, fmt = case
    kw = dict(
        num_classes=n,
        include_background=inc,
        average=average,
        input_format=fmt,
        aggregation_level=level,
    )
    same(mt.dice_score(p, t, **kw), peer(tm_fn.dice_score, p, t, **kw))
    ours, theirs = mt.DiceScore(**kw), peer(tm_seg.DiceScore, **kw)
    for _ in range(2):
        ours.update(p, t)
        peer(theirs.update, p, t)
    same(ours.compute(), peer(theirs.compute))


@SETTINGS
@given(
    case=inputs(),
    inc=st.booleans(),
    per_class=st.booleans(),
    wt=st.sampled_from(["square", "simple", "linear"]),
)
def test_generalized_dice_and_iou_parity(case, inc, per_class, wt):
    p, t, n, fmt = case
    kw = dict(num_classes=n, include_background=inc, per_class=per_class, input_format=fmt)
    same(
        mt.generalized_dice_score(p, t, weight_type=wt, **kw),
        peer(tm_fn.generalized_dice_score, p, t, weight_type=wt, **kw),
    )
    same(mt.mean_iou(p, t, **kw), peer(tm_fn.mean_iou, p, t, **kw))
    for ours, theirs in (
        (
            mt.GeneralizedDiceScore(weight_type=wt, **kw),
            tm_seg.GeneralizedDiceScore(weight_type=wt, **kw),
        ),
        (mt.MeanIoU(**kw), tm_seg.MeanIoU(**kw)),
    ):
        for _ in range(2):
            ours.update(p, t)
            peer(theirs.update, p, t)
        same(ours.compute(), peer(theirs.compute))


def test_states_reduce_like_torchmetrics():
    d = mt.DiceScore(num_classes=3)
    assert d._reductions.keys() == {"numerator", "denominator", "support"}
    assert all(r.__name__ == "dim_zero_cat" for r in d._reductions.values())
    g = mt.GeneralizedDiceScore(num_classes=3)
    assert all(r.__name__ == "dim_zero_sum" for r in g._reductions.values())
    # forward() gives the batch value and accumulates; reset() empties.
    p = torch.tensor([[0, 1, 1, 2]])
    t = torch.tensor([[0, 1, 2, 2]])
    m = mt.DiceScore(num_classes=3, average="none", input_format="index")
    assert torch.allclose(m(p, t), torch.tensor([1.0, 2 / 3, 2 / 3]))
    m.reset()
    assert m.numerator == []


def test_docs_example_patched_equals_unpatched():
    # torchmetrics' own docstring example of dice_score (index tensors).
    def example():
        torch.manual_seed(42)
        preds = torch.randint(0, 5, (4, 16, 16))
        target = torch.randint(0, 5, (4, 16, 16))
        return tm_fn.dice_score(preds, target, num_classes=5, average="none", input_format="index")

    before = example()
    with mt.patched() as replaced:
        assert "torchmetrics.functional.segmentation.dice_score" in replaced
        after = example()
        assert tm_fn.dice_score is mt.dice_score
    same(after, before)
    assert tm_fn.dice_score is not mt.dice_score
