"""What a judge run produces: items, per-item records (the column list, once), the summary.

Examples
--------
>>> from medtrust.vqa.judge.records import RESULT_COLUMNS, new_record
>>> RESULT_COLUMNS[:3]
('judge_score', 'judge_status', 'judge_source')
>>> new_record("m", "v1", 0.0, 0, "closed", judge_score=1.0)["judge_prompt_version"]
'v1/closed'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import JudgeError

__all__ = [
    "CACHED_FIELDS",
    "RESULT_COLUMNS",
    "JudgeItem",
    "JudgeRun",
    "RequestCounter",
    "check_failures",
    "new_record",
    "result_schema",
    "summarise",
]

# (column, polars dtype name, default): the one list of the per-item judge columns.
_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("judge_score", "Float64", None),
    ("judge_status", "String", "ok"),
    ("judge_source", "String", "judge"),
    ("judge_reason", "String", None),
    ("judge_raw", "String", None),
    ("judge_error", "String", None),
    ("judge_attempts", "Int64", 0),
    ("judge_prompt_tokens", "Int64", 0),
    ("judge_completion_tokens", "Int64", 0),
    ("judge_latency_s", "Float64", 0.0),
    ("judge_model", "String", None),
    ("judge_prompt_version", "String", None),
    ("judge_temperature", "Float64", None),
    ("judge_seed", "Int64", None),
    ("judge_kind", "String", None),
)
#: Columns of :attr:`JudgeRun.results` (besides ``qid``).
RESULT_COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in _COLUMNS)
#: Fields of a record kept in the cache.
CACHED_FIELDS: tuple[str, ...] = (
    "judge_score",
    "judge_reason",
    "judge_raw",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "judge_temperature",
    "judge_seed",
)


def result_schema() -> dict[str, Any]:
    """Polars schema of :attr:`JudgeRun.results` (``qid`` first)."""
    import polars as pl

    return {"qid": pl.String, **{c: getattr(pl, t) for c, t, _ in _COLUMNS}}


def new_record(
    model: str, prompt_version: str, temperature: float, seed: int | None, kind: str, **kw: Any
) -> dict[str, Any]:
    """A record with every column: defaults, provenance, then ``kw``."""
    rec = {c: d for c, _, d in _COLUMNS}
    rec.update(
        judge_model=model,
        judge_prompt_version=f"{prompt_version}/{kind}",
        judge_temperature=temperature,
        judge_seed=seed,
        judge_kind=kind,
    )
    rec.update(kw)
    return rec


if TYPE_CHECKING:
    import polars as pl

#: The rubric of a :class:`JudgeItem` (:data:`~medtrust.vqa.judge.prompts.KINDS`).
JudgeKind = Literal["open", "closed", "two_option"]


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge.

    Attributes
    ----------
    qid
        Item id (need not be unique).
    question
        The question shown to the judge.
    answer
        The reference answer.
    prediction
        The model's free-text answer.
    kind
        Rubric: ``"open"``, ``"closed"`` or ``"two_option"`` (:data:`KINDS`).
    """

    qid: str
    question: str
    answer: str
    prediction: str
    kind: JudgeKind = "open"


@dataclass(frozen=True)
class JudgeRun:
    """Results (polars DataFrame, one row per item, in input order) and counts.

    Attributes
    ----------
    results
        polars DataFrame, one row per item in input order (:data:`RESULT_COLUMNS`).
    summary
        Counts: items, requests, cache hits, statuses, tokens.
    config
        The judge settings used (API key masked).
    """

    results: Any
    summary: dict[str, Any]
    config: dict[str, Any]

    @property
    def failure_rate(self) -> float:
        """Fraction of items with status parse_error or api_error."""
        return float(self.summary["failure_rate"])

    def check_failures(self, threshold: float | None) -> None:
        """Raise :class:`~medtrust.exceptions.JudgeError` if failures exceed ``threshold``.

        Parameters
        ----------
        threshold
            Largest allowed fraction of failed items (None: no limit).
        """
        check_failures(self.summary, threshold)

    def to_dict(self) -> dict[str, Any]:
        """The summary.

        Returns
        -------
        dict
            The summary counts.
        """
        return dict(self.summary)

    def to_frame(self) -> pl.DataFrame:
        """The per-item results.

        Returns
        -------
        polars.DataFrame
            The per-item ``results``.
        """
        return self.results


def check_failures(summary: dict[str, Any], threshold: float | None) -> None:
    """Raise :class:`~medtrust.exceptions.JudgeError` if a run's failure rate > ``threshold``.

    ``summary`` is :attr:`JudgeRun.summary`; ``threshold=None`` never raises.
    """
    rate = float(summary["failure_rate"])
    if threshold is not None and rate > threshold:
        raise JudgeError(
            f"judge failures {summary['n_failed']}/{summary['n_items']} ({rate:.1%}: "
            f"{summary['n_parse_error']} parse errors, {summary['n_api_error']} API errors) "
            f"exceed the threshold {threshold:.1%}; finished verdicts are cached, rerun to retry"
        )


class RequestCounter:
    """Requests sent and tokens used, shared by the worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add(self) -> None:
        """Count one request."""
        with self.lock:
            self.requests += 1

    def tokens(self, prompt: int, completion: int) -> None:
        """Add the tokens of one reply."""
        with self.lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion


def summarise(df: Any, counter: RequestCounter, n_cache_hits: int) -> dict[str, Any]:
    """The counts of :attr:`JudgeRun.summary` from the per-item results."""
    import polars as pl

    n = df.height
    status = dict(df.group_by("judge_status").len().rows())
    source = dict(df.group_by("judge_source").len().rows())
    n_failed = int(status.get("parse_error", 0) + status.get("api_error", 0))
    ok = df.filter(pl.col("judge_status") == "ok")
    means = {
        k: float(v) for k, v in ok.group_by("judge_kind").agg(pl.col("judge_score").mean()).rows()
    }
    return {
        "n_items": n,
        "n_ok": int(status.get("ok", 0)),
        "n_parse_error": int(status.get("parse_error", 0)),
        "n_api_error": int(status.get("api_error", 0)),
        "n_failed": n_failed,
        "failure_rate": n_failed / n if n else 0.0,
        "n_exact_match": int(source.get("exact_match", 0)),
        "n_cache_hits": n_cache_hits,
        "n_requests": counter.requests,
        # tokens spent by this run (cached verdicts keep the counts of the run that made them)
        "prompt_tokens": counter.prompt_tokens,
        "completion_tokens": counter.completion_tokens,
        "mean_score_by_kind": means,
    }
