"""The judge's rubric, prompt templates and strict verdict parser.

Three rubrics (``kind``):

- ``"open"``: open questions, an integer score 1-5;
- ``"closed"``: closed questions (yes/no or one of several options), 0 or 1;
- ``"two_option"``: MIMIC-style "A, B, both or none" questions, 0, 0.5 or 1.

Prompt templates (:data:`TEMPLATES`, plug-in with :func:`register_template`):

- ``"medtrust"`` (default, :data:`PROMPT_VERSION`): a system message with the grading rules and
  a user message with the rubric, ``Question:`` / ``Reference answer:`` / ``Model answer:``
  lines. Its open scale: 5 same meaning, 4 minor detail missing, 3 partly correct, 2 mostly
  wrong but related, 1 wrong. Its two-option scale gives 0 to "none" against one option.
- ``"sure_vqa"``: the rubric semantics of SURE-VQA's Mistral / Gemma judge prompts, in our own
  words: one user message (no system role, as for Mistral-Instruct), the item as a JSON object
  with ``question``, ``gt`` and ``pred``, a star scale where 1 = incorrect, **2 = partially
  correct**, 3 = mostly correct, 4 = correct with minor deviations, 5 = perfect match; closed
  0 = incorrect / 1 = correct (synonyms and extra irrelevant detail still correct); two-option
  1 = same choice, 0 = one option against the other or "both" against "none", 0.5 = one option
  against "both" or "none". Difference kept on purpose: the reply must still be the strict
  JSON object below (SURE-VQA pulls a number out of free text with a regular expression).

The judge must reply with one JSON object ``{"score": <number>, "reason": "<text>"}``. Parsing
is strict: the whole reply (or the whole content of one Markdown code fence) must be that
object, ``score`` must be a number (not a string or bool) on the rubric's scale. Anything else
raises :class:`VerdictParseError`; nothing is guessed from free text.

Examples
--------
>>> from medtrust.vqa.judge.prompts import parse_verdict
>>> parse_verdict('{"score": 4, "reason": "minor detail missing"}', "open").score
4.0
>>> parse_verdict("Score: 4", "open")
Traceback (most recent call last):
...
medtrust.exceptions.VerdictParseError: reply is not JSON: Score: 4
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medtrust.exceptions import InvalidArgumentError, VerdictParseError

__all__ = [
    "KINDS",
    "PROMPT_VERSION",
    "SCALES",
    "TEMPLATES",
    "PromptTemplate",
    "Verdict",
    "VerdictParseError",
    "build_messages",
    "get_template",
    "judge_kind",
    "parse_verdict",
    "register_template",
    "top_score",
]

#: Version of the prompts below; part of every cache key. Bump it when the text changes.
PROMPT_VERSION = "medtrust-judge-v1"
KINDS: tuple[str, ...] = ("open", "closed", "two_option")
#: Allowed scores per rubric.
SCALES: dict[str, tuple[float, ...]] = {
    "open": (1.0, 2.0, 3.0, 4.0, 5.0),
    "closed": (0.0, 1.0),
    "two_option": (0.0, 0.5, 1.0),
}

_SYSTEM = (
    "You are a strict grader of answers to medical visual questions. You see the question, "
    "the reference answer and a model's answer (not the image). Judge only whether the model's "
    "answer means the same as the reference answer; ignore wording, case and politeness. Reply "
    'with exactly one JSON object and nothing else: {"score": <number>, "reason": "<one short '
    'sentence>"}.'
)

_RUBRICS = {
    "open": (
        "Score on a 1-5 integer scale:\n"
        "5 = same meaning as the reference answer;\n"
        "4 = correct, with a minor detail missing or a harmless addition;\n"
        "3 = partly correct (some of the reference's content, some wrong or missing);\n"
        "2 = mostly wrong, but related to the reference;\n"
        "1 = wrong, unrelated, or no answer."
    ),
    "closed": (
        "This is a closed question. Score 1 if the model's answer commits to the same answer as "
        "the reference (e.g. both say yes, or both choose the same option), otherwise 0 "
        "(including hedged answers that do not commit to one option)."
    ),
    "two_option": (
        "The question asks to choose between two options A and B; valid answers are A, B, "
        "both or none. Score 1 if the model's answer makes the same choice as the reference; "
        "0.5 if it overlaps partly (it names one option where the reference is both, or both "
        "where the reference is one option); otherwise 0."
    ),
}


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict."""

    score: float
    reason: str


def judge_kind(answer_type: str, options: Sequence[str] | None = None) -> str:
    """The rubric for a sample: open, closed, or two_option (options include both and none)."""
    if answer_type == "open":
        return "open"
    if options is not None and {"both", "none"} <= {str(o).strip().lower() for o in options}:
        return "two_option"
    return "closed"


def top_score(kind: str) -> float:
    """The best score of a rubric (given without a call on an exact match)."""
    return max(SCALES[_check_kind(kind)])


def _check_kind(kind: str) -> str:
    if kind not in SCALES:
        raise InvalidArgumentError(f"judge kind must be one of {KINDS}, got {kind!r}")
    return kind


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: wording per rubric kind and how the item is shown.

    Parameters
    ----------
    name
        Name used in :class:`~medtrust.vqa.judge.JudgeConfig` (``prompt=``).
    version
        Part of every cache key; change it whenever the text changes.
    system
        System message, or None to put everything in one user message.
    rubrics
        Rubric text per kind (``open``, ``closed``, ``two_option``).
    item_format
        ``"lines"`` (``Question:`` / ``Reference answer:`` / ``Model answer:`` lines) or
        ``"json"`` (one JSON object with ``question``, ``gt``, ``pred``).
    """

    name: str
    version: str
    system: str | None
    rubrics: Mapping[str, str]
    item_format: str = "lines"

    def __post_init__(self) -> None:
        missing = [k for k in KINDS if k not in self.rubrics]
        if missing:
            raise InvalidArgumentError(f"prompt template {self.name!r} lacks rubrics {missing}")
        if self.item_format not in ("lines", "json"):
            raise InvalidArgumentError(
                f"item_format must be 'lines' or 'json', got {self.item_format!r}"
            )

    def messages(
        self, question: str, answer: str, prediction: str, kind: str
    ) -> list[dict[str, str]]:
        """Chat messages asking for a verdict on one item."""
        _check_kind(kind)
        scale = ", ".join(f"{s:g}" for s in SCALES[kind])
        if self.item_format == "json":
            item = "Input: " + json.dumps(
                {"question": question, "gt": answer, "pred": prediction}, ensure_ascii=False
            )
        else:
            item = f"Question: {question}\nReference answer: {answer}\nModel answer: {prediction}"
        user = (
            f"{self.rubrics[kind]}\n\n{item}\n\n"
            f'Allowed scores: {scale}. Reply with JSON only: {{"score": ..., "reason": "..."}}'
        )
        if self.system is None:
            return [{"role": "user", "content": user}]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


_SURE_INTRO = (
    "You grade answers to questions about biomedical images. Compare the predicted answer "
    '("pred") with the ground-truth answer ("gt") of the question by meaning and relevance; '
    "wording, synonyms and extra details that do not change the meaning do not matter. "
)
_SURE_OUTPUT = (
    "The item comes as a JSON object with the fields question, gt and pred. Reply with exactly "
    'one JSON object and nothing else: {"score": <stars>, "reason": "<one short sentence>"}.'
)
_SURE_RUBRICS = {
    "open": (
        _SURE_INTRO + "Give one to five stars:\n"
        "1 star, incorrect: the answer does not match the ground truth, with serious errors or "
        "a misreading of the question;\n"
        "2 stars, partially correct: some parts match the ground truth, but there are clear "
        "discrepancies;\n"
        "3 stars, mostly correct: the answer agrees with the ground truth to a fair extent, with "
        "some errors or gaps;\n"
        "4 stars, correct with minor deviations: largely accurate, small omissions or deviations "
        "that do not change the overall correctness;\n"
        "5 stars, perfect match: the answer matches the ground truth completely.\n" + _SURE_OUTPUT
    ),
    "closed": (
        _SURE_INTRO + "The question is close-ended, so the answer is either right or wrong. "
        "Give zero or one star:\n"
        "0 stars, incorrect: the main entity or concept of the ground truth is not identified;\n"
        "1 star, correct: the prediction identifies the same entity or concept as the ground "
        "truth, even with extra, irrelevant details.\n" + _SURE_OUTPUT
    ),
    "two_option": (
        _SURE_INTRO + "The question names two options (A and B); the answer is A, B, both or "
        "none. Give 0, 0.5 or 1 star:\n"
        "1 star, correct: the prediction makes the same choice as the ground truth (A and A, "
        "B and B, both and both, none and none);\n"
        "0.5 stars, partially correct: one of the options against both or none, in either "
        "direction (ground truth A or B and prediction both or none, or ground truth both or "
        "none and prediction A or B);\n"
        "0 stars, incorrect: A against B, or both against none (in either direction).\n"
        + _SURE_OUTPUT
    ),
}

#: Prompt templates by name (see the module docstring).
TEMPLATES: dict[str, PromptTemplate] = {
    "medtrust": PromptTemplate("medtrust", PROMPT_VERSION, _SYSTEM, _RUBRICS, "lines"),
    "sure_vqa": PromptTemplate(
        "sure_vqa", "medtrust-surevqa-judge-v1", None, _SURE_RUBRICS, "json"
    ),
}


def register_template(template: PromptTemplate) -> None:
    """Add (or replace) a prompt template under its name."""
    if not isinstance(template, PromptTemplate):
        raise InvalidArgumentError(
            f"template must be a PromptTemplate, got {type(template).__name__}"
        )
    TEMPLATES[template.name] = template


def get_template(template: str | PromptTemplate) -> PromptTemplate:
    """A template by name (or the template itself)."""
    if isinstance(template, PromptTemplate):
        return template
    if template not in TEMPLATES:
        raise InvalidArgumentError(
            f"unknown prompt template {template!r}; known: {sorted(TEMPLATES)}"
        )
    return TEMPLATES[template]


def build_messages(
    question: str,
    answer: str,
    prediction: str,
    kind: str,
    template: str | PromptTemplate = "medtrust",
) -> list[dict[str, str]]:
    """Chat messages asking for a verdict (``template``: a name of :data:`TEMPLATES`)."""
    return get_template(template).messages(question, answer, prediction, kind)


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```") and t.endswith("```") and len(t) >= 6:
        inner = t[3:-3]
        first, _, rest = inner.partition("\n")
        if first.strip().lower() in ("", "json"):
            return rest.strip() if rest else first.strip()
        return inner.strip()
    return t


def parse_verdict(text: Any, kind: str) -> Verdict:
    """Parse a reply strictly; raise :class:`VerdictParseError` on anything but a verdict."""
    _check_kind(kind)
    if not isinstance(text, str) or not text.strip():
        raise VerdictParseError("empty reply")
    body = _strip_fence(text)
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        raise VerdictParseError(f"reply is not JSON: {text[:200]}") from None
    if not isinstance(obj, dict):
        raise VerdictParseError(f"reply is JSON but not an object: {text[:200]}")
    if "score" not in obj:
        raise VerdictParseError(f"reply has no 'score': {text[:200]}")
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise VerdictParseError(f"'score' must be a number, got {score!r}")
    score = float(score)
    if score not in SCALES[kind]:
        raise VerdictParseError(f"score {score:g} is not on the {kind} scale {SCALES[kind]}")
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        reason = json.dumps(reason)
    return Verdict(score=score, reason=reason)
