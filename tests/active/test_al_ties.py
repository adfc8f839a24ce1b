"""Tie order in greedy selection: medtrust's default and nnActive's (``ties="nnactive"``)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.active import Pool, get_strategy, select_patches
from medtrust.exceptions import InvalidArgumentError, InvalidValueError
from reference.active import overlaps


def _nnactive_greedy(scores, patch, n):
    """nnActive's per-image loop: visit np.flip(np.argsort(flat)), keep non-overlapping boxes."""
    flat = scores.reshape(-1)
    out = []
    for i in np.flip(np.argsort(flat)):
        if len(out) >= n:
            break
        start = tuple(int(v) for v in np.unravel_index(int(i), scores.shape))  # stride 1
        if not any(overlaps(start, patch, s, patch) for s in out):
            out.append(start)
    return out


def test_constant_map_picks_differ_between_the_rules():
    scores = np.zeros((1, 1, 7))
    kw = {"patch_size": (1, 1, 2), "n": 3}
    first = [p.start for p in select_patches(scores, "a", (1, 1, 8), **kw)]
    nna = [p.start for p in select_patches(scores, "a", (1, 1, 8), ties="nnactive", **kw)]
    assert first == [(0, 0, 0), (0, 0, 2), (0, 0, 4)]
    assert nna == [(0, 0, 6), (0, 0, 4), (0, 0, 2)] == _nnactive_greedy(scores, (1, 1, 2), 3)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=4 * 5 * 6, max_size=4 * 5 * 6),
    st.integers(1, 6),
)
def test_nnactive_ties_match_nnactives_loop(values, n):
    # Few distinct values: many ties, so the order among them decides the picks.
    scores = np.asarray(values, dtype=np.float64).reshape(4, 5, 6)
    got = select_patches(scores, "a", (5, 6, 7), patch_size=2, n=n, ties="nnactive")
    assert [p.start for p in got] == _nnactive_greedy(scores, (2, 2, 2), n)


def test_without_ties_both_rules_agree():
    scores = np.random.default_rng(0).random((3, 4, 5))
    a = select_patches(scores, "a", (4, 5, 6), patch_size=2, n=5)
    b = select_patches(scores, "a", (4, 5, 6), patch_size=2, n=5, ties="nnactive")
    assert a == b


def test_strategy_option_changes_a_tied_query_and_is_logged():
    probs = np.full((2, 2, 4, 4, 12), 0.5, np.float32)  # equal uncertainty everywhere
    pool = Pool.from_arrays({"a": probs})
    kw = {"patch_size": 4, "stride": 4, "n_patch_per_image": 2}
    first = get_strategy("pe", **kw).query(pool, size=2)
    nna = get_strategy("pe", ties="nnactive", **kw).query(pool, size=2)
    assert [p.start for p in first.patches] == [(0, 0, 0), (0, 0, 4)]
    assert [p.start for p in nna.patches] == [(0, 0, 8), (0, 0, 4)]
    assert first.log.config["ties"] == "first" and nna.log.config["ties"] == "nnactive"


def test_bad_ties_and_nan_scores_are_clear_errors():
    with pytest.raises(InvalidArgumentError, match="ties"):
        get_strategy("pe", patch_size=4, ties="last")
    with pytest.raises(InvalidArgumentError, match="ties"):
        select_patches(np.zeros((1, 1, 2)), "a", (1, 1, 3), patch_size=(1, 1, 2), n=1, ties=1)
    with pytest.raises(InvalidValueError, match="NaN"):
        select_patches(
            np.array([[[0.0, np.nan]]]), "a", (1, 1, 3), patch_size=(1, 1, 2), n=1, ties="nnactive"
        )
