"""A dropped (or reset) accumulator leaves its state buffers to the next one of the same size,
so that one accumulator per image maps the state's pages once (issue 13); buffers that a caller
still refers to are never reused."""

import gc
import weakref

import numpy as np
import pytest

from medtrust.exceptions import InvalidValueError
from medtrust.uncertainty import EnsembleAccumulator
from reference import uncertainty as ref

KINDS = [("pe", None), ("ee", None), ("mi", None), ("class_pe", 2)]
SHAPE = (6, 7, 8)


@pytest.fixture(autouse=True)
def no_kept_buffers():
    # Accumulators of earlier tests are let go first: dropped inside a test, they would
    # replace the pair it checks (a failed test's frames live on until pytest drops them).
    gc.collect()
    EnsembleAccumulator.release_buffers()
    yield
    gc.collect()
    EnsembleAccumulator.release_buffers()


def _feed(members, **kw):
    acc = EnsembleAccumulator(**kw)
    for m in members:
        acc.add(m)
    return acc


def _refs(acc):
    """Weak references to the state's buffers (they keep nothing alive; addresses would not
    do: the allocator hands a freed block's address to the next buffer)."""
    return tuple(weakref.ref(b) for b in acc.state())


def _same(acc, refs):
    """Whether ``acc``'s buffers are the objects ``refs`` point to."""
    return all(b is r() for b, r in zip(acc.state(), refs))


def _members(seed, m=3, c=4):
    return ref.random_members(np.random.default_rng(seed), m, c, SHAPE)


def test_a_dropped_accumulators_buffers_serve_the_next_one():
    a, b = _members(1), _members(2)
    first = _feed(a)
    refs = _refs(first)
    del first
    gc.collect()
    second = _feed(b)
    assert _same(second, refs)  # the same buffers, no new pages
    EnsembleAccumulator.release_buffers()
    fresh = _feed(b)
    assert not _same(fresh, refs)
    # Overwritten by the first member, not added to: the sums of a fresh state, bit for bit.
    for x, y in zip(second.state(), fresh.state()):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(second.maps(KINDS), fresh.maps(KINDS))


def test_reset_without_keep_buffers_leaves_them_to_the_next_accumulator():
    acc = _feed(_members(3))
    refs = _refs(acc)
    acc.reset()
    assert _same(_feed(_members(4)), refs)


@pytest.mark.parametrize("hold", ["array", "view", "memoryview", "entropy view"])
def test_buffers_a_caller_still_refers_to_are_never_reused(hold):
    first = _feed(_members(5))
    sum_p, sum_ent = first.state()
    kept = {
        "array": sum_p,
        "view": sum_p.reshape(4, -1)[1:],
        "memoryview": memoryview(sum_p),
        "entropy view": sum_ent[3:],
    }[hold]
    snapshot = np.array(kept, copy=True)
    refs = _refs(first)
    del first, sum_p, sum_ent
    gc.collect()
    second = _feed(_members(6))
    assert all(b is not r() for b, r in zip(second.state(), refs))
    np.testing.assert_array_equal(np.asarray(kept), snapshot)  # untouched by the new sums


def test_other_sizes_and_the_entropy_less_state_take_fresh_buffers():
    first = _feed(_members(7))  # every sum kept: C x V and V floats
    refs = _refs(first)
    del first
    gc.collect()
    # Without the members' entropies (a state of another shape): not this pair.
    pe_only = _feed(_members(8), kinds=["pe"])
    assert pe_only.state()[0] is not refs[0]()
    # The pair is still kept for an accumulator that matches it.
    assert _same(_feed(_members(9)), refs)
    # Another number of classes: fresh buffers.
    del pe_only
    gc.collect()
    assert _feed(_members(10, c=3)).state()[0].size == 3 * np.prod(SHAPE)


def test_a_rejected_first_member_keeps_the_taken_buffers():
    first = _feed(_members(11))
    refs = _refs(first)
    del first
    gc.collect()
    acc = EnsembleAccumulator()
    bad = _members(12)[0].copy()
    bad[0, 1, 2, 3] = np.nan
    with pytest.raises(InvalidValueError):
        acc.add(bad)
    assert acc.n_members == 0
    good = _members(13)
    for m in good:
        acc.add(m)
    assert _same(acc, refs)
    np.testing.assert_array_equal(acc.maps(KINDS), _feed(good).maps(KINDS))
