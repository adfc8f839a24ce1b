"""Issue 15 items 8 and 9: SURE-VQA's corruptions and the closed-question instruction."""

import numpy as np
import polars as pl
import pytest
from PIL import Image

from medtrust.exceptions import ConfigError, InvalidArgumentError
from medtrust.vqa.baselines import ablate_image, sure_vqa_blur_kernel
from medtrust.vqa.harness import DEFAULT_CLOSED_SUFFIX, HarnessConfig, questions_with_suffix

# -- item 8: corruptions ----------------------------------------------------------------------


def _delta(size=31, value=160, mode="L"):
    arr = np.zeros((size, size), dtype=np.uint8)
    arr[size // 2, size // 2] = value
    if mode == "RGB":
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(arr, mode=mode)


def test_blur_kernels_are_opencvs_for_sigma_zero():
    # OpenCV's small-kernel table for 5 and 7 taps; a sampled Gaussian, sigma 2.0, for 11
    assert np.allclose(sure_vqa_blur_kernel(5), np.array([1, 4, 6, 4, 1]) / 16)
    assert np.allclose(sure_vqa_blur_kernel(7), np.array([1, 6, 15, 20, 15, 6, 1]) / 64)
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / 8.0)  # 2 sigma^2 = 8
    assert np.allclose(sure_vqa_blur_kernel(11), g / g.sum())


@pytest.mark.parametrize(("level", "size"), [(1, 5), (2, 7), (3, 11)])
def test_blur_of_a_point_is_the_kernel(level, size):
    out = np.asarray(ablate_image(_delta(), f"blur_{level}"), dtype=float)
    k = sure_vqa_blur_kernel(size)
    expected = np.zeros((31, 31))
    h = size // 2
    expected[15 - h : 16 + h, 15 - h : 16 + h] = np.rint(160 * np.outer(k, k))
    assert np.array_equal(out, expected)


def test_blur_keeps_a_constant_image_up_to_the_border():
    img = Image.new("RGB", (20, 12), (200, 100, 50))
    assert np.array_equal(np.asarray(ablate_image(img, "blur_3")), np.asarray(img))


@pytest.mark.parametrize(("level", "lo", "hi"), [(1, 1.1, 2.0), (2, 2.5, 4.0), (3, 4.5, 6.0)])
def test_brightness_factor_is_drawn_from_surevqas_range(level, lo, hi):
    img = Image.new("L", (8, 8), 40)
    factors = set()
    for key in range(30):
        out = np.asarray(ablate_image(img, f"brightness_{level}", key=str(key)))
        assert len(np.unique(out)) == 1  # one factor per image
        factors.add(out[0, 0] / 40)
    assert min(factors) >= lo - 0.02 and max(factors) <= hi + 0.02
    assert max(factors) - min(factors) > 0.3 * (hi - lo)  # really drawn, not fixed


def test_brightness_saturates():
    out = np.asarray(ablate_image(Image.new("L", (4, 4), 200), "brightness_3"))
    assert (out == 255).all()


@pytest.mark.parametrize(("level", "lo", "hi"), [(1, 0.0, 0.06), (2, 0.09, 0.15), (3, 0.18, 0.25)])
def test_noise_is_one_grey_field_with_surevqas_mean_and_std(level, lo, hi):
    img = Image.new("RGB", (200, 200), (100, 100, 100))
    out = np.asarray(ablate_image(img, f"noise_{level}", seed=0, key="q"), dtype=float)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    diff = (out[..., 0] - 100) / 255
    # truncation to integers lowers the mean by ~0.5 grey levels
    assert lo - 0.01 <= diff.mean() + 0.5 / 255 <= hi + 0.01
    assert diff.std() == pytest.approx(0.1, abs=0.01)


def test_corrupt_combines_at_random_and_never_returns_the_clean_image():
    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((24, 24)) * 120 + 60).astype(np.uint8), mode="L")
    arr = np.asarray(img)
    outs = [np.asarray(ablate_image(img, "corrupt_2", key=str(k))) for k in range(40)]
    assert all(not np.array_equal(o, arr) for o in outs)
    again = np.asarray(ablate_image(img, "corrupt_2", key="7"))
    assert np.array_equal(again, outs[7])  # deterministic per (seed, qid)
    # with p = 1 every corruption is applied: blur, then brightness, then noise
    all3 = np.asarray(ablate_image(img, "corrupt_1", key="x", p=1.0), dtype=float)
    blurred = np.asarray(ablate_image(img, "blur_1"), dtype=float)
    assert all3.mean() > blurred.mean() * 1.1  # brightened (and noised)


def test_medtrust_scheme_is_still_available():
    img = Image.new("L", (40, 40), 100)
    out = np.asarray(ablate_image(img, "brightness_2", scheme="medtrust"))
    assert (out == 200).all()  # the fixed factor 2
    with pytest.raises(InvalidArgumentError, match="scheme"):
        ablate_image(img, "blur_1", scheme="imagenet-c")
    with pytest.raises(ConfigError, match="corruption_scheme"):
        HarnessConfig(corruption_scheme="nope")


# -- item 9: "choose from [yes, no]" ----------------------------------------------------------


def test_closed_yes_no_questions_get_the_instruction():
    df = pl.DataFrame(
        {
            "question": ["Is it a CT?", "Which organ?", "CT or MRI?", "Is it normal?"],
            "answer": ["yes", "liver", "CT", "no"],
            "answer_type": ["closed", "open", "closed", "closed"],
            "options": [None, None, ["CT", "MRI"], ["yes", "no"]],
        }
    )
    qs = questions_with_suffix(df, DEFAULT_CLOSED_SUFFIX)
    assert qs == [
        "Is it a CT?" + DEFAULT_CLOSED_SUFFIX,
        "Which organ?",
        "CT or MRI?",
        "Is it normal?" + DEFAULT_CLOSED_SUFFIX,
    ]
    assert "[yes, no]" in DEFAULT_CLOSED_SUFFIX
    assert questions_with_suffix(df, "") == df["question"].to_list()  # configurable off
    assert HarnessConfig(closed_suffix=" Answer yes or no.").closed_suffix == " Answer yes or no."


# -- item 9: SURE-VQA-style token metrics -----------------------------------------------------


def test_surevqa_token_metrics_by_hand():
    from medtrust.vqa import surevqa_normalize, surevqa_token_scores, token_scores

    assert surevqa_normalize("Two nodules.") == "2 nodules"
    assert surevqa_normalize("None") == "0"  # LLaVA-Med maps "none" to "0"
    assert surevqa_normalize("x-ray") == "x ray" and surevqa_normalize("x - ray") == "x ray"
    assert surevqa_normalize("1,000 cells") == "1000 cells"
    # "left" vs "left lung": 1 distinct answer token of 1 prediction token -> "exact match" 1.0
    s = surevqa_token_scores("left", "left lung")
    assert s["surevqa_exact_match"] == 1.0 and token_scores("left", "left lung")["exact_match"] == 0
    assert (s["surevqa_precision"], s["surevqa_recall"]) == (1.0, 0.5)
    assert s["surevqa_f1"] == pytest.approx(2 / 3)
    assert s["surevqa_bleu1"] == pytest.approx(np.exp(1 - 2))  # brevity penalty only
    # repeats: tp counts prediction tokens (2 of "yes yes no"), recall tp / (tp + 0)
    s = surevqa_token_scores("yes yes no", "yes")
    assert s["surevqa_exact_match"] == pytest.approx(1 / 3)
    assert (s["surevqa_precision"], s["surevqa_recall"]) == (pytest.approx(2 / 3), 1.0)
    assert s["surevqa_f1"] == pytest.approx(0.8)
    assert token_scores("yes yes no", "yes")["token_f1"] == pytest.approx(0.5)  # standard
    assert s["surevqa_bleu1"] == pytest.approx(1 / 3)  # clipped: one "yes" counts
    # NLTK without smoothing: an order with no n-gram enters as the smallest float
    s = surevqa_token_scores("the left lung", "left lung")
    assert s["surevqa_bleu2"] == 1.0 and 0 < s["surevqa_bleu3"] < 1e-100
    assert surevqa_token_scores("", "yes")["surevqa_exact_match"] == 0.0
    assert surevqa_token_scores("no", "yes")["surevqa_bleu1"] == 0.0


def test_evaluate_reports_both_definitions_under_distinct_names():
    from medtrust.vqa import SUREVQA_METRIC_NAMES, evaluate

    samples = pl.DataFrame(
        {
            "qid": ["1", "2"],
            "question": ["Which lung?"] * 2,
            "answer": ["left lung", "left lung"],
            "answer_type": "open",
            "split": "test",
            "modality": ["CT", "X-Ray"],
        }
    )
    preds = pl.DataFrame({"qid": ["1", "2"], "pred": ["left", "left lung"]})
    res = evaluate(samples, preds, {"name": "t", "attribute": "modality", "ood_values": ["X-Ray"]})
    row = res.summary.filter(pl.col("subset") == "iid").row(0, named=True)
    assert row["exact_match"] == 0.0 and row["surevqa_exact_match"] == 1.0
    assert set(SUREVQA_METRIC_NAMES) <= set(res.scores.columns)
