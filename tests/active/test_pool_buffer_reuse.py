"""The pool's accumulator source hands one image's state buffers to the next image when
nothing references them any more, so a query pays the allocation once (issue 13)."""

import numpy as np
import pytest

from medtrust.active import Pool, get_strategy
from medtrust.active.pool import AccumulatorSource
from reference import uncertainty as ref


@pytest.fixture(scope="module")
def probs():
    rng = np.random.default_rng(5)
    return {f"img{i}": ref.random_members(rng, 3, 3, (10, 12, 12)) for i in range(3)}


def test_buffers_move_to_the_next_image_only_when_released(probs):
    src = AccumulatorSource(lambda i: probs[i], {})
    acc = src("img0", kinds=["pe"])
    ptr = acc.state()[0].ctypes.data
    held = src("img1", kinds=["pe"])  # img0's accumulator is alive: new buffers
    assert held.state()[0].ctypes.data != ptr
    want0 = acc.maps([("pe", None)])
    fresh0 = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)("img0", ["pe"])
    np.testing.assert_array_equal(want0, fresh0.maps([("pe", None)]))
    ptr1 = held.state()[0].ctypes.data
    del acc, held
    acc2 = src("img2", kinds=["pe"])  # img1's buffers are free now: reused
    assert acc2.state()[0].ctypes.data == ptr1
    fresh2 = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)("img2", ["pe"])
    np.testing.assert_array_equal(acc2.maps([("pe", None)]), fresh2.maps([("pe", None)]))
    # An array of its state kept by the caller also keeps the buffers from being reused.
    kept = acc2.state()[0]
    del acc2
    acc3 = src("img0", kinds=["pe"])
    assert acc3.state()[0].ctypes.data != kept.ctypes.data
    np.testing.assert_array_equal(kept, fresh2.state()[0])  # untouched


@pytest.mark.parametrize("name", ["clasp_pe", "bald"])
def test_queries_with_reused_buffers_equal_queries_without(probs, name):
    shapes = {k: v.shape[2:] for k, v in probs.items()}
    kw = {"patch_size": 4, "stride": 2}
    reuse = AccumulatorSource(lambda i: probs[i], {})
    plain = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)
    a = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=reuse), size=6)
    b = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=plain), size=6)
    assert list(a.patches) == list(b.patches) and len(a.patches) == 6
    assert reuse._held is not None and plain._held is None
