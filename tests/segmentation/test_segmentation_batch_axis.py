"""Batches of label maps are never pooled silently (issue 16): batch_axis or a clear error."""

import numpy as np
import pytest

from medtrust import segmentation as seg
from medtrust.exceptions import InvalidArgumentError
from reference import segmentation as ref


def _batch(seed=0, b=3, shape=(6, 7, 5)):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3, (b, *shape)).astype(np.uint8)
    p = t.copy()
    flip = rng.random(p.shape) < 0.2 * (1 + np.arange(b))[:, None, None, None]
    p[flip] = rng.integers(0, 3, flip.sum())
    return p, t


def test_four_axes_without_batch_axis_is_refused():
    p, t = _batch()
    for metric in (seg.dice, seg.iou):
        with pytest.raises(InvalidArgumentError, match="batch_axis=0"):
            metric(p, t)


@pytest.mark.parametrize("axis", [0, -1])
def test_batch_axis_gives_one_result_per_case(axis):
    p, t = _batch()
    if axis == -1:
        p, t = np.moveaxis(p, 0, -1), np.moveaxis(t, 0, -1)
    got = seg.dice(p, t, batch_axis=axis, n_classes=3)
    assert isinstance(got, list) and len(got) == 3
    for b in range(3):
        pb, tb = np.take(p, b, axis=axis), np.take(t, b, axis=axis)
        want = ref.dice_per_class(pb, tb, 3)
        assert [got[b].per_class[c] for c in (1, 2)] == pytest.approx(list(want[1:]))
    # the cases differ (noise grows with the index): pooling would have hidden that
    assert got[0].value > got[2].value
    ious = seg.iou(p, t, batch_axis=axis, n_classes=3)
    assert [r.value for r in ious] == pytest.approx(
        [seg.iou(np.take(p, b, axis=axis), np.take(t, b, axis=axis), n_classes=3).value
         for b in range(3)]
    )  # fmt: skip


def test_batch_axis_checked():
    p, t = _batch()
    with pytest.raises(InvalidArgumentError, match="batch_axis"):
        seg.dice(p, t, batch_axis=4)
    with pytest.raises(InvalidArgumentError, match="batch_axis"):
        seg.dice(p[0, 0, 0], t[0, 0, 0], batch_axis=0)
