"""The stateful segmentation metric: batches in, the same numbers as one call on everything."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.exceptions import (
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)
from medtrust.segmentation import SegmentationAccumulator, dice, iou
from reference import segmentation as ref


def _batches(seed, n_batches=4, n_classes=4):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.integers(0, n_classes, (3, 5, 6), dtype=np.uint8),
            rng.integers(0, n_classes, (3, 5, 6), dtype=np.uint8),
        )
        for _ in range(n_batches)
    ]


def test_equals_one_call_on_the_concatenated_volume_and_the_numpy_oracle():
    batches = _batches(0)
    acc = SegmentationAccumulator(4)
    for p, t in batches:
        acc.update(p, t)
    p_all = np.concatenate([p for p, _ in batches])
    t_all = np.concatenate([t for _, t in batches])
    for metric, fn in (("dice", dice), ("iou", iou)):
        got, want = acc.compute(metric), fn(p_all, t_all, n_classes=4)
        assert got.per_class == pytest.approx(want.per_class)
        assert got.value == pytest.approx(want.value)
    np.testing.assert_allclose(
        list(acc.compute().per_class.values()), ref.dice_per_class(p_all, t_all, 4)[1:]
    )
    assert acc.counts.n_voxels == p_all.size and acc.n_updates == 4


def test_hand_counts_and_ignore_label():
    acc = SegmentationAccumulator(2, ignore_label=255)
    acc.update(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 255]))
    acc.update(np.array([0, 1]), np.array([1, 1]))
    # class 1: TP = 2, FP = 1, FN = 1 -> Dice 4 / 6; the voxel under 255 counts nowhere.
    assert acc.compute().per_class == {1: pytest.approx(2 / 3)}
    assert acc.counts.n_ignored == 1 and acc.counts.n_voxels == 5


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_result_does_not_depend_on_how_the_voxels_are_split(seed, n_split):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 3, 60, dtype=np.uint8)
    t = rng.integers(0, 3, 60, dtype=np.uint8)
    whole = SegmentationAccumulator(3, include_background=True)
    whole.update(p, t)
    parts = SegmentationAccumulator(3, include_background=True)
    for ps, ts in zip(np.array_split(p, n_split), np.array_split(t, n_split)):
        parts.update(ps, ts)
    a, b = whole.compute(), parts.compute()
    assert a.per_class == b.per_class or (math.isnan(a.value) and math.isnan(b.value))
    np.testing.assert_array_equal(whole.counts.tp, parts.counts.tp)


def test_a_bad_batch_raises_and_leaves_the_state_untouched():
    acc = SegmentationAccumulator(3)
    acc.update(np.array([0, 1, 2]), np.array([0, 1, 1]))
    before = acc.counts.to_dict()
    with pytest.raises(ShapeMismatchError):
        acc.update(np.array([0, 1]), np.array([0, 1, 1]))
    with pytest.raises(InvalidValueError):
        acc.update(np.array([0, 3]), np.array([0, 1]))  # label outside [0, n_classes)
    with pytest.raises(DTypeError):
        acc.update(np.array([0.0, 1.0]), np.array([0, 1]))
    assert acc.counts.to_dict() == before and acc.n_updates == 1


def test_empty_policy_reset_and_argument_errors():
    acc = SegmentationAccumulator(3, empty="perfect")
    acc.update(np.array([0, 1]), np.array([0, 1]))
    assert acc.compute().per_class == {1: 1.0, 2: 1.0}  # class 2 absent everywhere: perfect
    skip = SegmentationAccumulator(3, empty="skip")
    skip.update(np.array([0, 1]), np.array([0, 1]))
    assert skip.compute().per_class == {1: 1.0}
    acc.reset()
    with pytest.raises(EmptyInputError):
        acc.compute()
    for bad in (dict(n_classes=1), dict(n_classes=2.0), dict(n_classes=3, ignore_label=1)):
        with pytest.raises(InvalidArgumentError):
            SegmentationAccumulator(**bad)
    with pytest.raises(InvalidArgumentError, match="outside"):
        SegmentationAccumulator(3, labels=[3])
    with pytest.raises(InvalidArgumentError, match="empty"):
        SegmentationAccumulator(3, empty="zero")
    with pytest.raises(InvalidArgumentError, match="metric"):
        SegmentationAccumulator(3).compute("hd")
