"""``EnsembleAccumulator.add_members``: a stacked ensemble [M, C, ...] in one pass, equal bit for
bit to adding the members one at a time, errors included (issue 13)."""

import numpy as np
import pytest

from medtrust.exceptions import DTypeError, InvalidValueError, ShapeMismatchError
from medtrust.uncertainty import EnsembleAccumulator
from medtrust.uncertainty.slabs import SlabAccumulator
from reference import uncertainty as ref


def _bits(acc):
    return [a.view(np.uint32).copy() for a in acc.state()]


def _loop(stack, **opts):
    acc = EnsembleAccumulator(**opts)
    for p in stack:
        acc.add(p)
    return acc


@pytest.mark.parametrize("kinds", [None, ["pe", "class_pe"]])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_stack_equals_the_member_loop_bit_for_bit(kinds, dtype):
    rng = np.random.default_rng(3)
    # 9 * 20 * 50 voxels: more than one block of the kernel, and a ragged last one.
    stack = ref.random_members(rng, 5, 3, (9, 20, 50)).astype(dtype)
    a = EnsembleAccumulator(kinds=kinds)
    a.add_members(stack)
    b = _loop(stack, kinds=kinds)
    assert a.n_members == b.n_members == 5
    for x, y in zip(_bits(a), _bits(b)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.maps([("pe", None)]), b.maps([("pe", None)]))


def test_later_stacks_lists_and_torch_backends_take_the_loop():
    rng = np.random.default_rng(4)
    stack = ref.random_members(rng, 4, 2, (6, 7, 8))
    a = EnsembleAccumulator()
    a.add_members(stack[:2])  # one pass
    a.add_members(stack[2:])  # the state exists: member by member
    b = EnsembleAccumulator()
    b.add_members(list(stack))  # a list of members
    want = _bits(_loop(stack))
    for acc in (a, b):
        assert acc.n_members == 4
        for x, y in zip(_bits(acc), want):
            np.testing.assert_array_equal(x, y)
    torch = pytest.importorskip("torch", reason="torch backend (the torch extra)")
    t = EnsembleAccumulator(backend="torch")
    t.add_members(torch.from_numpy(stack))
    assert t.n_members == 4
    np.testing.assert_allclose(
        t.maps([("pe", None)]).numpy(), _loop(stack).maps([("pe", None)]), rtol=1e-5, atol=1e-6
    )


def test_invalid_member_is_named_and_the_members_before_it_stay_added():
    rng = np.random.default_rng(5)
    stack = ref.random_members(rng, 4, 3, (5, 6, 7))
    stack[2, 1, 3, 2, 1] = np.nan  # member 2
    stack[3, 0, 0, 0, 0] = 2.0  # member 3 too: the lower index is reported
    acc = EnsembleAccumulator()
    with pytest.raises(InvalidValueError, match=r"^member 2: 1 voxel\(s\) are not valid"):
        acc.add_members(stack)
    assert acc.n_members == 2
    for x, y in zip(_bits(acc), _bits(_loop(stack[:2]))):
        np.testing.assert_array_equal(x, y)
    # Invalid from the first member: nothing added, and the accumulator stays usable.
    empty = EnsembleAccumulator()
    with pytest.raises(InvalidValueError, match=r"^member 0: "):
        empty.add_members(stack[3:])
    assert empty.n_members == 0
    empty.add_members(stack[:2])
    assert empty.n_members == 2


def test_bad_stacks_are_refused_before_any_work():
    acc = EnsembleAccumulator(n_classes=3)
    with pytest.raises(ShapeMismatchError, match="classes"):
        acc.add_members(np.full((2, 2, 4, 4), 0.5, np.float32))
    with pytest.raises(DTypeError):
        acc.add_members(np.ones((2, 3, 4, 4), np.int32))
    assert acc.n_members == 0


def test_offered_buffers_are_used_by_a_stack():
    rng = np.random.default_rng(6)
    stack = ref.random_members(rng, 3, 2, (4, 5, 6))
    first = EnsembleAccumulator(kinds=["pe"])
    first.add_members(stack)
    bufs = first.state()
    ptr = bufs[0].ctypes.data
    del first
    nxt = EnsembleAccumulator(kinds=["pe"])
    nxt.offer_buffers(*bufs)
    del bufs
    nxt.add_members(stack[::-1])
    assert nxt.state()[0].ctypes.data == ptr
    for x, y in zip(_bits(nxt), _bits(_loop(stack[::-1], kinds=["pe"]))):
        np.testing.assert_array_equal(x, y)


def test_slab_accumulator_takes_a_stack_member_by_member():
    # Its state exists before any member: the stack goes through its own add.
    rng = np.random.default_rng(7)
    stack = ref.random_members(rng, 3, 2, (4, 5, 6))
    slab = SlabAccumulator(2, (4, 5, 6))
    slab.add_members(stack)
    assert slab.n_members == 3
    for x, y in zip(_bits(slab), _bits(_loop(stack))):
        np.testing.assert_array_equal(x, y)
