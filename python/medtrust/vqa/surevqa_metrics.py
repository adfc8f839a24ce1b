r"""SURE-VQA-style token metrics (LLaVA-Med's evaluation), beside the standard ones.

SURE-VQA reports token metrics with the definitions of LLaVA-Med's evaluation script. They
differ from the standard definitions of :mod:`medtrust.vqa.metrics`, so they get distinct
names (``surevqa_*``) and are never mixed up with them:

- normalisation (:func:`surevqa_normalize`): each of ``; / [ ] " { } ( ) = + \ _ - > < @ `
  , ? !`` is deleted when the text has it next to a space (or has a digit-comma-digit
  group), else replaced by a space; a ``.`` not touching a digit is deleted; lower case;
  ``none`` and the number words ``zero`` ... ``ten`` become digits (``none`` -> ``0``); the
  articles ``a``, ``an``, ``the`` are dropped; commas are deleted. (Its table of
  apostrophe-less contractions, ``dont`` -> ``don't``, is not applied: it changes no
  answer of SLAKE, OVQA or MIMIC-CXR-VQA.)
- ``surevqa_exact_match``: **a token ratio**, not string equality: the number of distinct
  answer tokens that occur in the prediction divided by the number of prediction tokens
  (``"left"`` vs ``"left lung"`` scores 1.0; 0 for an empty prediction);
- ``surevqa_precision`` / ``surevqa_recall`` / ``surevqa_f1``: with ``tp`` the number of
  prediction tokens (with repeats) whose word occurs in the answer, precision =
  ``tp / len(prediction)``, recall = ``tp / (tp + answer tokens whose word is not in the
  prediction)``; all 0 when either side is empty or ``tp`` is 0;
- ``surevqa_bleu1`` ... ``surevqa_bleu3``: NLTK's ``sentence_bleu`` with weights ``(1,)``,
  ``(1/2, 1/2)``, ``(1/3, 1/3, 1/3)`` and no smoothing: 0 without a shared unigram, and an
  order without a match enters as the smallest float (so a two-word answer's BLEU-3 is about
  1e-103, not 0); brevity penalty ``exp(1 - r / c)`` when the prediction is not longer.

Examples
--------
>>> from medtrust.vqa.surevqa_metrics import surevqa_token_scores
>>> s = surevqa_token_scores("left", "left lung")
>>> s["surevqa_exact_match"], round(s["surevqa_f1"], 4), round(s["surevqa_bleu1"], 4)
(1.0, 0.6667, 0.3679)
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "SUREVQA_METRIC_NAMES",
    "surevqa_normalize",
    "surevqa_token_metrics",
    "surevqa_token_scores",
]

#: Per-item columns of :func:`surevqa_token_metrics`, in order.
SUREVQA_METRIC_NAMES: tuple[str, ...] = (
    "surevqa_exact_match",
    "surevqa_precision",
    "surevqa_recall",
    "surevqa_f1",
    "surevqa_bleu1",
    "surevqa_bleu2",
    "surevqa_bleu3",
)

_PUNCT: tuple[str, ...] = tuple(';/[]"{}()=+\\_-><@`,?!')
_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")
_DIGIT_COMMA = re.compile(r"\d,\d")
_NUMBERS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())
}
_NUMBERS["none"] = "0"
_ARTICLES = frozenset({"a", "an", "the"})


def surevqa_normalize(text: Any) -> str:
    """LLaVA-Med / SURE-VQA normalisation (see the module docstring); None gives ``""``.

    Parameters
    ----------
    text
        An answer (None gives ``''``).

    Returns
    -------
    str
        The normalised answer.
    """
    if text is None:
        return ""
    src = str(text)
    out = src
    has_digit_comma = _DIGIT_COMMA.search(src) is not None
    for p in _PUNCT:
        # the decision looks at the original text, the edit applies to the running result
        if p + " " in src or " " + p in src or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = _PERIOD.sub("", out)
    words = [_NUMBERS.get(w, w) for w in out.lower().split()]
    return " ".join(w for w in words if w not in _ARTICLES).replace(",", "")


def _prf(p: list[str], a: list[str]) -> tuple[float, float, float]:
    if not p or not a:
        return 0.0, 0.0, 0.0
    pc, ac = Counter(p), Counter(a)
    tp = sum(n for w, n in pc.items() if w in ac)
    fp = sum(n for w, n in pc.items() if w not in ac)
    fn = sum(n for w, n in ac.items() if w not in pc)
    if tp == 0:
        return 0.0, 0.0, 0.0
    prec, rec = tp / (tp + fp), tp / (tp + fn)
    return prec, rec, 2 * prec * rec / (prec + rec)


def _bleu(p: list[str], a: list[str], order: int) -> float:
    if not p:
        return 0.0
    logs = []
    for n in range(1, order + 1):
        hyp = Counter(tuple(p[i : i + n]) for i in range(len(p) - n + 1))
        ref = Counter(tuple(a[i : i + n]) for i in range(len(a) - n + 1))
        matches = sum((hyp & ref).values())
        if n == 1 and matches == 0:
            return 0.0
        total = max(1, sum(hyp.values()))
        # NLTK without smoothing: a zero precision enters as the smallest positive float
        logs.append(math.log(matches / total) if matches else math.log(sys.float_info.min))
    bp = 1.0 if len(p) > len(a) else math.exp(1 - len(a) / len(p))
    return bp * math.exp(sum(logs) / order)


def surevqa_token_scores(pred: Any, answer: Any) -> dict[str, float]:
    """Every metric of :data:`SUREVQA_METRIC_NAMES` for one prediction.

    Parameters
    ----------
    pred
        A model's answer (None counts as empty).
    answer
        The reference answer.

    Returns
    -------
    dict of str to float
        Every metric of :data:`SUREVQA_METRIC_NAMES`.
    """
    p = surevqa_normalize(pred).split()
    a = surevqa_normalize(answer).split()
    em = len(set(a) & set(p)) / len(p) if p else 0.0
    prec, rec, f1 = _prf(p, a)
    return {
        "surevqa_exact_match": em,
        "surevqa_precision": prec,
        "surevqa_recall": rec,
        "surevqa_f1": f1,
        "surevqa_bleu1": _bleu(p, a, 1),
        "surevqa_bleu2": _bleu(p, a, 2),
        "surevqa_bleu3": _bleu(p, a, 3),
    }


def surevqa_token_metrics(df: Any, *, pred: str = "pred", answer: str = "answer") -> pl.DataFrame:
    """``df`` plus the columns of :data:`SUREVQA_METRIC_NAMES`.

    Parameters
    ----------
    df
        polars DataFrame with the prediction and answer columns.
    pred
        Column of the predictions.
    answer
        Column of the reference answers.

    Returns
    -------
    polars.DataFrame
        ``df`` plus the columns of :data:`SUREVQA_METRIC_NAMES`.

    Examples
    --------
    >>> import polars as pl
    >>> out = surevqa_token_metrics(pl.DataFrame({"pred": ["yes yes no"], "answer": ["yes"]}))
    >>> round(out["surevqa_exact_match"][0], 4), round(out["surevqa_f1"][0], 4)
    (0.3333, 0.8)
    """
    import polars as pl

    from medtrust.exceptions import InvalidArgumentError

    missing = [c for c in (pred, answer) if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"surevqa_token_metrics needs columns {missing}")
    cols: dict[str, list[float]] = {m: [] for m in SUREVQA_METRIC_NAMES}
    for p, a in zip(df[pred].to_list(), df[answer].to_list()):
        for k, v in surevqa_token_scores(p, a).items():
            cols[k].append(v)
    return df.with_columns(pl.Series(k, v, dtype=pl.Float64) for k, v in cols.items())
