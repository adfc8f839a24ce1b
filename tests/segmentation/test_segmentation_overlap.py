import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust import segmentation as seg
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    MedtrustError,
    ShapeMismatchError,
)
from reference import segmentation as ref

DTYPES = [np.uint8, np.uint16, np.int32, np.int64]


def random_maps(rng, shape, c, zero=0.5):
    a = rng.integers(0, c, size=shape)
    a[rng.random(shape) < zero] = 0
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(37, 41), (9, 17, 23)])
def test_counts_and_dice_match_numpy_oracle(dtype, shape):
    rng = np.random.default_rng(0)
    p = random_maps(rng, shape, 4).astype(dtype)
    t = random_maps(rng, shape, 4).astype(dtype)
    c = seg.confusion_counts(p, t, n_classes=5)
    tp, fp, fn = ref.confusion(p, t, 5)
    assert c.tp.tolist() == tp.tolist()
    assert c.fp.tolist() == fp.tolist()
    assert c.fn.tolist() == fn.tolist()
    assert int(c.tn.sum() + c.tp.sum() + c.fp.sum() + c.fn.sum()) == 5 * p.size
    want = ref.dice_per_class(p, t, 5)
    r = seg.dice(p, t, n_classes=5)
    # class 4 is absent from both maps: NaN by default, listed as empty
    assert r.empty_classes == (4,)
    assert math.isnan(r.per_class[4])
    for k in (1, 2, 3):
        assert r.per_class[k] == pytest.approx(want[k], abs=1e-15)
    assert r.value == pytest.approx(np.nanmean(want[1:]), abs=1e-15)
    assert r.n_valid == 3


def test_ignore_label_counts_nowhere():
    rng = np.random.default_rng(1)
    p = random_maps(rng, (30, 30), 3).astype(np.uint8)
    t = random_maps(rng, (30, 30), 3).astype(np.uint8)
    t[rng.random(t.shape) < 0.2] = 255
    c = seg.confusion_counts(p, t, ignore_label=255)
    assert c.n_ignored == int((t == 255).sum())
    tp, fp, fn = ref.confusion(p, t, 3, ignore=255)
    assert (c.tp.tolist(), c.fp.tolist(), c.fn.tolist()) == (tp.tolist(), fp.tolist(), fn.tolist())
    d = seg.dice(p, t, ignore_label=255)
    want = ref.dice_per_class(p, t, 3, ignore=255)
    assert d.per_class == pytest.approx({1: want[1], 2: want[2]})


def test_empty_policies():
    p = np.array([0, 1, 1, 0], np.uint8)
    t = np.array([0, 1, 0, 0], np.uint8)
    r = seg.dice(p, t, labels=[1, 2])
    assert r.empty_classes == (2,) and math.isnan(r.per_class[2]) and r.n_valid == 1
    assert r.value == pytest.approx(2 / 3)
    one = seg.dice(p, t, labels=[1, 2], empty="perfect")
    assert one.per_class[2] == 1.0 and one.value == pytest.approx((2 / 3 + 1) / 2)
    skip = seg.dice(p, t, labels=[1, 2], empty="skip")
    assert 2 not in skip.per_class and skip.empty_classes == (2,)
    # one map empty: 0, never NaN
    assert seg.dice(np.zeros(4, bool), np.array([1, 0, 0, 0], bool)).value == 0.0
    with pytest.raises(InvalidArgumentError):
        seg.dice(p, t, empty="zero")


def test_iou_and_derived_counts():
    p = np.array([1, 1, 1, 0, 0], bool)
    t = np.array([1, 1, 0, 1, 0], bool)
    assert seg.iou(p, t).value == pytest.approx(0.5)
    c = seg.confusion_counts(p, t)
    assert c.precision()[1] == pytest.approx(2 / 3)
    assert c.recall()[1] == pytest.approx(2 / 3)
    assert c.volume_difference()[1] == pytest.approx(0.0)
    assert c.to_frame().height == 2
    assert seg.dice(p, t).to_frame()["status"].to_list() == ["ok"]


def test_mixed_dtypes_and_torch_inputs():
    torch = pytest.importorskip("torch")
    p = np.array([[0, 1], [2, 2]], np.uint8)
    t = torch.tensor([[0, 1], [2, 1]])
    assert seg.dice(p, t).per_class == {1: pytest.approx(2 / 3), 2: pytest.approx(2 / 3)}


def test_bad_inputs_give_clear_errors():
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(ShapeMismatchError, match=r"\(4, 4\).*\(4, 5\)"):
        seg.dice(a, np.zeros((4, 5), np.uint8))
    with pytest.raises(DTypeError, match="float"):
        seg.dice(a.astype(np.float32), a)
    with pytest.raises(InvalidValueError, match="negative"):
        seg.dice(a.astype(np.int32) - 1, a)
    with pytest.raises(InvalidValueError, match="outside"):
        seg.confusion_counts(a + 3, a, n_classes=2)
    with pytest.raises(InvalidArgumentError):
        seg.confusion_counts(a, a, ignore_label=0)
    with pytest.raises(InvalidArgumentError):
        seg.dice(a, a, labels=[7], n_classes=3)
    with pytest.raises(MedtrustError):
        seg.dice(np.zeros(0, np.uint8), np.zeros(0, np.uint8))


@pytest.mark.parametrize("m", [2, 3, 5])
def test_pairwise_dice_matches_per_pair_oracle(m):
    rng = np.random.default_rng(m)
    base = random_maps(rng, (12, 15, 11), 4, zero=0.6)
    members = []
    for _ in range(m):
        x = base.copy()
        flip = rng.random(x.shape) < 0.15
        x[flip] = rng.integers(0, 4, size=flip.sum())
        members.append(x.astype(np.uint8))
    r = seg.pairwise_dice(members, n_classes=5)
    want = ref.pairwise_dice(members, [1, 2, 3, 4])
    assert r.per_class == pytest.approx(want, abs=1e-14)  # class 4 empty everywhere -> 1
    assert r.value == pytest.approx(np.mean(list(want.values())))
    stacked = seg.pairwise_dice(np.stack(members), n_classes=5)
    assert stacked.value == r.value
    assert r.to_frame().height == m * (m - 1) // 2 * 4


def test_pairwise_dice_large_label_space_uses_direct_path():
    rng = np.random.default_rng(3)
    members = [rng.integers(0, 60, size=(20, 30)).astype(np.int32) for _ in range(4)]
    r = seg.pairwise_dice(members, n_classes=60)
    want = ref.pairwise_dice(members, range(1, 60))
    assert r.per_class == pytest.approx(want, abs=1e-14)


def test_pairwise_dice_errors():
    a = np.zeros((3, 3), np.uint8)
    with pytest.raises(InvalidArgumentError):
        seg.pairwise_dice([a])
    with pytest.raises(ShapeMismatchError):
        seg.pairwise_dice([a, np.zeros((3, 4), np.uint8)])
    with pytest.raises(DTypeError):
        seg.pairwise_dice([a, a.astype(float)])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(2, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([*DTYPES, np.bool_]),
)
def test_counts_property(n, c, seed, dtype):
    rng = np.random.default_rng(seed)
    hi = 2 if dtype is np.bool_ else c
    p = rng.integers(0, hi, size=n).astype(dtype)
    t = rng.integers(0, hi, size=n).astype(dtype)
    k = max(hi, 2)
    got = seg.confusion_counts(p, t, n_classes=k)
    tp, fp, fn = ref.confusion(p.astype(int), t.astype(int), k)
    assert got.tp.tolist() == tp.tolist() and got.fp.tolist() == fp.tolist()
    assert got.fn.tolist() == fn.tolist()
