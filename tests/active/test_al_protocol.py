"""nnActive protocol fidelity: starting budget, shortfalls, registry names (issue 14)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from medtrust.active import Pool, get_strategy
from medtrust.exceptions import DatasetError, QueryShortfallWarning


def _labels_by_hand():
    """8 images; label 3 is large but in 2 images, label 2 small but in 4 (file order != voxels)."""
    labels = {}
    for i in range(8):
        lab = np.zeros((12, 12, 12), np.uint8)
        lab[6:, 6:, 6:] = 1  # label 1 everywhere (216 voxels per image)
        if i < 2:
            lab[:6, :6, :6] = 3  # 216 voxels in 2 images = 432
        if i < 4:
            lab[0, 11, 11] = 2  # 1 voxel in 4 images = 4
        labels[f"img{i}"] = lab
    return labels


def _query(name, pool, size, **cfg):
    cfg = {"patch_size": (3, 3, 3), "stride": 1, **cfg}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryShortfallWarning)
        return get_strategy(name, **cfg).query(pool, [], size=size, round_index=0, seed=3)


@pytest.mark.parametrize("seed_shift", [0, 1, 2])
def test_all_classes_one_patch_per_image_rarest_by_files(seed_shift):
    labels = _labels_by_hand()
    pool = Pool.from_arrays(labels=labels)
    res = get_strategy("random_fg33_all_classes", patch_size=3).query(
        pool, [], size=12, round_index=0, seed=seed_shift
    )
    # Files containing each label: 3 -> 2, 2 -> 4, 0 -> 8, 1 -> 8 (voxels would put 2 first).
    assert list(res.log.quotas)[:4] == ["label_3", "label_2", "label_0", "label_1"]
    assert all(res.log.quotas[f"label_{c}"] == {"requested": 2, "achieved": 2} for c in range(4))
    assert res.log.quotas["random_fg33"] == {"requested": 4, "achieved": 4}
    label_phase = res.patches[:8]
    images = [p.image_id for p in label_phase]
    assert len(set(images)) == 8  # at most one label patch per image
    # Label 3 lives only in img0 / img1; then label 2 must use img2 / img3 (img0, img1 are out).
    assert sorted(images[:2]) == ["img0", "img1"]
    assert sorted(images[2:4]) == ["img2", "img3"]
    frame = res.to_frame()
    for p, stratum in zip(label_phase, frame["stratum"].to_list()[:8]):
        label = int(stratum.split("_")[1])
        centre = tuple(a + b // 2 for a, b in zip(p.start, p.size))
        # Centred on a voxel of its label unless the clamp moved it (boxes are 3 wide).
        assert (labels[p.image_id][p.slices] == label).any(), (p, label, centre)


def test_all_classes_refuses_a_label_in_one_image():
    labels = _labels_by_hand()
    labels["img1"][labels["img1"] == 3] = 1  # label 3 now only in img0
    pool = Pool.from_arrays(labels=labels)
    with pytest.raises(DatasetError, match=r"label\(s\) 3 \(in 1 image"):
        _query("random_all_classes", pool, 8)


def test_all_classes_shortfall_names_the_cause():
    labels = {k: v for k, v in _labels_by_hand().items() if k in ("img0", "img1", "img2")}
    pool = Pool.from_arrays(labels=labels)
    with pytest.warns(QueryShortfallWarning, match="had no label patch yet"):
        res = get_strategy("random_all_classes", patch_size=3).query(pool, [], size=8, seed=0)
    assert len(res.patches) == 8  # the base strategy fills the budget
    assert len({p.image_id for p in res.patches[:3]}) == 3


def _probs_without_class(n_images, shape, n_classes, missing, seed=0):
    rng = np.random.default_rng(seed)
    probs = {}
    for i in range(n_images):
        p = rng.dirichlet(np.ones(n_classes), size=(2, *shape)).astype(np.float32)
        p = np.moveaxis(p, -1, 1)  # [M, C, Z, Y, X]
        p[:, missing] = 0.0
        probs[f"img{i}"] = p / p.sum(1, keepdims=True)
    return probs


def test_clasp_fills_the_query_when_a_class_is_predicted_nowhere():
    # 2 images with 18 free 4^3 boxes each; n_patch_per_image=4 gives 4 candidates in all,
    # class 2 is never predicted: the query must still hold q = 10 boxes.
    pool = Pool.from_arrays(_probs_without_class(2, (8, 12, 12), 3, missing=2))
    strategy = get_strategy("clasp_pe", patch_size=4, stride=4, n_patch_per_image=4)
    with pytest.warns(QueryShortfallWarning) as rec:
        res = strategy.query(pool, [], size=10, round_index=0, seed=1)
    assert len(res.patches) == 10
    for a in range(10):
        for b in range(a + 1, 10):
            assert not res.patches[a].overlaps(res.patches[b])
    text = " ".join(str(w.message) for w in rec)
    assert "class_2 got 0 of 3 (the class is predicted in no image)" in text
    assert "room" not in text  # the old, false cause
    assert res.log.quotas["class_2"] == {"requested": 3, "achieved": 0}
    assert sum(q["achieved"] for q in res.log.quotas.values()) == 10


def test_shortfall_message_states_no_room_only_when_true():
    pool = Pool.from_arrays(_probs_without_class(1, (4, 4, 8), 3, missing=2))
    strategy = get_strategy("clasp_pe", patch_size=4, stride=4, n_patch_per_image=4)
    with pytest.warns(QueryShortfallWarning, match="no pool image has room"):
        res = strategy.query(pool, [], size=5, round_index=0, seed=1)
    assert len(res.patches) == 2


@pytest.mark.parametrize("name", ["pe", "softrank_bald"])
def test_per_image_limit_is_named_as_the_cause(name):
    pool = Pool.from_arrays(_probs_without_class(2, (8, 12, 12), 3, missing=2))
    with pytest.warns(QueryShortfallWarning, match="n_patch_per_image"):
        res = get_strategy(name, patch_size=4, stride=4, n_patch_per_image=2).query(
            pool, [], size=10, seed=0
        )
    assert len(res.patches) == (8 if name == "softrank_bald" else 4)
    # None = the query size per image: now the query is full.
    full = get_strategy(name, patch_size=4, stride=4, n_patch_per_image=None).query(
        pool, [], size=10, seed=0
    )
    assert len(full.patches) == 10
    assert full.log.config["n_patch_per_image"] is None


# ------------------------------------------------------------------ missing strategies
def _ee_oracle(probs):
    """Expected entropy per voxel: mean over members of -sum p log p (0 log 0 = 0)."""
    p = probs.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    return ent.mean(0)


def test_exp_entropy_takes_the_top_expected_entropy_boxes():
    from reference.active import box_means, greedy

    rng = np.random.default_rng(5)
    probs = {"img0": rng.dirichlet(np.ones(3) * 0.3, size=(3, 6, 8, 10))}
    probs["img0"] = np.moveaxis(probs["img0"], -1, 1).astype(np.float32)
    pool = Pool.from_arrays(probs)
    res = get_strategy("exp_entropy", patch_size=(2, 3, 4), stride=1, n_patch_per_image=5).query(
        pool, [], size=5, seed=0
    )
    scores = box_means(_ee_oracle(probs["img0"]), (2, 3, 4), (1, 1, 1))
    want = greedy(scores, (2, 3, 4), (1, 1, 1), [], 5)
    assert [p.start for p in res.patches] == [tuple(w) for w in want]
    np.testing.assert_allclose(
        res.to_frame()["score"].to_numpy(), [scores[w] for w in want], rtol=1e-5
    )


@pytest.mark.parametrize("b", [5, 10, 20, 40])
def test_power_bald_beta_variants(b):
    s = get_strategy(f"power_bald_b{b}", patch_size=4)
    assert s.beta(0) == float(b) and s.config()["uncertainty"] == "bald"


@pytest.mark.parametrize(
    ("name", "temperature"), [("clasp_pe_smooth", 2.0), ("clasp_pe_sharp", 0.5)]
)
def test_sigmoid_clasp_variants(name, temperature):
    from reference.active import sigmoid_schedule

    s = get_strategy(name, patch_size=4, query_steps=5)
    for k in range(5):
        assert s.beta(k) == pytest.approx(sigmoid_schedule(k, 5, temperature))


def test_precomputed_replays_another_experiments_rounds(tmp_path):
    from medtrust.active import Patch, write_round

    pool = Pool(("a", "b"), {"a": (8, 8, 8), "b": (8, 8, 8)})
    start = [Patch("a", (0, 0, 0), (4, 4, 4))]
    first = [Patch("b", (4, 4, 4), (4, 4, 4)), Patch("a", (4, 0, 0), (4, 4, 4))]
    write_round(tmp_path / "loop_000.json", start)
    write_round(tmp_path / "loop_001.json", first)
    got0 = get_strategy("precomputed_start", folder=tmp_path).query(pool, [], size=1)
    assert list(got0.patches) == start
    got1 = get_strategy("precomputed", folder=tmp_path).query(pool, start, size=2, round_index=0)
    assert list(got1.patches) == first
    # A replay that clashes with this experiment's annotations is refused.
    with pytest.raises(DatasetError, match="overlaps"):
        get_strategy("precomputed", folder=tmp_path).query(
            pool, [Patch("b", (5, 5, 5), (1, 1, 1))], size=2, round_index=0
        )
    with pytest.raises(DatasetError, match="no round file"):
        get_strategy("precomputed", folder=tmp_path).query(pool, [], size=2, round_index=3)
    with pytest.warns(QueryShortfallWarning, match="holds only 2 patches"):
        get_strategy("precomputed", folder=tmp_path).query(pool, start, size=3, round_index=0)


# ------------------------------------------------------------------ split (defect 8)
def test_held_out_size_is_int_of_a_quarter():
    from medtrust.active.loop.data import split_cases

    for n, want in [(4, 1), (7, 1), (8, 2), (10, 2), (11, 2), (15, 3)]:
        held, pool = split_cases([f"c{i:02d}" for i in range(n)], 0.25, seed=1)
        assert len(held) == want and len(pool) == n - want  # round(0.25 n) gave 2 for n = 7


def test_patient_level_grouping():
    from medtrust.active.loop.data import split_cases

    cases = [f"patient{p:03d}_frame{f:02d}" for p in range(9) for f in (1, 12)]
    for seed in range(5):
        held, pool = split_cases(cases, 0.25, seed, "_frame")
        hp = {c.split("_")[0] for c in held}
        pp = {c.split("_")[0] for c in pool}
        assert not hp & pp and len(hp) == 2 and len(pp) == 7
        assert len(held) == 4 and sorted(held + pool) == sorted(cases)
    held, _ = split_cases(cases, 0.25, 0)  # without grouping, frames of one patient split
    assert len(held) == 4


def test_level_separator_in_the_config():
    from medtrust.active.loop.config import ExperimentConfig
    from medtrust.exceptions import ConfigError

    base = {"dataset": {"synthetic": {"n_cases": 4}}, "strategies": ["random"],
            "patch_size": 4, "query_size": 2}  # fmt: skip
    assert ExperimentConfig.from_dict({**base, "level_separator": "_"}).level_separator == "_"
    with pytest.raises(ConfigError, match="level_separator"):
        ExperimentConfig.from_dict({**base, "level_separator": ""})


# ------------------------------------------------------------------ kmeans_bald
def test_kmeans_pp_picks_one_seed_per_separated_cluster():
    from medtrust.active.strategies.kmeans import kmeans_pp_seeds

    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    x = np.concatenate([c + rng.normal(0, 1, size=(10, 2)) for c in centres])
    for seed in range(20):
        picks = kmeans_pp_seeds(x, 4, np.random.default_rng(seed))
        assert sorted(i // 10 for i in picks) == [0, 1, 2, 3]


def test_kmeans_pp_second_seed_is_proportional_to_squared_distance():
    from medtrust.active.strategies.kmeans import kmeans_pp_seeds

    x = np.array([[0.0], [1.0], [3.0]])
    counts = np.zeros(3)
    n = 0
    for seed in range(6000):
        a, b = kmeans_pp_seeds(x, 2, np.random.default_rng(seed))
        if a == 0:
            counts[b] += 1
            n += 1
    np.testing.assert_allclose(counts / n, [0.0, 0.1, 0.9], atol=0.03)


def test_kmeans_bald_queries_diverse_bald_candidates():
    rng = np.random.default_rng(2)
    p = np.moveaxis(rng.dirichlet(np.ones(3), size=(3, 8, 16, 16)), -1, 1).astype(np.float32)
    feat = np.zeros((2, 4, 8, 8), np.float32)
    feat[0, :, :4] = 1.0  # the two halves along axis 1 look different to the model
    feat[1, :, 4:] = 1.0
    pool = Pool.from_arrays({"a": p}, features={"a": feat})
    s = get_strategy("kmeans_bald", patch_size=4, stride=4, n_patch_per_image=3)
    res = s.query(pool, [], size=2, seed=0)
    assert len(res.patches) == 2
    assert {p.start[1] < 8 for p in res.patches} == {True, False}  # one from each half
    frame = res.log.to_frame()
    assert frame.height == 6 and (frame["stratum"] == "bald").all()  # 2 x n_ppi candidates
    from medtrust.exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="features"):
        get_strategy("kmeans_bald", patch_size=4).query(Pool.from_arrays({"a": p}), size=2)


def test_precomputed_in_a_config_needs_its_folder_before_training(tmp_path):
    from medtrust.active.loop.config import ExperimentConfig
    from medtrust.exceptions import ConfigError

    base = {"dataset": {"synthetic": {"n_cases": 4, "shape": [4, 8, 8]}},
            "strategies": ["precomputed"], "patch_size": 4, "query_size": 1,
            "rounds": 2}  # fmt: skip
    with pytest.raises(ConfigError, match=r"strategy_options\.precomputed\.folder"):
        ExperimentConfig.from_dict(base).validate()
    ok = {**base, "strategy_options": {"precomputed": {"folder": str(tmp_path)}}}
    ExperimentConfig.from_dict(ok).validate()
