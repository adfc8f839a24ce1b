import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from medtrust import _native
from medtrust.active import (
    Patch,
    Pool,
    QueryShortfallWarning,
    beta_schedule,
    clasp_quotas,
    get_strategy,
    list_strategies,
)
from medtrust.data.al_pool import synthetic_al_pool
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    ShapeMismatchError,
)
from reference import active as ref

ALL_NAMES = [
    "random",
    "random_fg66",
    "random_fg33",
    "random_all_classes",
    "random_fg66_all_classes",
    "random_fg33_all_classes",
    "pe",
    "bald",
    "exp_entropy",
    "power_pe",
    "power_bald",
    "power_bald_b5",
    "softrank_bald",
    "class_pe",
    "clap_pe",
    "clasp_pe",
    "clasp_pe_smooth",
]
#: Registered too, checked in test_al_protocol.py (same code paths as names above).
OTHER_NAMES = [
    "power_bald_b10",
    "power_bald_b20",
    "power_bald_b40",
    "clasp_pe_sharp",
    "kmeans_bald",
    "precomputed",
    "precomputed_start",
]


@pytest.fixture(scope="module")
def pool_data():
    return synthetic_al_pool(n_images=3, shape=(16, 20, 24), n_classes=4, n_members=3, seed=1)


@pytest.fixture(scope="module")
def pool(pool_data):
    probs, labels = pool_data
    return Pool.from_arrays(probs, labels=labels)


def _query(name, pool, size=10, seed=0, round_index=1, annotated=(), **cfg):
    cfg = {"patch_size": (4, 5, 6), "stride": 2, "n_patch_per_image": 8, **cfg}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryShortfallWarning)
        return get_strategy(name, **cfg).query(
            pool, list(annotated), size=size, round_index=round_index, seed=seed
        )


def test_registry_has_every_name_of_the_issue():
    assert sorted(ALL_NAMES + OTHER_NAMES) == list_strategies()
    with pytest.raises(InvalidArgumentError, match=r"unknown strategy .clasp.*clasp_pe"):
        get_strategy("clasp", patch_size=4)
    with pytest.raises(InvalidArgumentError, match="patch_size"):
        get_strategy("pe")
    with pytest.raises(InvalidArgumentError, match="fixes"):
        get_strategy("clap_pe", patch_size=4, schedule="exp")


# ---------------------------------------------------------------- quotas and schedules
def test_quota_examples_of_the_spec():
    q = clasp_quotas(40, 3, 20)
    assert (q["per_class"] * 3 + q["remainder"], q["per_class"], q["remainder"]) == (26, 8, 2)
    assert q["pe"] == 14
    assert (q["class_candidates"], q["pe_candidates"]) == (3, 6)
    assert clasp_quotas(1, 5, 1) == {
        "per_class": 0,
        "remainder": 0,
        "pe": 1,
        "class_candidates": 1,
        "pe_candidates": 1,
    }
    assert clasp_quotas(10, 0, 20)["pe"] == 10  # no foreground class: everything to PE


def test_clasp_query_realises_the_quotas():
    probs, _labels = synthetic_al_pool(n_images=8, shape=(20, 24, 28), n_classes=4, seed=5)
    pool = Pool.from_arrays(probs)
    res = _query("clasp_pe", pool, size=40, patch_size=(4, 4, 4), stride=2, n_patch_per_image=20)
    quotas = res.log.quotas
    req = sorted(quotas[f"class_{c}"]["requested"] for c in (1, 2, 3))
    assert req == [8, 9, 9] and quotas["pe"]["requested"] == 14
    assert all(v["achieved"] == v["requested"] for v in quotas.values())
    assert len(res.patches) == 40
    frame = res.log.to_frame()
    per_image = frame.group_by(["image_id", "stratum"]).len()
    # n_ppi = 20 with 3 fg classes -> 3 candidates per class stratum and 6 for PE, per image.
    assert set(per_image.filter(per_image["stratum"] != "pe")["len"].to_list()) == {3}
    assert set(per_image.filter(per_image["stratum"] == "pe")["len"].to_list()) == {6}
    sel = frame.filter(frame["selected"])
    counts = dict(zip(*np.unique(sel["stratum"].to_list(), return_counts=True)))
    assert {s: int(n) for s, n in counts.items()} == {s: v["requested"] for s, v in quotas.items()}


def test_beta_schedule_values():
    exp = [beta_schedule(k, 5) for k in range(4)]
    np.testing.assert_allclose(exp, [1.0, 10**0.5, 10.0, 10**1.5])
    assert round(exp[1], 3) == 3.162 and round(exp[3], 2) == 31.62
    assert beta_schedule(4, 5) == pytest.approx(100.0)
    for name in ("smooth", "sharp"):
        got = [beta_schedule(k, 5, name) for k in range(5)]
        assert got[0] == pytest.approx(1.0) and got[-1] == pytest.approx(100.0)
        # The sigmoid is symmetric about the middle round: beta_k + beta_{4-k} = 101.
        np.testing.assert_allclose(np.add(got, got[::-1]), 101.0)
    # Hand: smooth (T = 2) uses x = -3, -1.5, 0, 1.5, 3; s = 1 / (1 + e^-x); the middle
    # round is the midpoint 1 + 99 / 2 = 50.5 and round 1 is
    # 1 + 99 (s(-1.5) - s(-3)) / (s(3) - s(-3)).
    s = [1 / (1 + math.exp(-x)) for x in (-3.0, -1.5, 3.0)]
    want = 1 + 99 * (s[1] - s[0]) / (s[2] - s[0])
    assert beta_schedule(1, 5, "smooth") == pytest.approx(want)
    np.testing.assert_allclose(
        [beta_schedule(k, 5, "smooth") for k in range(4)], [1.0, 15.77, 50.5, 85.23], atol=0.01
    )
    np.testing.assert_allclose(
        [beta_schedule(k, 5, "sharp") for k in range(4)], [1.0, 1.24, 50.5, 99.76], atol=0.01
    )
    assert beta_schedule(3, 5, "constant") == 1.0 and math.isinf(beta_schedule(0, 5, "none"))
    for bad in ((5, 5, "exp"), (0, 1, "exp"), (-1, 5, "exp"), (0, 5, "linear")):
        with pytest.raises(InvalidArgumentError):
            beta_schedule(*bad)
    s = get_strategy("clasp_pe", patch_size=4, schedule="sharp")
    assert s.beta(2) == pytest.approx(50.5)
    assert get_strategy("clap_pe", patch_size=4).beta(3) == 1.0
    assert math.isinf(get_strategy("class_pe", patch_size=4).beta(3))


# ---------------------------------------------------------------- Gumbel-top-k
def test_gumbel_first_pick_frequencies_are_proportional_to_s_to_the_beta():
    s = np.array([0.5, 1.0, 2.0, 4.0])
    n = 6000
    for beta in (1.0, 3.162):
        first = np.array([_native.gumbel_top_k(s, 1, beta, 7, [r])[0] for r in range(n)])
        observed = np.bincount(first, minlength=4)
        expected = n * s**beta / (s**beta).sum()
        mask = expected >= 5  # chi-square validity; tiny cells pooled
        obs = np.append(observed[mask], observed[~mask].sum())
        exp = np.append(expected[mask], expected[~mask].sum())
        obs, exp = obs[exp > 0], exp[exp > 0]
        assert stats.chisquare(obs, exp).pvalue > 1e-3, (beta, observed, expected)


def test_gumbel_top_two_inclusion_follows_sampling_without_replacement():
    s = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    n = 6000
    hits = np.zeros(5)
    for r in range(n):
        hits[_native.gumbel_top_k(s, 2, 1.0, 11, [r])] += 1
    p = ref.plackett_luce_first_two(s)
    z = (hits / n - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(z) < 4.5), z


def test_power_noise_is_per_position_and_zero_scores_come_last():
    s = np.array([0.0, 0.0, 1e-12, 5.0])
    for r in range(50):
        order = _native.gumbel_top_k(s, 4, 1.0, 3, [r])
        assert order[2:] == [0, 1]
    with pytest.raises(InvalidArgumentError):
        _native.power_noise(np.ones(3), 0.0, 0, [])
    with pytest.raises(ValueError, match=">= 0"):
        _native.power_noise(np.array([1.0, -1.0]), 1.0, 0, [])


# ---------------------------------------------------------------- every strategy
@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_strategy_gives_q_non_overlapping_patches(name, pool):
    annotated = [Patch("case_000", (2, 2, 2), (6, 6, 6)), Patch("case_001", (0, 0, 0), (4, 4, 4))]
    res = _query(name, pool, size=12, annotated=annotated)
    assert len(res.patches) == 12
    for i, p in enumerate(res.patches):
        assert p.within(pool.shapes[p.image_id]) and p.size == (4, 5, 6)
        assert not any(p.overlaps(a) for a in annotated)
        assert not any(p.overlaps(q) for q in res.patches[i + 1 :])
    frame = res.log.to_frame()
    assert frame["selected"].sum() == 12
    assert sorted(frame.filter(frame["selected"])["query_rank"].to_list()) == list(range(12))
    json.dumps(res.to_dict())  # JSON-ready log


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(["random_fg66", "power_bald", "clasp_pe", "softrank_bald"]),
    seed=st.integers(0, 2**32),
    size=st.integers(1, 30),
)
def test_no_overlap_ever_across_rounds(pool, name, seed, size):
    annotated: list[Patch] = []
    for k in range(3):
        res = _query(name, pool, size=size, seed=seed, round_index=k, annotated=annotated)
        for p in res.patches:
            assert not any(p.overlaps(a) for a in annotated)
            annotated.append(p)


@pytest.mark.parametrize("name", ["random", "random_fg33_all_classes", "power_pe", "clasp_pe"])
def test_same_seed_same_query_other_seed_other_query(name, pool):
    a = _query(name, pool, size=10, seed=4)
    b = _query(name, pool, size=10, seed=4)
    c = _query(name, pool, size=10, seed=5)
    d = _query(name, pool, size=10, seed=4, round_index=2)
    assert a.patches == b.patches
    assert a.patches != c.patches and a.patches != d.patches


def test_query_does_not_depend_on_pool_order(pool_data):
    probs, labels = pool_data
    fwd = Pool.from_arrays(probs, labels=labels)
    rev = Pool.from_arrays(dict(reversed(list(probs.items()))), labels=labels)
    for name in ("clasp_pe", "random_fg66"):
        assert _query(name, fwd, seed=9).patches == _query(name, rev, seed=9).patches


def test_same_query_for_any_thread_count(tmp_path):
    code = (
        "import json, sys, warnings; warnings.simplefilter('ignore');"
        "from medtrust.active import Pool, get_strategy;"
        "from medtrust.data.al_pool import synthetic_al_pool;"
        "probs, labels = synthetic_al_pool(n_images=2, shape=(40, 48, 48), n_classes=3, seed=3);"
        "pool = Pool.from_arrays(probs, labels=labels);"
        "out = {};"
        "out.update({n: [[p.image_id, p.start] for p in get_strategy(n, patch_size=6, stride=1)"
        ".query(pool, [], size=15, round_index=1, seed=8).patches]"
        " for n in ('clasp_pe', 'power_bald', 'softrank_bald')});"
        "json.dump(out, open(sys.argv[1], 'w'))"
    )
    outs = []
    for n in ("1", "2"):
        f = tmp_path / f"q{n}.json"
        env = {**os.environ, "MEDTRUST_NUM_THREADS": n}
        subprocess.run([sys.executable, "-c", code, str(f)], check=True, env=env)
        outs.append(json.loads(f.read_text()))
    assert outs[0] == outs[1]


# ---------------------------------------------------------------- the random baselines
def _fg_centre_fraction(name, n_seeds=6, size=40):
    shape = (48, 48, 48)
    labels = {}
    for i in range(4):  # two 10^3 blobs far from the borders: 1.8 % foreground
        lab = np.zeros(shape, np.uint8)
        lab[10:20, 10:20, 12 + i : 22 + i] = 1
        lab[28:38, 25:35, 20:30] = 2
        labels[f"img{i}"] = lab
    pool = Pool(tuple(labels), {k: shape for k in labels}, labels=labels.get)
    hits = total = 0
    for seed in range(n_seeds):
        res = _query(name, pool, size=size, seed=seed, patch_size=2, n_patch_per_image=100)
        for p in res.patches:
            centre = tuple(s + z // 2 for s, z in zip(p.start, p.size))
            hits += int(labels[p.image_id][centre] > 0)
            total += 1
    return hits / total, total


@pytest.mark.parametrize(("name", "target"), [("random_fg66", 2 / 3), ("random_fg33", 1 / 3)])
def test_random_fg_baselines_centre_boxes_on_foreground(name, target):
    frac, n = _fg_centre_fraction(name)
    fg = 2000 / 48**3  # "all" placements hit the foreground by chance this often
    expected = target + (1 - target) * fg
    sd = math.sqrt(expected * (1 - expected) / n)
    assert abs(frac - expected) < 4 * sd, (frac, expected)
    assert _fg_centre_fraction("random", n_seeds=2)[0] < 0.05


def test_all_classes_starting_budget(pool_data):
    # nnActive's rule (details in test_al_protocol.py): labels rarest first by the number of
    # images holding them, at most one label patch per image, the base strategy fills the rest.
    _probs, labels = pool_data
    pool = Pool.from_arrays(labels=labels)
    res = _query("random_fg33_all_classes", pool, size=12)
    files = {c: sum(bool((lab == c).any()) for lab in labels.values()) for c in range(4)}
    rarest_first = [f"label_{c}" for c in sorted(files, key=lambda c: (files[c], c))]
    label_quotas = [k for k in res.log.quotas if k.startswith("label_")]
    assert label_quotas == rarest_first[: len(label_quotas)]
    n_label = sum(q["achieved"] for k, q in res.log.quotas.items() if k.startswith("label_"))
    assert n_label == len(labels)  # 3 images: one label patch each
    assert len({p.image_id for p in res.patches[:n_label]}) == n_label
    assert len(res.patches) == 12
    chosen = res.to_frame()  # selected candidates in query order
    for p, stratum in zip(res.patches[:n_label], chosen["stratum"].to_list()[:n_label]):
        label = int(stratum.split("_")[1])
        assert (labels[p.image_id][p.slices] == label).any()


def test_random_gives_up_on_full_images_and_says_so():
    pool = Pool(("a", "b"), {"a": (4, 4, 4), "b": (4, 4, 4)})
    with pytest.warns(QueryShortfallWarning, match="2 of 5"):
        res = get_strategy("random", patch_size=4, max_tries=50).query(pool, [], size=5, seed=0)
    assert len(res.patches) == 2
    assert any("gave up on image a" in m for m in res.log.messages)


# ---------------------------------------------------------------- shortfalls and clipping
def test_stratum_shortfall_is_filled_from_other_strata_and_logged():
    probs, _ = synthetic_al_pool(n_images=2, shape=(8, 8, 8), n_classes=3, seed=0)
    pool = Pool.from_arrays(probs)
    # 8^3 image, patch 4^3: at most 8 boxes per image; class quotas per image 1, PE 3.
    strategy = get_strategy("clasp_pe", patch_size=4, stride=4, n_patch_per_image=8)
    with pytest.warns(QueryShortfallWarning) as record:
        res = strategy.query(pool, [], size=12, round_index=0, seed=1)
    assert any("stratum shortfall" in str(w.message) for w in record)
    # Per image 1 candidate per class stratum and 2 for PE: 8 candidates for 12 requested;
    # the images hold 16 boxes, so 4 more PE candidates fill the query (issue 14, defect 7).
    assert len(res.patches) == 12
    assert any("beyond the per-image candidates" in m for m in res.log.messages)
    assert not any("query got" in m for m in res.log.messages)
    q = res.log.quotas
    assert sum(v["achieved"] for v in q.values()) == len(res.patches)
    assert any(v["achieved"] < v["requested"] for v in q.values())


def test_absent_class_quota_goes_to_the_other_strata():
    probs, _ = synthetic_al_pool(n_images=3, shape=(16, 20, 20), n_classes=4, seed=3)
    for p in probs.values():  # class 2 is never predicted
        p[:, 0] += p[:, 2]
        p[:, 2] = 0.0
    pool = Pool.from_arrays(probs)
    with pytest.warns(QueryShortfallWarning, match="class_2 got 0 of"):
        res = _query_warn("clasp_pe", pool, size=15)
    q = res.log.quotas
    assert q["class_2"]["achieved"] == 0 and q["class_2"]["requested"] > 0
    assert len(res.patches) == 15 == sum(v["achieved"] for v in q.values())
    assert any(
        "class_2: the class has zero predicted probability in 3" in m for m in res.log.messages
    )
    assert "class_2" not in res.log.to_frame()["stratum"].to_list()


def _query_warn(name, pool, size):
    return get_strategy(name, patch_size=(4, 5, 6), stride=2, n_patch_per_image=12).query(
        pool, [], size=size, round_index=0, seed=0
    )


def test_patch_larger_than_image_is_clipped_or_refused():
    probs, labels = synthetic_al_pool(n_images=1, shape=(6, 20, 20), n_classes=2, seed=0)
    pool = Pool.from_arrays(probs, labels=labels)
    res = _query("pe", pool, size=2, patch_size=(8, 8, 8), stride=1)
    assert all(p.size == (6, 8, 8) for p in res.patches)
    res = _query("random_fg66", pool, size=2, patch_size=(8, 8, 8))
    assert all(p.size == (6, 8, 8) for p in res.patches)
    for name in ("pe", "random"):
        with pytest.raises(InvalidArgumentError, match="larger than"):
            _query(name, pool, size=2, patch_size=(8, 8, 8), clip=False)


# ---------------------------------------------------------------- bad inputs
def test_bad_query_inputs(pool):
    s = get_strategy("clasp_pe", patch_size=4)
    for kw in ({"size": -1}, {"size": 0}, {"size": 2.5}, {"size": 3, "seed": -1}):
        with pytest.raises(InvalidArgumentError):
            s.query(pool, [], round_index=0, **{"seed": 0, **kw})
    with pytest.raises(InvalidArgumentError, match="round_index"):
        s.query(pool, [], size=3, round_index=-1)
    with pytest.raises(InvalidArgumentError, match="outside"):
        s.query(pool, [], size=3, round_index=5)
    with pytest.raises(DTypeError):
        s.query(pool, [("case_000", (0, 0, 0), (1, 1, 1))], size=3)
    with pytest.raises(DTypeError):
        s.query({"case_000": None}, [], size=3)  # type: ignore[arg-type]
    for bad in (
        {"patch_size": (4, -4, 4)},
        {"patch_size": 4, "stride": 0},
        {"patch_size": 4, "n_patch_per_image": 0},
        {"patch_size": (4, 4)},
    ):
        with pytest.raises(InvalidArgumentError):
            get_strategy("pe", **bad)
    labels_only = Pool.from_arrays(labels={"a": np.zeros((5, 5, 5), np.uint8)})
    with pytest.raises(InvalidArgumentError, match="uncertainty source"):
        get_strategy("bald", patch_size=2).query(labels_only, [], size=1)
    probs_only = Pool.from_arrays({"a": np.full((1, 2, 5, 5, 5), 0.5, np.float32)})
    with pytest.raises(InvalidArgumentError, match="label source"):
        get_strategy("random_fg66", patch_size=2).query(probs_only, [], size=1)


def test_probabilities_of_the_wrong_shape():
    good = np.full((2, 3, 5, 6, 7), 1 / 3, np.float32)
    pool = Pool.from_arrays({"a": good}, shapes={"a": (5, 6, 8)})
    with pytest.raises(ShapeMismatchError, match="spatial shape"):
        get_strategy("pe", patch_size=2).query(pool, [], size=1)
    pool = Pool.from_arrays({"a": good, "b": np.full((2, 2, 5, 6, 7), 0.5, np.float32)})
    with pytest.raises(ShapeMismatchError, match="classes"):
        get_strategy("clasp_pe", patch_size=2).query(pool, [], size=1)
    with pytest.raises(ShapeMismatchError):
        Pool.from_arrays({"a": np.zeros((5, 6, 7), np.float32)})
