"""Token metrics for medical VQA, after one documented normalisation.

Normalisation (:func:`normalize_answer`), applied to predictions and answers alike:

1. Unicode NFKC, then lower case;
2. punctuation and symbols become spaces (``"x-ray."`` -> ``"x ray"``); a ``.`` between two
   digits is kept (``"2.5"``), as is nothing else;
3. split on whitespace; drop the articles ``a``, ``an``, ``the``;
4. number words ``zero`` ... ``twenty``, ``thirty`` ... ``ninety``, ``hundred`` become digits
   (word by word: ``"twenty one"`` -> ``"20 1"``);
5. join the tokens with single spaces.

Metrics per item (prediction vs answer, tokens of the normalised strings):

- ``exact_match``: normalised strings equal.
- ``token_precision`` / ``token_recall`` / ``token_f1``: multiset token overlap.
- ``bleu1`` ... ``bleu4``: sentence BLEU with uniform weights, brevity penalty
  ``exp(1 - r / c)`` when the prediction is shorter, *effective order* (orders longer than the
  prediction are left out of the geometric mean, so a one-word answer is scored on unigrams),
  and add-one smoothing of the n-gram precisions for n >= 2 (Lin & Och 2004; ``method2`` of
  Chen & Cherry 2014). The unigram precision is never smoothed, so no shared token gives 0.
- ``rouge_l``: F1 (beta = 1) of the longest-common-subsequence precision and recall.

The field's reference implementations, as options (:func:`bleu` ``definition="sacrebleu"``,
:func:`rouge_l` ``definition="rouge_score"``; both tested equal to the libraries):

- ``sacrebleu``: ``sacrebleu.sentence_bleu(pred, [answer])`` (BLEU-n with
  ``max_ngram_order=n``) divided by 100. It differs from medtrust's definition in the
  tokens (mteval-v13a tokenization of the raw strings: case-sensitive, punctuation kept as
  tokens, no article or number-word rules), the smoothing (``exp``: the k-th order without a
  match counts ``1 / (2^k total)`` instead of add-one, and it applies to unigrams too when a
  higher order matches), the effective order (orders without any n-gram are left out, as in
  medtrust) and empty strings (0, even for two empty strings).
- ``rouge_score``: ``rouge_scorer.RougeScorer(["rougeL"]).score(answer, pred)["rougeL"]
  .fmeasure`` (no stemming, its default). Its tokens are the lower-cased string with every
  character outside ``[a-z0-9]`` as a separator (so ``"2.5"`` -> ``2 5``, ``"é"`` is dropped,
  articles are kept) and an empty side scores 0.

Empty strings (after normalisation): when both sides normalise to nothing (``"the"`` vs
``"a"``, ``"?"`` vs ``""``), the metrics are computed on the lower-cased tokens with only the
punctuation removed (steps 1-2), so ``"the"`` vs ``"a"`` is no exact match while ``"The."``
vs ``"the"`` is; empty vs empty there scores 1 on every metric, empty vs non-empty scores 0.

Closed questions (:func:`closed_choice`): the prediction's choice among the question's options
(``yes`` / ``no`` when the answer is yes or no and no options are given) is extracted by, in
order: the normalised prediction equals an option; its first clause (up to the first ``,``
``;`` ``:`` ``!`` ``?`` or sentence-ending ``.``) equals an option (``"No, there is no
effusion"`` -> ``no``); exactly one option occurs in it as a token sequence. Otherwise the
prediction is *ambiguous* (``"maybe"``, ``"yes and no"``): it scores 0 and is counted. A
closed question without options whose answer is not yes/no is scored by exact match and
counted as ``n_no_options``. A prediction that hedges (``maybe``, ``perhaps``, ``possibly``,
``probably``, ``likely``, ``unlikely``, ``unsure``, ``uncertain``, ``unclear``, ``might``,
``not sure``, ``cannot tell``, ``do not know``, ...) never gets the last, "occurs in it" step:
``"not sure, maybe yes"`` is ambiguous, not yes; a hedge after a committed first clause
(``"Yes, probably"``) still counts as that choice.

Examples
--------
>>> from medtrust.vqa.metrics import normalize_answer, token_scores
>>> normalize_answer("The X-Ray shows TWO nodules.")
'x ray shows 2 nodules'
>>> s = token_scores("left lung", "the right lung")
>>> s["exact_match"], s["token_f1"], round(s["bleu2"], 4)
(0.0, 0.5, 0.5)
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "METRIC_NAMES",
    "BleuDefinition",
    "RougeDefinition",
    "bleu",
    "closed_choice",
    "normalize_answer",
    "rouge_l",
    "token_f1",
    "token_metrics",
    "token_scores",
]

#: Per-item metric columns of :func:`token_metrics`, in order.
METRIC_NAMES: tuple[str, ...] = (
    "exact_match",
    "token_precision",
    "token_recall",
    "token_f1",
    "bleu1",
    "bleu2",
    "bleu3",
    "bleu4",
    "rouge_l",
)

#: Which BLEU: medtrust's (normalised tokens, add-one smoothing) or sacrebleu's sentence BLEU.
BleuDefinition = Literal["medtrust", "sacrebleu"]
#: Which ROUGE-L: medtrust's (normalised tokens) or Google's rouge-score package.
RougeDefinition = Literal["medtrust", "rouge_score"]

_ARTICLES = frozenset({"a", "an", "the"})
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update(
    {
        w: str(10 * i)
        for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)
    }
)
_NUMBER_WORDS["hundred"] = "100"
_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")  # every "." except one between two digits
_CLAUSE_END = re.compile(r"[,;:!?]|\.(?!\d)")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


# ASCII punctuation and symbols (the P* and S* categories) map to spaces in one translate call.
# ("." is handled separately: kept between two digits.)
_ASCII_PUNCT = str.maketrans({c: " " for c in map(chr, range(128)) if _is_punct(c) and c != "."})


def normalize_answer(text: Any) -> str:
    """The normalised form of an answer (see the module docstring for the steps).

    ``None`` normalises to the empty string.

    Parameters
    ----------
    text
        An answer (any object is converted with ``str``; None gives ``''``).

    Returns
    -------
    str
        The normalised tokens joined by single spaces.
    """
    if text is None:
        return ""
    return _normalize(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _normalize(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).lower()
    if s.isascii():
        s = s.translate(_ASCII_PUNCT)
    else:
        s = "".join(" " if ch != "." and _is_punct(ch) else ch for ch in s)
    s = _DOT.sub(" ", s)
    toks = [_NUMBER_WORDS.get(t, t) for t in s.split() if t not in _ARTICLES]
    return " ".join(toks)


def _tokens(text: Any) -> list[str]:
    return normalize_answer(text).split()


def _raw_tokens(text: Any) -> list[str]:
    """Steps 1-2 of the normalisation only (no article removal, no number words)."""
    if text is None:
        return []
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = "".join(" " if ch != "." and _is_punct(ch) else ch for ch in s)
    return _DOT.sub(" ", s).split()


def _pair_tokens(pred: Any, answer: Any) -> tuple[list[str], list[str]]:
    p, a = _tokens(pred), _tokens(answer)
    if not p and not a:  # both normalise to nothing: compare what is there
        return _raw_tokens(pred), _raw_tokens(answer)
    return p, a


def _ngrams(toks: Sequence[str], n: int) -> Counter:
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def token_f1(pred: Any, answer: Any) -> tuple[float, float, float]:
    """(precision, recall, F1) of the multiset token overlap of the normalised strings."""
    return _prf(*_pair_tokens(pred, answer))


def _prf(p: list[str], a: list[str]) -> tuple[float, float, float]:
    if not p and not a:
        return 1.0, 1.0, 1.0
    if not p or not a:
        return 0.0, 0.0, 0.0
    overlap = sum((Counter(p) & Counter(a)).values())
    if overlap == 0:
        return 0.0, 0.0, 0.0
    prec, rec = overlap / len(p), overlap / len(a)
    return prec, rec, 2 * prec * rec / (prec + rec)


def bleu(
    pred: Any, answer: Any, *, max_order: int = 4, definition: BleuDefinition = "medtrust"
) -> list[float]:
    """Sentence BLEU-1 ... BLEU-``max_order`` (cumulative, smoothed; see the module docstring).

    Parameters
    ----------
    pred
        The model's answer (a string; None counts as empty).
    answer
        The reference answer.
    max_order
        Highest n-gram order: BLEU-1 to BLEU-``max_order`` are returned.
    definition
        ``"medtrust"`` (default): the normalised tokens of :func:`normalize_answer`, add-one
        smoothing for n >= 2, unsmoothed unigrams, two empty strings score 1.
        ``"sacrebleu"``: exactly ``sacrebleu.sentence_bleu(pred, [answer]).score / 100``
        with ``max_ngram_order=n`` for BLEU-n (13a tokens of the raw, case-sensitive strings,
        ``exp`` smoothing, effective order; empty strings score 0). Computed here, without
        the sacrebleu package.

    Returns
    -------
    list of float
        BLEU-1 ... BLEU-``max_order`` in [0, 1] (each one geometric mean over orders 1..n).

    Examples
    --------
    >>> [round(b, 4) for b in bleu("left lung", "the left lung", max_order=2)]
    [1.0, 1.0]
    >>> [round(b, 4) for b in bleu("left lung", "the left lung", max_order=2,
    ...                          definition="sacrebleu")]
    [0.6065, 0.6065]
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise _invalid(f"max_order must be a positive integer; got {max_order!r}")
    if definition == "sacrebleu":
        p, a = _tokens_13a(pred), _tokens_13a(answer)
        return [_sacrebleu_sentence(p, a, n) for n in range(1, max_order + 1)]
    if definition != "medtrust":
        raise _invalid(f"definition must be 'medtrust' or 'sacrebleu'; got {definition!r}")
    return _bleu(*_pair_tokens(pred, answer), max_order)


def _invalid(message: str) -> Exception:
    from medtrust.exceptions import InvalidArgumentError

    return InvalidArgumentError(message)


# mteval-v13a tokenization (as sacrebleu's default "13a" tokenizer): symbols split off,
# "." and "," split off unless between digits, "-" split off after a digit.
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)
_13A_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def _tokens_13a(text: Any) -> list[str]:
    if text is None:
        return []
    s = str(text).replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _13A_ENTITIES:
        s = s.replace(entity, char)
    s = f" {s} "
    for rx, repl in _13A_RULES:
        s = rx.sub(repl, s)
    return s.split()


def _sacrebleu_sentence(p: list[str], a: list[str], order: int) -> float:
    """Sentence BLEU-``order`` as sacrebleu computes it, on [0, 1] (exp smoothing)."""
    correct = [sum((_ngrams(p, n) & _ngrams(a, n)).values()) for n in range(1, order + 1)]
    total = [max(len(p) - n + 1, 0) for n in range(1, order + 1)]
    if not any(correct):
        return 0.0
    bp = 1.0 if len(p) >= len(a) else math.exp(1.0 - len(a) / len(p))
    logs: list[float] = []
    halvings = 1.0
    for c, t in zip(correct, total):
        if t == 0:
            break  # effective order: no n-grams of this order in the prediction
        if c == 0:
            halvings *= 2.0  # NIST "exp" smoothing: 1/2, 1/4, ... of a match
            logs.append(math.log(1.0 / (halvings * t)))
        else:
            logs.append(math.log(c / t))
    return bp * math.exp(sum(logs) / len(logs))


def _bleu(p: list[str], a: list[str], max_order: int = 4) -> list[float]:
    if not p and not a:
        return [1.0] * max_order
    if not p or not a:
        return [0.0] * max_order
    log_prec: list[float] = []
    for n in range(1, max_order + 1):
        total = len(p) - n + 1
        if total <= 0:
            break  # effective order: the prediction has no n-grams of this order
        matches = sum((_ngrams(p, n) & _ngrams(a, n)).values())
        if n == 1:
            if matches == 0:
                return [0.0] * max_order
            log_prec.append(math.log(matches / total))
        else:
            log_prec.append(math.log((matches + 1) / (total + 1)))
    bp = 1.0 if len(p) >= len(a) else math.exp(1.0 - len(a) / len(p))
    out = []
    for n in range(1, max_order + 1):
        used = log_prec[: min(n, len(log_prec))]
        out.append(bp * math.exp(sum(used) / len(used)))
    return out


def _lcs(x: Sequence[str], y: Sequence[str]) -> int:
    prev = [0] * (len(y) + 1)
    for xi in x:
        cur = [0]
        for j, yj in enumerate(y):
            cur.append(prev[j] + 1 if xi == yj else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(pred: Any, answer: Any, *, definition: RougeDefinition = "medtrust") -> float:
    """ROUGE-L F1 (beta = 1) of the longest common subsequence of tokens.

    Parameters
    ----------
    pred
        The model's answer (a string; None counts as empty).
    answer
        The reference answer.
    definition
        ``"medtrust"`` (default): the normalised tokens of :func:`normalize_answer`; two
        empty strings score 1. ``"rouge_score"``: exactly
        ``rouge_scorer.RougeScorer(["rougeL"]).score(answer, pred)["rougeL"].fmeasure``
        (lower case, every character outside ``[a-z0-9]`` separates tokens, no stemming; an
        empty side scores 0). Computed here, without the rouge-score package.

    Returns
    -------
    float
        The F1 of LCS precision (over the prediction's tokens) and recall (over the answer's),
        in [0, 1].

    Examples
    --------
    >>> rouge_l("The left lung.", "left lung")
    1.0
    >>> round(rouge_l("The left lung.", "left lung", definition="rouge_score"), 4)
    0.8
    """
    if definition == "rouge_score":
        p, a = _tokens_rouge_score(pred), _tokens_rouge_score(answer)
        return 0.0 if not p or not a else _rouge_l(p, a)
    if definition != "medtrust":
        raise _invalid(f"definition must be 'medtrust' or 'rouge_score'; got {definition!r}")
    return _rouge_l(*_pair_tokens(pred, answer))


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _tokens_rouge_score(text: Any) -> list[str]:
    """rouge-score's default tokens: lower case, runs of non-[a-z0-9] characters separate."""
    return [] if text is None else _NON_ALNUM.sub(" ", str(text).lower()).split()


def _rouge_l(p: list[str], a: list[str]) -> float:
    if not p and not a:
        return 1.0
    if not p or not a:
        return 0.0
    lcs = _lcs(p, a)
    if lcs == 0:
        return 0.0
    prec, rec = lcs / len(p), lcs / len(a)
    return 2 * prec * rec / (prec + rec)


def token_scores(pred: Any, answer: Any) -> dict[str, float]:
    """Every metric of :data:`METRIC_NAMES` for one prediction.

    Parameters
    ----------
    pred
        A model's answer (None counts as empty).
    answer
        The reference answer.

    Returns
    -------
    dict of str to float
        Every metric of :data:`METRIC_NAMES`, each in [0, 1] (higher is better).
    """
    p, a = _pair_tokens(pred, answer)
    prec, rec, f1 = _prf(p, a)
    b = _bleu(p, a)
    return {
        "exact_match": float(p == a),
        "token_precision": prec,
        "token_recall": rec,
        "token_f1": f1,
        "bleu1": b[0],
        "bleu2": b[1],
        "bleu3": b[2],
        "bleu4": b[3],
        "rouge_l": _rouge_l(p, a),
    }


def _contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


_HEDGES = frozenset(
    "maybe perhaps possibly possible probably likely unlikely unsure uncertain unclear "
    "might may could suggestive indeterminate".split()
)
_HEDGE_PHRASES = (
    ("not", "sure"),
    ("not", "certain"),
    ("cannot", "tell"),
    ("can", "not", "tell"),
    ("can", "t", "tell"),
    ("cannot", "be", "determined"),
    ("hard", "to", "say"),
    ("do", "not", "know"),
    ("don", "t", "know"),
)


def _hedged(toks: list[str]) -> bool:
    return any(t in _HEDGES for t in toks) or any(_contains(toks, list(h)) for h in _HEDGE_PHRASES)


def closed_choice(pred: Any, options: Sequence[str]) -> str | None:
    """The option a prediction chooses, or ``None`` when ambiguous (see the module docstring).

    Returns the option as given (not normalised).

    Parameters
    ----------
    pred
        A model's answer (None counts as empty).
    options
        The question's options (e.g. ``['yes', 'no']``).

    Returns
    -------
    str or None
        The chosen option as given, or None when the prediction is ambiguous.

    Examples
    --------
    >>> closed_choice("No, there is no effusion.", ["yes", "no"])
    'no'
    >>> closed_choice("maybe", ["yes", "no"]) is None
    True
    >>> closed_choice("not sure, maybe yes", ["yes", "no"]) is None
    True
    """
    norm = {o: normalize_answer(o) for o in options}
    pn = normalize_answer(pred)
    exact = [o for o, n in norm.items() if n and n == pn]
    if exact:
        return exact[0]
    raw = "" if pred is None else unicodedata.normalize("NFKC", str(pred))
    clause = normalize_answer(_CLAUSE_END.split(raw.strip(), maxsplit=1)[0])
    first = [o for o, n in norm.items() if n and n == clause]
    if first:
        return first[0]
    ptoks = pn.split()
    if _hedged(ptoks):
        return None  # a hedge that names an option has not committed to it
    found = [o for o, n in norm.items() if _contains(ptoks, n.split())]
    return found[0] if len(found) == 1 else None


def _closed_options(answer: Any, options: Sequence[str] | None) -> list[str] | None:
    if options is not None and len(options) > 0:
        return [str(o) for o in options]
    if normalize_answer(answer) in ("yes", "no"):
        return ["yes", "no"]
    return None


def token_metrics(df: Any, *, pred: str = "pred", answer: str = "answer") -> pl.DataFrame:
    """Per-item token metrics for a table of predictions joined with their samples.

    Parameters
    ----------
    df
        polars DataFrame with columns ``pred``, ``answer``, ``answer_type`` and optionally
        ``options`` (list of the closed question's choices).
    pred
        Column of the predictions.
    answer
        Column of the reference answers.

    Returns
    -------
    polars.DataFrame
        ``df`` plus the columns of :data:`METRIC_NAMES` and, for closed questions,
        ``closed_correct`` (0/1), ``closed_ambiguous`` (bool), ``closed_choice`` and
        ``closed_no_options`` (bool); these are null for open questions.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"pred": ["yes", "maybe"], "answer": ["yes", "no"],
    ...                    "answer_type": ["closed", "closed"]})
    >>> token_metrics(df).select("closed_correct", "closed_ambiguous").rows()
    [(1.0, False), (0.0, True)]
    """
    import polars as pl

    from medtrust.exceptions import InvalidArgumentError

    missing = [c for c in (pred, answer, "answer_type") if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"token_metrics needs columns {missing}; have {df.columns}")
    preds = df[pred].to_list()
    answers = df[answer].to_list()
    types = df["answer_type"].to_list()
    opts = df["options"].to_list() if "options" in df.columns else [None] * len(preds)
    cols: dict[str, list[Any]] = {m: [] for m in METRIC_NAMES}
    correct: list[float | None] = []
    ambiguous: list[bool | None] = []
    choice: list[str | None] = []
    no_opts: list[bool | None] = []
    for p, a, t, o in zip(preds, answers, types, opts):
        for k, v in token_scores(p, a).items():
            cols[k].append(v)
        if t != "closed":
            correct.append(None)
            ambiguous.append(None)
            choice.append(None)
            no_opts.append(None)
            continue
        options = _closed_options(a, o)
        if options is None:
            correct.append(cols["exact_match"][-1])  # never short-cut on two empty strings
            ambiguous.append(False)
            choice.append(None)
            no_opts.append(True)
            continue
        c = closed_choice(p, options)
        choice.append(c)
        ambiguous.append(c is None)
        no_opts.append(False)
        correct.append(float(c is not None and normalize_answer(c) == normalize_answer(a)))
    out = df.with_columns(
        *[pl.Series(k, v, dtype=pl.Float64) for k, v in cols.items()],
        pl.Series("closed_correct", correct, dtype=pl.Float64),
        pl.Series("closed_ambiguous", ambiguous, dtype=pl.Boolean),
        pl.Series("closed_choice", choice, dtype=pl.String),
        pl.Series("closed_no_options", no_opts, dtype=pl.Boolean),
    )
    return out
