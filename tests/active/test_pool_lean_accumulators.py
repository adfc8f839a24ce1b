"""Query strategies ask the pool's sources only for the sums their maps need (issue 13)."""

import numpy as np
import pytest

from medtrust.active import Pool, get_strategy
from medtrust.active.pool import AccumulatorSource
from medtrust.uncertainty import EnsembleAccumulator
from reference import uncertainty as ref


@pytest.fixture(scope="module")
def probs():
    rng = np.random.default_rng(11)
    return {f"img{i}": ref.random_members(rng, 3, 3, (10, 12, 12)) for i in range(2)}


class _Recording(AccumulatorSource):
    """Records the kinds each call asked for."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.asked: list = []

    def __call__(self, image_id, kinds=None):
        self.asked.append(None if kinds is None else sorted(kinds))
        return super().__call__(image_id, kinds=kinds)


@pytest.mark.parametrize(
    ("name", "want"), [("clasp_pe", ["class_pe", "pe"]), ("bald", ["mi"]), ("pe", ["pe"])]
)
def test_strategies_ask_for_their_maps_and_select_as_with_full_sums(probs, name, want):
    shapes = {k: v.shape[2:] for k, v in probs.items()}
    lean = _Recording(lambda i: probs[i], {})

    def full(image_id):  # a user source: image id only, every sum kept
        acc = EnsembleAccumulator()
        for m in probs[image_id]:
            acc.add(m)
        return acc

    kw = {"patch_size": 4, "stride": 2}
    a = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=lean), size=6)
    b = get_strategy(name, **kw).query(Pool(tuple(probs), shapes, uncertainty=full), size=6)
    assert lean.asked and all(k == want for k in lean.asked)
    assert list(a.patches) == list(b.patches)  # the same maps, bit for bit
    assert len(a.patches) == 6


def test_from_arrays_sources_are_lean_on_request(probs):
    pool = Pool.from_arrays(probs)
    assert isinstance(pool.uncertainty, AccumulatorSource)
    assert not pool.accumulator("img0", kinds=["pe"]).keeps_member_entropy
    assert pool.accumulator("img0").keeps_member_entropy
    fixed = Pool.from_arrays(probs, kinds=None)  # acc_options win over the caller's kinds
    assert fixed.accumulator("img0", kinds=["pe"]).keeps_member_entropy
