"""Token metrics of medical VQA: hand-computed cases and a plain reference."""

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.exceptions import InvalidArgumentError
from medtrust.vqa.metrics import (
    METRIC_NAMES,
    bleu,
    closed_choice,
    normalize_answer,
    rouge_l,
    token_f1,
    token_metrics,
    token_scores,
)
from reference import vqa as ref


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("The X-Ray shows TWO nodules.", "x ray shows 2 nodules"),
        ("2.5 cm.", "2.5 cm"),
        ("An MRI, T2-weighted!", "mri t2 weighted"),
        ("Twenty one", "20 1"),
        ("\uff23\uff34", "ct"),  # full-width letters (NFKC)
        ("  Left   lung  ", "left lung"),
        ("a the an", ""),
        ("", ""),
        (None, ""),
        ("ninety-nine", "90 9"),
        ("end.", "end"),
    ],
)
def test_normalisation(text, norm):
    assert normalize_answer(text) == norm


def test_exact_match_and_f1_by_hand():
    s = token_scores("left lung lobe", "the Left lung")
    assert s["exact_match"] == 0.0
    assert s["token_precision"] == pytest.approx(2 / 3)
    assert s["token_recall"] == 1.0
    assert s["token_f1"] == pytest.approx(0.8)
    # multiset overlap: a repeated token matches once
    assert token_f1("yes yes", "yes") == pytest.approx((0.5, 1.0, 2 / 3))
    assert token_scores("Two.", "2")["exact_match"] == 1.0


def test_bleu_by_hand():
    # p1 = 2/3; bigrams: 0 matches of 2 -> (0+1)/(2+1); trigram: 0 of 1 -> 1/2; no 4-grams
    b = bleu("left upper lung", "left lower lung")
    assert b[0] == pytest.approx(2 / 3)
    assert b[1] == pytest.approx(math.sqrt(2 / 3 * 1 / 3))
    assert b[2] == pytest.approx((2 / 3 * 1 / 3 * 1 / 2) ** (1 / 3))
    assert b[3] == pytest.approx(b[2])  # effective order 3
    # brevity penalty exp(1 - r / c) = exp(-1); effective order 1
    assert bleu("lung", "left lung") == pytest.approx([math.exp(-1)] * 4)
    assert bleu("yes", "Yes.") == [1.0] * 4
    assert bleu("no", "yes") == [0.0] * 4
    # a longer prediction: no brevity penalty, bigram 1 of 2 matches -> 2/3
    b = bleu("left lung base", "left lung")
    assert b[0] == pytest.approx(2 / 3)
    assert b[1] == pytest.approx(math.sqrt(2 / 3 * 2 / 3))


def test_rouge_l_by_hand():
    assert rouge_l("left upper lung", "left lower lung") == pytest.approx(2 / 3)
    assert rouge_l("x y z w", "y w") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert rouge_l("lung left", "left lung") == pytest.approx(0.5)


@pytest.mark.parametrize(("pred", "answer"), [("", ""), (".", ""), ("The.", "the")])
def test_empty_vs_empty_is_one(pred, answer):
    assert set(token_scores(pred, answer).values()) == {1.0}


@pytest.mark.parametrize(
    ("pred", "answer"), [("", "yes"), ("yes", ""), (None, "lung"), (None, "the"), ("a", "the")]
)
def test_empty_vs_nonempty_is_zero(pred, answer):
    assert set(token_scores(pred, answer).values()) == {0.0}


WORDS = ["lung", "liver", "left", "right", "yes", "no", "ct", "mri", "small", "large"]
toks = st.lists(st.sampled_from(WORDS), max_size=7)


@settings(max_examples=150, deadline=None)
@given(toks, toks)
def test_against_reference(p, a):
    s = token_scores(" ".join(p), " ".join(a))
    assert (s["token_precision"], s["token_recall"], s["token_f1"]) == pytest.approx(ref.prf(p, a))
    assert [s[f"bleu{n}"] for n in range(1, 5)] == pytest.approx(ref.bleu(p, a))
    assert s["rouge_l"] == pytest.approx(ref.rouge_l(p, a))
    assert s["exact_match"] == float(p == a)
    assert all(0.0 <= s[m] <= 1.0 for m in METRIC_NAMES)


@pytest.mark.parametrize(
    ("pred", "options", "choice"),
    [
        ("No, there is no effusion.", ["yes", "no"], "no"),
        ("Yes, but small.", ["yes", "no"], "yes"),
        ("It is present: yes", ["yes", "no"], "yes"),
        ("YES", ["yes", "no"], "yes"),
        ("maybe", ["yes", "no"], None),
        ("yes and no", ["yes", "no"], None),
        ("", ["yes", "no"], None),
        ("The left lung.", ["left lung", "right lung", "both", "none"], "left lung"),
        ("Both.", ["left lung", "right lung", "both", "none"], "both"),
        ("left lung and right lung", ["left lung", "right lung", "both", "none"], None),
        ("I see it in the right lung", ["left lung", "right lung", "both", "none"], "right lung"),
        ("PA view", ["AP", "PA"], "PA"),
    ],
)
def test_closed_choice(pred, options, choice):
    assert closed_choice(pred, options) == choice


def test_token_metrics_frame_closed_accuracy_and_ambiguous_count():
    df = pl.DataFrame(
        {
            "qid": list("abcdef"),
            "pred": ["Yes.", "maybe", "no", "liver", "Both", "spleen"],
            "answer": ["yes", "no", "yes", "liver", "both", "liver"],
            "answer_type": ["closed", "closed", "closed", "open", "closed", "closed"],
            "options": [None, None, ["yes", "no"], None, ["l", "r", "both", "none"], None],
        }
    )
    out = token_metrics(df)
    assert out["closed_correct"].to_list() == [1.0, 0.0, 0.0, None, 1.0, 0.0]
    assert out["closed_ambiguous"].to_list() == [False, True, False, None, False, False]
    assert out["closed_choice"].to_list() == ["yes", None, "no", None, "both", None]
    # a closed question without options whose answer is not yes/no: exact match, counted
    assert out["closed_no_options"].to_list() == [False, False, False, None, False, True]
    assert out["exact_match"].to_list() == [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert out.columns[:5] == df.columns
    with pytest.raises(InvalidArgumentError, match="answer_type"):
        token_metrics(df.drop("answer_type"))
