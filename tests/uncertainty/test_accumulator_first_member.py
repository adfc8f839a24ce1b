"""The first member is validated and stored in one pass (its sums overwrite the state's
buffers); a rejected first member leaves an empty accumulator; offered buffers are reused
(issue 13)."""

import numpy as np
import pytest

from medtrust.exceptions import DTypeError, InvalidValueError
from medtrust.uncertainty import EnsembleAccumulator
from reference import uncertainty as ref

KINDS = [("pe", None), ("class_pe", 1), ("max_prob", None)]


def _feed(members, **kw):
    acc = EnsembleAccumulator(**kw)
    for m in members:
        acc.add(m)
    return acc


@pytest.mark.parametrize("kinds", [None, ["pe", "class_pe", "max_prob"]])
def test_first_member_state_is_the_member_and_its_entropy(kinds):
    rng = np.random.default_rng(1)
    p = ref.random_members(rng, 1, 3, (7, 9, 11))[0]
    p[:, 0, 0, 0] = [-0.0, 1.0, 0.0]  # -0 is a valid probability; the sum of 0 + p is +0
    acc = _feed([p], kinds=kinds)
    sum_p, sum_ent = acc.state()
    np.testing.assert_array_equal(sum_p, p.reshape(-1))
    assert not np.signbit(sum_p).any()  # as adding to a zeroed state: +0, never -0
    if kinds is None:
        want = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(0)
        np.testing.assert_allclose(sum_ent, want.reshape(-1), atol=1e-6)
    else:
        assert sum_ent.size == 0


def test_rejected_first_member_leaves_an_empty_reusable_accumulator():
    rng = np.random.default_rng(2)
    a, b = ref.random_members(rng, 2, 3, (6, 5, 4)), ref.random_members(rng, 2, 3, (6, 5, 4))
    acc = _feed(a, kinds=["pe", "class_pe"])
    buf = acc.state()[0]
    acc.reset(keep_buffers=True)
    bad = b[0].copy()
    bad[0, 3, 2, 1] = np.nan
    with pytest.raises(InvalidValueError, match="1 voxel"):
        acc.add(bad)
    assert acc.n_members == 0 and acc.spatial_shape is None
    for m in b:
        acc.add(m)
    assert acc.state()[0] is buf  # the kept buffers survived the rejected member
    np.testing.assert_array_equal(acc.maps(KINDS), _feed(b, kinds=["pe"]).maps(KINDS))
    # A rejected second member leaves the sums of the first, bit for bit.
    before = acc.state()[0].copy()
    with pytest.raises(InvalidValueError):
        acc.add(bad)
    np.testing.assert_array_equal(acc.state()[0], before)


def test_offered_buffers_are_overwritten_not_added_to():
    rng = np.random.default_rng(3)
    a, b = ref.random_members(rng, 3, 4, (5, 6, 7)), ref.random_members(rng, 3, 4, (5, 6, 7))
    first = _feed(a)
    sum_p, sum_ent = first.state()
    second = EnsembleAccumulator()
    second.offer_buffers(sum_p, sum_ent)
    for m in b:
        second.add(m)
    assert second.state()[0] is sum_p and second.state()[1] is sum_ent
    fresh = _feed(b)
    np.testing.assert_array_equal(second.state()[0], fresh.state()[0])
    np.testing.assert_array_equal(second.state()[1], fresh.state()[1])
    # Buffers of another size (or without the entropy sum needed) are not used.
    other = EnsembleAccumulator(kinds=["pe"])
    other.offer_buffers(sum_p[:-4].copy(), np.zeros(0, np.float32))
    other.add(b[0])
    assert other.state()[0].size == b[0].size
    with pytest.raises(DTypeError, match="float32"):
        other.offer_buffers(sum_p.astype(np.float64), sum_ent)
