"""BLEU and ROUGE-L against the field's reference packages, sacrebleu and rouge-score.

``definition="sacrebleu"`` / ``"rouge_score"`` must equal the packages on any text; the
default (medtrust's normalisation) must equal them where the normalisation changes nothing and
differ exactly where the module docstring says it does.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.exceptions import InvalidArgumentError
from medtrust.vqa.metrics import bleu, rouge_l

sacrebleu = pytest.importorskip("sacrebleu", reason="sacrebleu is in the test extra")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer", reason="rouge-score missing")

_ROUGE = rouge_scorer.RougeScorer(["rougeL"])

# Words, numbers, case, punctuation of every rule of 13a and rouge-score's tokenizer, HTML
# entities, non-ASCII letters and line breaks.
WORDS = st.sampled_from(
    [
        "the", "The", "left", "Left", "lung", "lungs", "x-ray", "X-Ray", "ct", "MRI",
        "2", "2.5", "3,000", "10-20", "no", "yes", "effusion", "nodule", "of", "in",
        ".", ",", "?", "!", "(", ")", "/", "-", ":", ";", "'s", "&amp;", "&lt;", "é",
        "naïve", "μm", "\n", "a", "an", "two", "twenty", "<skipped>",
    ]
)  # fmt: skip
TEXT = st.lists(WORDS, max_size=9).map(" ".join) | st.text(max_size=20)


def _sacrebleu(pred, answer, order):
    metric = sacrebleu.metrics.BLEU(effective_order=True, max_ngram_order=order)
    return metric.sentence_score(pred, [answer]).score / 100.0


@settings(max_examples=300, deadline=None)
@given(pred=TEXT, answer=TEXT)
def test_sacrebleu_definition_equals_sacrebleu(pred, answer):
    ours = bleu(pred, answer, definition="sacrebleu")
    theirs = [_sacrebleu(pred, answer, n) for n in (1, 2, 3, 4)]
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    # BLEU-4 is the package's own default sentence BLEU.
    assert ours[3] == pytest.approx(sacrebleu.sentence_bleu(pred, [answer]).score / 100, 1e-12)


@settings(max_examples=300, deadline=None)
@given(pred=TEXT, answer=TEXT)
def test_rouge_score_definition_equals_rouge_score(pred, answer):
    theirs = _ROUGE.score(answer, pred)["rougeL"].fmeasure
    assert rouge_l(pred, answer, definition="rouge_score") == pytest.approx(theirs, abs=1e-12)


LOWER = st.lists(st.sampled_from(["left", "lung", "nodule", "effusion", "yes", "no"]), max_size=8)


@settings(max_examples=200, deadline=None)
@given(p=LOWER, a=LOWER)
def test_default_rouge_equals_rouge_score_where_normalisation_changes_nothing(p, a):
    # Lower-case words without articles, numbers or punctuation: only the empty case differs.
    pred, answer = " ".join(p), " ".join(a)
    theirs = _ROUGE.score(answer, pred)["rougeL"].fmeasure
    expected = 1.0 if not p and not a else theirs
    assert rouge_l(pred, answer) == pytest.approx(expected, abs=1e-12)


def test_hand_computed_sacrebleu_values():
    # "left lung" vs "the left lung": unigram 2/2, bigram 1/1, BP = exp(1 - 3/2).
    bp = math.exp(-0.5)
    assert bleu("left lung", "the left lung", max_order=2, definition="sacrebleu") == (
        pytest.approx([bp, bp], abs=1e-15)
    )
    # One word, no match: 0 in both; identical two words: 1.
    assert bleu("left", "right", definition="sacrebleu") == [0.0] * 4
    assert bleu("left lung", "left lung", definition="sacrebleu") == pytest.approx([1.0] * 4)
    # exp smoothing: "a b c" vs "a c b": p1 = 3/3, p2 = 0 -> 1/(2*2), p3 = 0 -> 1/(4*1).
    assert bleu("a b c", "a c b", max_order=3, definition="sacrebleu")[2] == pytest.approx(
        (1.0 * (1 / 4) * (1 / 4)) ** (1 / 3)
    )


def test_documented_differences():
    # Case and punctuation: medtrust normalises them away; sacrebleu keeps "." as a token and
    # is case-sensitive.
    assert bleu("The left lung.", "left lung")[0] == 1.0
    assert bleu("The left lung.", "left lung", definition="sacrebleu")[0] < 1.0
    # Two empty strings: 1 under medtrust's convention, 0 in both packages.
    assert bleu("", "")[0] == 1.0 and rouge_l("", "") == 1.0
    assert bleu("", "", definition="sacrebleu") == [0.0] * 4
    assert rouge_l("", "", definition="rouge_score") == 0.0
    # Decimals and non-ASCII letters: rouge-score splits "2.5" and drops "é".
    assert rouge_l("2.5 cm", "2 5 cm") < 1.0
    assert rouge_l("2.5 cm", "2 5 cm", definition="rouge_score") == 1.0
    assert rouge_l("é", "", definition="rouge_score") == 0.0
    # Number words: medtrust maps "two" to "2"; rouge-score does not.
    assert rouge_l("two nodules", "2 nodules") == 1.0
    assert rouge_l("two nodules", "2 nodules", definition="rouge_score") == pytest.approx(0.5)


def test_bad_definition_and_order_are_named():
    with pytest.raises(InvalidArgumentError, match="definition"):
        bleu("a", "a", definition="nltk")
    with pytest.raises(InvalidArgumentError, match="definition"):
        rouge_l("a", "a", definition="rouge")
    with pytest.raises(InvalidArgumentError, match="max_order"):
        bleu("a", "a", max_order=0)
