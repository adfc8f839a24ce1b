"""Statistical properties of the synthetic failure-detection ensembles (issue 17).

Oracles are plain numpy (entropies, mutual information, Dice) and scipy (Spearman); the
held-out checks use seeds the demo does not use.
"""

import numpy as np
import polars as pl
import pytest
from scipy.ndimage import binary_dilation, binary_erosion
from scipy.stats import spearmanr

from medtrust import failure, io
from medtrust.data import synthetic_failure_cases
from medtrust.data.failure_cases import (
    SHIFT_EFFECTS,
    EnsembleModel,
    simulate_failure_case,
)
from medtrust.exceptions import InvalidArgumentError

SHAPE = (32, 32, 24)


def entropy(p):
    p = np.clip(p.astype(np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=0)


def summary(case):
    """Numpy oracle: mean Dice over classes 1, 2; fg entropy; MI; wrong mask; pred."""
    probs = case.probabilities.astype(np.float64)
    pbar = probs.mean(axis=0)
    pred = np.argmax(pbar, axis=0)
    h = entropy(pbar)
    mi = h - np.mean([entropy(p) for p in probs], axis=0)
    dices = []
    for c in (1, 2):
        a, b = pred == c, case.truth == c
        s = a.sum() + b.sum()
        dices.append(1.0 if s == 0 else 2.0 * (a & b).sum() / s)
    fg = pred > 0
    return {
        "dice": float(np.mean(dices)),
        "fg_entropy": float(h[fg].mean()),
        "mi": mi,
        "wrong": pred != case.truth,
        "pred": pred,
    }


@pytest.fixture(scope="module")
def cases():
    out = {}
    for shift in [None, *SHIFT_EFFECTS]:
        out[shift] = [
            simulate_failure_case(SHAPE, n_members=4, shift=shift, severity=1.0, seed=[99, i])
            for i in range(4)
        ]
    return out


def test_foreground_entropies_are_realistic(cases):
    ents = {k: [summary(c)["fg_entropy"] for c in v] for k, v in cases.items()}
    every = np.concatenate(list(ents.values()))
    # Real ensembles: 0.05-0.5 nats over the foreground; nothing near one-hot (1e-6).
    assert every.min() > 0.03 and every.max() < 0.8
    assert 0.05 <= np.median(ents[None]) <= 0.3
    assert 0.05 <= np.median(every) <= 0.5
    # The calibrated shifts are less sure than i.i.d. on average.
    for s in ("intensity", "noise", "blur"):
        assert np.mean(ents[s]) > np.mean(ents[None]), s


def test_members_disagree_where_the_prediction_is_wrong(cases):
    for shift in (None, "intensity", "noise", "blur"):
        ratios = []
        for c in cases[shift]:
            s = summary(c)
            pred_fg = s["pred"] > 0
            # Compare with correct voxels near the predicted boundary (not the easy interior).
            band = binary_dilation(pred_fg, iterations=2) & ~binary_erosion(pred_fg, iterations=2)
            right = band & ~s["wrong"]
            if s["wrong"].sum() < 20:
                continue
            ratios.append(s["mi"][s["wrong"]].mean() / s["mi"][right].mean())
        assert ratios and np.median(ratios) > 1.3, (shift, ratios)


def test_confident_failures_under_structural_shifts(cases):
    iid_h = np.median([summary(c)["fg_entropy"] for c in cases[None]])
    confident_failures = 0
    for shift in ("missing", "extra"):
        for c in cases[shift]:
            s = summary(c)
            if s["dice"] < 0.75 and s["fg_entropy"] <= iid_h:
                confident_failures += 1
    assert confident_failures >= 2
    # ... and the model is not surer of itself on the calibrated shifts.
    for c in cases["intensity"]:
        assert summary(c)["fg_entropy"] > 0.5 * iid_h


def test_deterministic_by_seed():
    a = simulate_failure_case((12, 12, 8), n_members=2, shift="noise", severity=0.5, seed=3)
    b = simulate_failure_case((12, 12, 8), n_members=2, shift="noise", severity=0.5, seed=3)
    c = simulate_failure_case((12, 12, 8), n_members=2, shift="noise", severity=0.5, seed=4)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.truth, b.truth)
    assert not np.array_equal(a.probabilities, c.probabilities)
    np.testing.assert_allclose(a.probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_model_parameters_act():
    # A sharper model (lower temperature) is more confident; more jitter -> more disagreement.
    base = summary(simulate_failure_case(SHAPE, n_members=3, seed=5))
    sharp = summary(
        simulate_failure_case(SHAPE, n_members=3, seed=5, model=EnsembleModel(temperature=0.2))
    )
    shaky = summary(
        simulate_failure_case(SHAPE, n_members=3, seed=5, model=EnsembleModel(jitter=1.5))
    )
    assert sharp["fg_entropy"] < base["fg_entropy"]
    assert shaky["mi"].mean() > base["mi"].mean()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(InvalidArgumentError, match="shift"):
        simulate_failure_case(SHAPE, shift="rain")
    with pytest.raises(InvalidArgumentError, match="severity"):
        simulate_failure_case(SHAPE, shift="noise", severity=2.0)
    with pytest.raises(InvalidArgumentError, match="shifts"):
        synthetic_failure_cases(tmp_path, shifts=("rain",))
    with pytest.raises(InvalidArgumentError, match="severity_range"):
        synthetic_failure_cases(tmp_path, severity_range=(0.8, 0.2))
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    paths = synthetic_failure_cases(out, n_cases=24, shape=SHAPE, n_members=3, seed=12345)
    return paths, failure.score_folder(
        paths["pred"], paths["labels"], paths["domains"], patch_size=6
    )


def test_held_out_shift_more_uncertain_on_average_not_always(scored):
    _, cases = scored
    iid = cases.filter(pl.col("domain") == "iid")["pe_mean"].to_numpy()
    shifted = cases.filter(pl.col("domain") != "iid")["pe_mean"].to_numpy()
    assert shifted.mean() < iid.mean()  # PE confidence: lower = more uncertain
    # ... but not every shifted case: some are surer than a quarter of the i.i.d. cases
    assert (shifted > np.quantile(iid, 0.25)).any()


def test_csf_spread_far_above_float32_rounding(scored):
    _, cases = scored
    eps = np.finfo(np.float32).eps
    csfs = [c for c in cases.columns if c not in ("case", "domain", "dice", "nsd", "hd95")]
    assert len(csfs) >= 20
    for c in csfs:
        v = cases[c].to_numpy()
        # float32 rounding is relative: about eps * |value| per value
        assert np.abs(v).max() > 0 and v.std() > 1e3 * eps * np.abs(v).max(), c
    # pe and ee confidences are distinct CSFs here, not copies up to rounding
    assert np.abs(cases["pe_fg"] - cases["ee_fg"]).max() > 1e-3


def test_pairwise_dice_and_mean_pe_rank_cases_differently(scored):
    _, cases = scored
    pw, pe = cases["pairwise_dice"].to_numpy(), cases["pe_mean"].to_numpy()
    rho = spearmanr(pw, pe).statistic
    assert 0.0 < rho < 0.95
    assert not np.array_equal(np.argsort(pw), np.argsort(pe))


def test_written_files_match_the_simulation(scored):
    paths, cases = scored
    assert cases.height == 24
    domains = dict(zip(cases["case"], cases["domain"]))
    assert domains["case_000"] == "iid" and domains["case_023"].startswith("shift_")
    truth, spacing, _ = io.load_labels(paths["labels"] / "case_010.nii.gz")
    assert spacing == (1.0, 1.0, 2.0)
    sim = simulate_failure_case(
        SHAPE,
        n_members=3,
        shift=domains["case_010"].removeprefix("shift_"),
        severity=float(np.random.default_rng([12345, 10, 7]).uniform(0.2, 1.0)),
        seed=[12345, 10],
    )
    np.testing.assert_array_equal(truth, sim.truth)
    probs = io.load_probabilities(paths["pred"] / "case_010" / "probs_1.npz")
    assert probs.dtype == np.float16
    np.testing.assert_allclose(probs, sim.probabilities[1], atol=1e-3)
