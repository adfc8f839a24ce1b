"""The judge's rubric, prompt and strict verdict parser.

Three rubrics (``kind``):

- ``"open"``: open questions, an integer score 1-5;
- ``"closed"``: closed questions (yes/no or one of several options), 0 or 1;
- ``"two_option"``: MIMIC-style "A, B, both or none" questions, 0, 0.5 or 1.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medtrust.exceptions import InvalidArgumentError, VerdictParseError

__all__ = [
    "KINDS",
    "PROMPT_VERSION",
    "SCALES",
    "Verdict",
    "VerdictParseError",
    "build_messages",
    "judge_kind",
    "parse_verdict",
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


def build_messages(question: str, answer: str, prediction: str, kind: str) -> list[dict[str, str]]:
    """Chat messages (system + user) asking for a verdict."""
    _check_kind(kind)
    scale = ", ".join(f"{s:g}" for s in SCALES[kind])
    user = (
        f"{_RUBRICS[kind]}\n\n"
        f"Question: {question}\n"
        f"Reference answer: {answer}\n"
        f"Model answer: {prediction}\n\n"
        f'Allowed scores: {scale}. Reply with JSON only: {{"score": ..., "reason": "..."}}'
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


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
