"""Run the LLM judge over many items: exact-match short-cut, cache, bounded concurrency, retries.

For every item (question, answer, prediction, rubric kind):

1. if the prediction equals the answer after :func:`~medtrust.vqa.metrics.normalize_answer`,
   the top score is given without a call (``source="exact_match"``);
2. else a cached verdict is used when present (``source="cache"``);
3. else the judge is asked (``source="judge"``): API failures that may pass (429, 5xx,
   timeouts) are retried up to ``max_retries`` times with exponential backoff (honouring
   ``Retry-After``), an unparsable reply is asked again up to ``parse_retries`` times; the
   final outcome is ``status`` ``"ok"``, ``"parse_error"`` (raw reply kept) or
   ``"api_error"`` (error kept). Only ``"ok"`` verdicts enter the cache, each as soon as it
   arrives, so an interrupted run keeps everything it finished.

Identical (question, answer, prediction, kind) items in one run share one request. Each result
records the judge model, prompt version, temperature, seed, token counts, attempts and latency.
Failures are never dropped silently: :class:`JudgeRun` counts them, and ``failure_threshold``
turns too many of them into a :class:`~medtrust.exceptions.JudgeError`.

Examples
--------
>>> from medtrust.vqa.judge import JudgeConfig, JudgeItem, run_judge
>>> run = run_judge([JudgeItem("1", "Is it a CT?", "yes", "Yes.", "closed")], JudgeConfig(
...     base_url="http://127.0.0.1:9/v1", model="m"), cache=None)
>>> run.results["judge_source"].to_list(), run.summary["n_requests"]
(['exact_match'], 0)
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import InvalidArgumentError, JudgeError
from medtrust.vqa.judge.backends import (
    BackendError,
    OpenAIChatBackend,
    PermanentError,
    TransformersJudgeBackend,
)
from medtrust.vqa.judge.cache import JudgeCache, default_cache_path
from medtrust.vqa.judge.prompts import (
    KINDS,
    PROMPT_VERSION,
    VerdictParseError,
    build_messages,
    judge_kind,
    parse_verdict,
    top_score,
)
from medtrust.vqa.metrics import normalize_answer

if TYPE_CHECKING:
    import polars as pl

#: The judge backend of a :class:`JudgeConfig`.
JudgeBackendName = Literal["openai", "transformers"]
#: The rubric of a :class:`JudgeItem` (:data:`~medtrust.vqa.judge.prompts.KINDS`).
JudgeKind = Literal["open", "closed", "two_option"]

__all__ = [
    "RESULT_COLUMNS",
    "JudgeConfig",
    "JudgeItem",
    "JudgeRun",
    "check_failures",
    "judge_frame",
    "run_judge",
]

log = logging.getLogger(__name__)

#: Columns of :attr:`JudgeRun.results` (besides ``qid``).
RESULT_COLUMNS: tuple[str, ...] = (
    "judge_score",
    "judge_status",
    "judge_source",
    "judge_reason",
    "judge_raw",
    "judge_error",
    "judge_attempts",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "judge_latency_s",
    "judge_model",
    "judge_prompt_version",
    "judge_temperature",
    "judge_seed",
    "judge_kind",
)


@dataclass(frozen=True)
class JudgeConfig:
    """How to reach and drive the judge.

    Parameters
    ----------
    base_url, model, api_key
        OpenAI-compatible endpoint; from ``MEDTRUST_JUDGE_URL`` / ``MEDTRUST_JUDGE_MODEL`` /
        ``MEDTRUST_JUDGE_API_KEY`` (or ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``) with
        :meth:`from_env`.
    backend
        ``"openai"`` (HTTP) or ``"transformers"`` (``model_path``, in process).
    model_path
        Local model folder for the transformers backend (``MEDTRUST_JUDGE_MODEL_PATH``).
    temperature, seed, max_tokens
        Sampling settings, recorded with every verdict.
    timeout
        Seconds per socket operation of a request.
    max_retries
        Retries of a request after a transient API error (so ``1 + max_retries`` attempts).
    parse_retries
        Extra requests after an unparsable reply.
    backoff, backoff_max
        First retry delay in seconds (doubling each retry, +-25 % jitter) and its cap.
    concurrency
        Requests in flight at most.
    failure_threshold
        Largest allowed fraction of failed items (None: no limit); see
        :meth:`JudgeRun.check_failures`.
    json_mode
        Ask the server for ``response_format={"type": "json_object"}``.
    """

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    backend: JudgeBackendName = "openai"
    model_path: str | None = None
    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int = 256
    timeout: float = 60.0
    max_retries: int = 3
    parse_retries: int = 1
    backoff: float = 1.0
    backoff_max: float = 30.0
    concurrency: int = 4
    failure_threshold: float | None = None
    json_mode: bool = False
    prompt_version: str = PROMPT_VERSION

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "transformers"):
            raise InvalidArgumentError(f"backend must be openai or transformers: {self.backend}")
        if self.concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0 or self.parse_retries < 0:
            raise InvalidArgumentError("max_retries and parse_retries must be >= 0")
        if self.timeout <= 0:
            raise InvalidArgumentError(f"timeout must be > 0, got {self.timeout}")
        if self.failure_threshold is not None and not 0 <= self.failure_threshold <= 1:
            raise InvalidArgumentError("failure_threshold must be in [0, 1]")

    @classmethod
    def from_env(cls, **overrides: Any) -> JudgeConfig:
        """Fill URL, model, key and model path from the environment; ``None`` overrides skip."""
        env = os.environ
        values: dict[str, Any] = {
            "base_url": env.get("MEDTRUST_JUDGE_URL") or env.get("OPENAI_BASE_URL"),
            "model": env.get("MEDTRUST_JUDGE_MODEL"),
            "api_key": env.get("MEDTRUST_JUDGE_API_KEY") or env.get("OPENAI_API_KEY"),
            "model_path": env.get("MEDTRUST_JUDGE_MODEL_PATH"),
        }
        if values["model_path"] and not values["base_url"]:
            values["backend"] = "transformers"
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def configured(self) -> bool:
        """Whether enough is set to reach a judge."""
        if self.backend == "transformers":
            return bool(self.model_path)
        return bool(self.base_url and self.model)

    @property
    def judge_name(self) -> str:
        """The model name recorded in the cache key."""
        return str(self.model or self.model_path or "")

    def to_dict(self) -> dict[str, Any]:
        """Settings without the API key (for provenance)."""
        d = asdict(self)
        d["api_key"] = "***" if self.api_key else None
        return d

    def make_backend(self) -> Any:
        """The backend these settings describe."""
        if not self.configured:
            raise JudgeError(
                "no judge configured: give a base URL and model (--judge-url, --judge-model or "
                "MEDTRUST_JUDGE_URL, MEDTRUST_JUDGE_MODEL) or a local model path"
            )
        if self.backend == "transformers":
            return TransformersJudgeBackend(
                str(self.model_path),
                max_new_tokens=self.max_tokens,
                seed=self.seed,
                name=self.judge_name,
            )
        return OpenAIChatBackend(
            str(self.base_url),
            str(self.model),
            api_key=self.api_key,
            timeout=self.timeout,
            temperature=self.temperature,
            seed=self.seed,
            max_tokens=self.max_tokens,
            json_mode=self.json_mode,
        )


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge."""

    qid: str
    question: str
    answer: str
    prediction: str
    kind: JudgeKind = "open"


@dataclass(frozen=True)
class JudgeRun:
    """Results (polars DataFrame, one row per item, in input order) and counts."""

    results: Any
    summary: dict[str, Any]
    config: dict[str, Any]

    @property
    def failure_rate(self) -> float:
        """Fraction of items with status parse_error or api_error."""
        return float(self.summary["failure_rate"])

    def check_failures(self, threshold: float | None) -> None:
        """Raise :class:`~medtrust.exceptions.JudgeError` if failures exceed ``threshold``."""
        check_failures(self.summary, threshold)

    def to_dict(self) -> dict[str, Any]:
        """The summary."""
        return dict(self.summary)

    def to_frame(self) -> pl.DataFrame:
        """The per-item results."""
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


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add(self) -> None:
        with self.lock:
            self.requests += 1

    def tokens(self, prompt: int, completion: int) -> None:
        with self.lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion


def _record(cfg: JudgeConfig, kind: str, **kw: Any) -> dict[str, Any]:
    base = {
        "judge_score": None,
        "judge_status": "ok",
        "judge_source": "judge",
        "judge_reason": None,
        "judge_raw": None,
        "judge_error": None,
        "judge_attempts": 0,
        "judge_prompt_tokens": 0,
        "judge_completion_tokens": 0,
        "judge_latency_s": 0.0,
        "judge_model": cfg.judge_name,
        "judge_prompt_version": f"{cfg.prompt_version}/{kind}",
        "judge_temperature": cfg.temperature,
        "judge_seed": cfg.seed,
        "judge_kind": kind,
    }
    base.update(kw)
    return base


def _delay(cfg: JudgeConfig, retry: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(cfg.backoff_max, retry_after)
    d = min(cfg.backoff_max, cfg.backoff * 2 ** (retry - 1))
    return d * (0.75 + 0.5 * random.random())


def _ask(
    item: JudgeItem,
    backend: Any,
    cfg: JudgeConfig,
    counter: _Counter,
    stop: threading.Event,
) -> dict[str, Any]:
    messages = build_messages(item.question, item.answer, item.prediction, item.kind)
    t0 = time.perf_counter()
    attempts = api_retries = parse_fails = 0
    ptok = ctok = 0
    while True:
        if stop.is_set():
            return _record(
                cfg,
                item.kind,
                judge_status="api_error",
                judge_error="interrupted",
                judge_attempts=attempts,
            )
        attempts += 1
        counter.add()
        try:
            comp = backend.complete(messages)
        except BackendError as e:
            transient = not isinstance(e, PermanentError)
            if transient and api_retries < cfg.max_retries:
                api_retries += 1
                d = _delay(cfg, api_retries, e.retry_after)
                log.debug("judge %s: %s; retry %d in %.2f s", item.qid, e, api_retries, d)
                stop.wait(d)
                continue
            return _record(
                cfg,
                item.kind,
                judge_status="api_error",
                judge_error=str(e),
                judge_attempts=attempts,
                judge_prompt_tokens=ptok,
                judge_completion_tokens=ctok,
                judge_latency_s=time.perf_counter() - t0,
            )
        ptok += comp.prompt_tokens
        ctok += comp.completion_tokens
        counter.tokens(comp.prompt_tokens, comp.completion_tokens)
        try:
            verdict = parse_verdict(comp.text, item.kind)
        except VerdictParseError as e:
            parse_fails += 1
            if parse_fails <= cfg.parse_retries:
                continue
            return _record(
                cfg,
                item.kind,
                judge_status="parse_error",
                judge_raw=comp.text,
                judge_error=str(e),
                judge_attempts=attempts,
                judge_prompt_tokens=ptok,
                judge_completion_tokens=ctok,
                judge_latency_s=time.perf_counter() - t0,
            )
        return _record(
            cfg,
            item.kind,
            judge_score=verdict.score,
            judge_reason=verdict.reason,
            judge_raw=comp.text,
            judge_attempts=attempts,
            judge_prompt_tokens=ptok,
            judge_completion_tokens=ctok,
            judge_latency_s=time.perf_counter() - t0,
        )


_CACHED_FIELDS = (
    "judge_score",
    "judge_reason",
    "judge_raw",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "judge_temperature",
    "judge_seed",
)


def _open_cache(cache: Any) -> tuple[JudgeCache | None, bool]:
    if cache is None or cache is False:
        return None, False
    if isinstance(cache, JudgeCache):
        return cache, False
    if cache is True:
        return JudgeCache(default_cache_path()), True
    return JudgeCache(Path(cache)), True


def run_judge(
    items: Iterable[JudgeItem],
    config: JudgeConfig | None = None,
    *,
    backend: Any = None,
    cache: Any = True,
    progress: bool = False,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
) -> JudgeRun:
    """Judge every item; see the module docstring for the procedure.

    Parameters
    ----------
    items
        :class:`JudgeItem` objects (qids need not be unique).
    config
        Settings; default :meth:`JudgeConfig.from_env`.
    backend
        An object with ``name`` and ``complete(messages)``; default ``config.make_backend()``
        (built only when some item needs a call).
    cache
        A :class:`~medtrust.vqa.judge.cache.JudgeCache`, a path (file or folder), ``True``
        for the default location (:func:`~medtrust.vqa.judge.cache.default_cache_path`), or
        ``None`` / ``False`` for none.
    progress
        Show a progress bar.
    on_result
        Called with ``(qid, record)`` in the calling thread as each verdict arrives; an
        exception it raises (or Ctrl-C) stops the run: pending requests are cancelled and
        finished verdicts stay in the cache.
    """
    import polars as pl

    from medtrust._io import progress as progress_bar

    cfg = config or JudgeConfig.from_env()
    if backend is not None and getattr(backend, "name", None) not in (None, cfg.judge_name):
        cfg = replace(cfg, model=str(backend.name))  # the backend names the judge
    items = list(items)
    for it in items:
        if it.kind not in KINDS:
            raise InvalidArgumentError(f"judge kind must be one of {KINDS}, got {it.kind!r}")
    store, owned = _open_cache(cache)
    counter = _Counter()
    records: list[dict[str, Any] | None] = [None] * len(items)
    # Unique work: (question, answer, prediction, kind) -> item indices.
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, it in enumerate(items):
        if normalize_answer(it.prediction) == normalize_answer(it.answer):
            records[i] = _record(
                cfg, it.kind, judge_score=top_score(it.kind), judge_source="exact_match"
            )
            continue
        groups.setdefault((it.question, it.answer, it.prediction, it.kind), []).append(i)
    n_cache_hits = 0
    todo: list[tuple[tuple[str, str, str, str], str]] = []
    name = cfg.judge_name
    try:
        for key in groups:
            q, a, p, kind = key
            ck = JudgeCache.key(name, f"{cfg.prompt_version}/{kind}", q, a, p)
            hit = store.get(ck) if store is not None else None
            if hit is not None:
                rec = _record(cfg, kind, judge_source="cache")
                rec.update({k: hit.get(k, rec[k]) for k in _CACHED_FIELDS})
                rec["judge_model"] = name
                for i in groups[key]:
                    records[i] = dict(rec)
                n_cache_hits += len(groups[key])
            else:
                todo.append((key, ck))
        if todo:
            if backend is None:
                backend = cfg.make_backend()
            _run_pool(
                todo,
                groups,
                items,
                records,
                backend,
                cfg,
                store,
                counter,
                on_result,
                progress_bar,
                progress,
            )
    finally:
        if owned and store is not None:
            store.close()
    rows = []
    for it, done in zip(items, records):
        assert done is not None
        rows.append({"qid": it.qid, **done})
    schema = {
        "qid": pl.String,
        "judge_score": pl.Float64,
        "judge_status": pl.String,
        "judge_source": pl.String,
        "judge_reason": pl.String,
        "judge_raw": pl.String,
        "judge_error": pl.String,
        "judge_attempts": pl.Int64,
        "judge_prompt_tokens": pl.Int64,
        "judge_completion_tokens": pl.Int64,
        "judge_latency_s": pl.Float64,
        "judge_model": pl.String,
        "judge_prompt_version": pl.String,
        "judge_temperature": pl.Float64,
        "judge_seed": pl.Int64,
        "judge_kind": pl.String,
    }
    df = pl.DataFrame(rows, schema=schema)
    return JudgeRun(results=df, summary=_summary(df, counter, n_cache_hits), config=cfg.to_dict())


def _run_pool(
    todo: Sequence[tuple[tuple[str, str, str, str], str]],
    groups: dict[tuple[str, str, str, str], list[int]],
    items: list[JudgeItem],
    records: list[dict[str, Any] | None],
    backend: Any,
    cfg: JudgeConfig,
    store: JudgeCache | None,
    counter: _Counter,
    on_result: Callable[[str, dict[str, Any]], None] | None,
    progress_bar: Any,
    progress: bool,
) -> None:
    stop = threading.Event()

    def work(key: tuple[str, str, str, str], ck: str) -> dict[str, Any]:
        q, a, p, kind = key
        first = items[groups[key][0]]
        rec = _ask(
            JudgeItem(first.qid, q, a, p, kind),  # type: ignore[arg-type]
            backend,
            cfg,
            counter,
            stop,
        )
        if rec["judge_status"] == "ok" and store is not None:
            store.put(
                ck,
                {k: rec[k] for k in _CACHED_FIELDS},
                model=backend.name,
                prompt_version=rec["judge_prompt_version"],
                question=q,
                answer=a,
                prediction=p,
            )
        return rec

    pool = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="medtrust-judge")
    futures: dict[Future, tuple[str, str, str, str]] = {}
    pending = iter(todo)
    bar = iter(progress_bar(range(len(todo)), desc="judge", enabled=progress, total=len(todo)))
    try:
        # Submit lazily (at most 2 x concurrency queued) so an interruption cancels cheaply.
        def fill() -> None:
            while len(futures) < 2 * cfg.concurrency:
                nxt = next(pending, None)
                if nxt is None:
                    return
                futures[pool.submit(work, *nxt)] = nxt[0]

        fill()
        while futures:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in done:
                key = futures.pop(fut)
                rec = fut.result()
                for i in groups[key]:
                    records[i] = dict(rec)
                next(bar, None)
                if on_result is not None:
                    on_result(items[groups[key][0]].qid, rec)
            fill()
    except BaseException:
        stop.set()
        for fut in futures:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        for _ in bar:
            pass
    pool.shutdown(wait=True)


def _summary(df: Any, counter: _Counter, n_cache_hits: int) -> dict[str, Any]:
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


def judge_frame(
    df: Any,
    config: JudgeConfig | None = None,
    *,
    backend: Any = None,
    cache: Any = True,
    progress: bool = False,
    question: str = "question",
    answer: str = "answer",
    pred: str = "pred",
) -> tuple[Any, JudgeRun]:
    """Judge every row of a polars DataFrame; returns ``(df + judge columns, run)``.

    The rubric comes from ``answer_type`` and ``options`` (see
    :func:`~medtrust.vqa.judge.prompts.judge_kind`), or from a ``judge_kind`` column.
    """
    import polars as pl

    missing = [c for c in ("qid", question, answer, pred, "answer_type") if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"judge_frame needs columns {missing}; have {df.columns}")
    opts = df["options"].to_list() if "options" in df.columns else [None] * df.height
    kinds = (
        df["judge_kind"].to_list()
        if "judge_kind" in df.columns
        else [judge_kind(t, o) for t, o in zip(df["answer_type"].to_list(), opts)]
    )
    items = [
        JudgeItem(str(q_id), str(q), str(a), "" if p is None else str(p), k)
        for q_id, q, a, p, k in zip(
            df["qid"].to_list(),
            df[question].to_list(),
            df[answer].to_list(),
            df[pred].to_list(),
            kinds,
        )
    ]
    run = run_judge(items, config, backend=backend, cache=cache, progress=progress)
    res = run.results.drop("qid")
    base = df.drop([c for c in res.columns if c in df.columns])
    return pl.concat([base, res], how="horizontal"), run


def with_overrides(config: JudgeConfig, **kw: Any) -> JudgeConfig:
    """A copy of ``config`` with the non-None ``kw`` applied."""
    return replace(config, **{k: v for k, v in kw.items() if v is not None})
