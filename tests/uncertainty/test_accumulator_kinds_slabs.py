"""EnsembleAccumulator(kinds=...) keeps only the sums its maps need; SlabAccumulator adds slabs
in place through the core's accumulate-at-offset kernel (issue 13, issue 9)."""

import tracemalloc

import numpy as np
import pytest

from medtrust.exceptions import InvalidArgumentError, InvalidValueError, ShapeMismatchError
from medtrust.uncertainty import EnsembleAccumulator, SlabAccumulator
from reference import uncertainty as ref

KINDS = [("pe", None), ("class_pe", 1), ("mean_prob", 2), ("max_prob", None)]


def _feed(members, **kw):
    acc = EnsembleAccumulator(**kw)
    for m in members:
        acc.add(m)
    return acc


@pytest.mark.parametrize("backend", ["rust", "torch"])
def test_lean_accumulator_gives_the_same_maps_and_refuses_ee_mi(backend):
    if backend == "torch":
        pytest.importorskip("torch", reason="the torch extra is not installed")
    rng = np.random.default_rng(3)
    members = ref.random_members(rng, 3, 3, (5, 6, 7))
    full = _feed(members, backend=backend)
    lean = _feed(members, backend=backend, kinds=["pe", "class_pe", "mean_prob", "max_prob"])
    assert full.keeps_member_entropy and not lean.keeps_member_entropy
    assert len(lean.state()[1]) == 0  # no V floats of entropy state
    got, want = np.asarray(lean.maps(KINDS)), np.asarray(full.maps(KINDS))
    np.testing.assert_array_equal(got, want)  # the same sums, bit for bit
    oracle = ref.maps(members)
    np.testing.assert_allclose(got[0], oracle["pe"], atol=2e-5)
    np.testing.assert_allclose(got[1], oracle["class_pe_1"], atol=2e-5)
    for call in (
        lambda: lean.maps([("mi", None)]),
        lambda: lean.expected_entropy(),
        lambda: lean.confidence_maps(["msr", "ee"]),
    ):
        with pytest.raises(InvalidArgumentError, match="entropies"):
            call()
    np.testing.assert_array_equal(
        np.asarray(lean.confidence_maps(["msr", "pe"])),
        np.asarray(full.confidence_maps(["msr", "pe"])),
    )


def test_kinds_with_ee_or_mi_keep_the_entropies_and_unknown_kinds_are_refused():
    rng = np.random.default_rng(4)
    members = ref.random_members(rng, 2, 2, (30,))
    acc = _feed(members, kinds=["mi"])
    assert acc.keeps_member_entropy
    np.testing.assert_allclose(acc.mutual_information(), ref.maps(members)["mi"], atol=2e-5)
    with pytest.raises(InvalidArgumentError, match="kinds"):
        EnsembleAccumulator(kinds=["pe", "entropy"])


def test_slab_accumulator_adds_in_place_bit_identical_to_whole_members():
    rng = np.random.default_rng(5)
    shape = (9, 40, 30)  # slabs of 1200-voxel rows: block boundaries fall inside slabs
    members = ref.random_members(rng, 3, 3, shape)
    acc = SlabAccumulator(3, shape)
    whole = _feed(members, n_classes=3)
    buffers = None
    for p in members:
        acc.add_slabs([(0, p[:, :4]), (4, p[:, 4:7]), (7, p[:, 7:])])
        buffers = buffers or acc.state()
    assert acc.state()[0] is buffers[0] and acc.state()[1] is buffers[1]  # summed in place
    for a, b in zip(acc.state(), whole.state()):
        np.testing.assert_array_equal(a, b)  # bit for bit, entropies included
    labels = acc.argmax()
    assert labels.dtype == np.uint8 and labels.shape == shape
    np.testing.assert_array_equal(labels, np.argmax(whole.mean_probs(), axis=0))
    # Without the members' entropies (kinds=), the probabilities are summed all the same.
    lean = SlabAccumulator(3, shape, kinds=["pe"])
    for p in members:
        lean.add_slabs([(0, p[:, :5]), (5, p[:, 5:])])
    assert len(lean.state()[1]) == 0
    np.testing.assert_array_equal(lean.state()[0], whole.state()[0])
    with pytest.raises(InvalidArgumentError, match="entropies"):
        lean.mutual_information()


def test_slab_add_allocates_no_slab_sized_copy():
    shape = (16, 64, 64)
    rng = np.random.default_rng(6)
    p = ref.random_members(rng, 1, 3, shape)[0]
    acc = SlabAccumulator(3, shape)
    # Slabs as the sliding window delivers them: contiguous [C, dz, Y, X] arrays, read in place.
    slabs = [(0, np.ascontiguousarray(p[:, :8])), (8, np.ascontiguousarray(p[:, 8:]))]
    tracemalloc.start()
    acc.add_slabs(slabs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < p[:, :8].nbytes // 8, peak


def test_slab_errors_name_the_problem():
    acc = SlabAccumulator(2, (2, 1, 3))
    p = np.full((2, 2, 1, 3), 0.5, np.float32)
    with pytest.raises(ShapeMismatchError, match="does not fit"):
        acc.add_slabs([(0, p[:, :, :, :2])])
    with pytest.raises(InvalidArgumentError, match="expected 1"):
        acc.add_slabs([(0, p[:, :1]), (0, p[:, 1:])])
    acc.reset()
    acc.add(p)
    bad = p.copy()
    bad[0, 1, 0, 0] = 0.9  # row 1 does not sum to 1: refused before it is added
    with pytest.raises(InvalidValueError, match="not valid probability"):
        acc.add_slabs([(0, p[:, :1]), (1, bad[:, 1:])])
    np.testing.assert_array_equal(acc.state()[0].reshape(2, 2, 3)[:, 1], 0.5)
    with pytest.raises(ShapeMismatchError):
        SlabAccumulator(2, (2, 3))


def test_reset_keep_buffers_reuses_the_state_across_images():
    rng = np.random.default_rng(7)
    a, b = ref.random_members(rng, 2, 3, (6, 5, 4)), ref.random_members(rng, 2, 3, (6, 5, 4))
    acc = _feed(a, kinds=["pe", "class_pe"])
    buf = acc.state()[0]
    acc.reset(keep_buffers=True)
    for m in b:
        acc.add(m)
    assert acc.state()[0] is buf  # zeroed and reused: no new allocation
    np.testing.assert_array_equal(acc.maps(KINDS), _feed(b, kinds=["pe"]).maps(KINDS))
    acc.reset()  # default: fresh buffers, the old arrays stay as they were
    acc.add(a[0])
    assert acc.state()[0] is not buf
    c = ref.random_members(rng, 1, 3, (2, 2))[0]
    acc.reset(keep_buffers=True)
    acc.add(c)  # another size: a new state
    assert acc.state()[0].size == c.size
