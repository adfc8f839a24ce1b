"""The pool's accumulator source lets one image's state buffers serve the next image when
nothing references them any more, so a query pays the allocation once (issue 13)."""

import gc
import weakref

import numpy as np
import pytest

from medtrust.active import Pool, get_strategy
from medtrust.active.pool import AccumulatorSource
from medtrust.uncertainty import EnsembleAccumulator
from reference import uncertainty as ref


@pytest.fixture(scope="module")
def probs():
    rng = np.random.default_rng(5)
    return {f"img{i}": ref.random_members(rng, 3, 3, (10, 12, 12)) for i in range(3)}


@pytest.fixture(autouse=True)
def no_kept_buffers():
    gc.collect()
    EnsembleAccumulator.release_buffers()


def test_buffers_move_to_the_next_image_only_when_released(probs):
    # Weak references name the buffers (an address would not: the allocator hands a freed
    # block's address to the next buffer).
    src = AccumulatorSource(lambda i: probs[i], {})
    acc = src("img0", kinds=["pe"])
    held = src("img1", kinds=["pe"])  # img0's accumulator is alive: new buffers
    assert held.state()[0] is not acc.state()[0]
    want0 = acc.maps([("pe", None)])
    fresh0 = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)("img0", ["pe"])
    np.testing.assert_array_equal(want0, fresh0.maps([("pe", None)]))
    buffer1 = weakref.ref(held.state()[0])
    del acc, held
    acc2 = src("img2", kinds=["pe"])  # img1's buffers are free now: reused
    assert acc2.state()[0] is buffer1()
    fresh2 = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)("img2", ["pe"])
    np.testing.assert_array_equal(acc2.maps([("pe", None)]), fresh2.maps([("pe", None)]))
    # An array of its state kept by the caller also keeps the buffers from being reused.
    kept = acc2.state()[0]
    del acc2
    acc3 = src("img0", kinds=["pe"])
    assert acc3.state()[0] is not kept
    np.testing.assert_array_equal(kept, fresh2.state()[0])  # untouched
    # Without reuse, an image's accumulator takes fresh buffers even when a pair is kept.
    buffer3 = weakref.ref(acc3.state()[0])
    del acc3
    plain = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)("img1", ["pe"])
    assert buffer3() is None and plain.n_members == 3


@pytest.mark.parametrize("name", ["clasp_pe", "bald"])
def test_queries_with_reused_buffers_equal_queries_without(probs, name):
    shapes = {k: v.shape[2:] for k, v in probs.items()}
    kw = {"patch_size": 4, "stride": 2}
    reuse = AccumulatorSource(lambda i: probs[i], {})
    plain = AccumulatorSource(lambda i: probs[i], {}, reuse_buffers=False)
    a = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=reuse), size=6)
    b = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=plain), size=6)
    assert list(a.patches) == list(b.patches) and len(a.patches) == 6
