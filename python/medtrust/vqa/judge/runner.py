"""Run the LLM judge over many items: exact-match short-cut, cache, bounded concurrency, retries.

For every item (question, answer, prediction, rubric kind):

1. if the prediction equals the answer after :func:`~medtrust.vqa.metrics.normalize_answer`
   and that normalised answer is not empty, the top score is given without a call
   (``source="exact_match"``); an answer that normalises to nothing (``"the"``, ``"a"``,
   ``"?"``) always goes to the judge;
2. else a cached verdict is used when present (``source="cache"``);
3. else the judge is asked (``source="judge"``), see :mod:`~medtrust.vqa.judge.attempts` and
   :mod:`~medtrust.vqa.judge.pool`: API failures that may pass (429, 5xx, timeouts) are
   retried up to ``max_retries`` times with jittered exponential backoff (``Retry-After``
   may lengthen it), an unparsable reply is asked again up to ``parse_retries`` times; the
   final outcome is ``status`` ``"ok"``, ``"parse_error"`` (raw reply kept) or
   ``"api_error"`` (error kept). Only ``"ok"`` verdicts enter the cache, each as soon as it
   arrives, so an interrupted run keeps everything it finished.

Before the first request the endpoint is probed once (``JudgeConfig.probe``); the run stops
when its first ``fail_fast`` items all fail. Identical (question, answer, prediction, kind)
items in one run share one request. Each result records the judge model, prompt version,
temperature, seed, token counts, attempts and latency. Failures are never dropped silently:
:class:`JudgeRun` counts them, and ``failure_threshold`` turns too many of them into a
:class:`~medtrust.exceptions.JudgeError`.

Examples
--------
>>> from medtrust.vqa.judge import JudgeConfig, JudgeItem, run_judge
>>> run = run_judge([JudgeItem("1", "Is it a CT?", "yes", "Yes.", "closed")], JudgeConfig(
...     base_url="http://127.0.0.1:9/v1", model="m"), cache=None)
>>> run.results["judge_source"].to_list(), run.summary["n_requests"]
(['exact_match'], 0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtrust.exceptions import InvalidArgumentError
from medtrust.vqa.judge.cache import JudgeCache, default_cache_path
from medtrust.vqa.judge.config import JudgeConfig, with_overrides
from medtrust.vqa.judge.pool import GroupKey, PoolJob, run_pool
from medtrust.vqa.judge.prompts import KINDS, judge_kind, top_score
from medtrust.vqa.judge.records import (
    CACHED_FIELDS,
    RESULT_COLUMNS,
    JudgeItem,
    JudgeRun,
    RequestCounter,
    check_failures,
    new_record,
    result_schema,
    summarise,
)
from medtrust.vqa.metrics import normalize_answer

if TYPE_CHECKING:
    pass


__all__ = [
    "RESULT_COLUMNS",
    "JudgeConfig",
    "JudgeItem",
    "JudgeRun",
    "check_failures",
    "judge_frame",
    "run_judge",
    "with_overrides",
]


def _open_cache(cache: Any) -> tuple[JudgeCache | None, bool]:
    if cache is None or cache is False:
        return None, False
    if isinstance(cache, JudgeCache):
        return cache, False
    if cache is True:
        return JudgeCache(default_cache_path()), True
    return JudgeCache(Path(cache)), True


def is_exact_match(prediction: str, answer: str) -> bool:
    """Whether the judge may be skipped: equal after normalising, and not empty then."""
    a = normalize_answer(answer)
    return bool(a) and normalize_answer(prediction) == a


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
        An object with ``name`` and ``complete(messages)`` (and optionally ``probe()``);
        default ``config.make_backend()`` (built only when some item needs a call).
    cache
        A :class:`~medtrust.vqa.judge.cache.JudgeCache`, a path (file or folder), ``True``
        for the default location (:func:`~medtrust.vqa.judge.cache.default_cache_path`), or
        ``None`` / ``False`` for none.
    progress
        Show a progress bar.
    on_result
        Called with ``(qid, record)`` in the calling thread as each verdict arrives; an
        exception it raises (or Ctrl-C) stops the run: nothing new is sent, requests in
        flight are abandoned, and finished verdicts stay in the cache.

    Returns
    -------
    JudgeRun
        One result row per item (score, reason, status, source, provenance) and the run's counts.
    """
    import polars as pl

    cfg = config or JudgeConfig.from_env()
    if backend is not None and getattr(backend, "name", None) not in (None, cfg.judge_name):
        cfg = replace(cfg, model=str(backend.name))  # the backend names the judge
    items = list(items)
    for it in items:
        if it.kind not in KINDS:
            raise InvalidArgumentError(f"judge kind must be one of {KINDS}, got {it.kind!r}")
    name, version = cfg.judge_name, str(cfg.prompt_version)

    def record(kind: str, **kw: Any) -> dict[str, Any]:
        return new_record(name, version, cfg.temperature, cfg.seed, kind, **kw)

    store, owned = _open_cache(cache)
    records: list[dict[str, Any] | None] = [None] * len(items)
    groups: dict[GroupKey, list[int]] = {}
    for i, it in enumerate(items):
        if is_exact_match(it.prediction, it.answer):
            records[i] = record(it.kind, judge_score=top_score(it.kind), judge_source="exact_match")
        else:
            groups.setdefault((it.question, it.answer, it.prediction, it.kind), []).append(i)
    n_cache_hits = 0
    todo: list[tuple[GroupKey, str]] = []
    counter = RequestCounter()
    owned_backend = None
    try:
        for key, idx in groups.items():
            q, a, p, kind = key
            ck = JudgeCache.key(name, f"{version}/{kind}", q, a, p)
            hit = store.get(ck) if store is not None else None
            if hit is None:
                todo.append((key, ck))
                continue
            rec = record(kind, judge_source="cache")
            rec.update({k: hit.get(k, rec[k]) for k in CACHED_FIELDS})
            for i in idx:
                records[i] = dict(rec)
            n_cache_hits += len(idx)
        if todo:
            if backend is None:
                backend = owned_backend = cfg.make_backend()
            if cfg.probe and hasattr(backend, "probe"):
                backend.probe()
            job = PoolJob(
                todo=todo,
                groups=groups,
                items=items,
                records=records,
                backend=backend,
                cfg=cfg,
                store=store,
                counter=counter,
                on_result=on_result,
                progress=progress,
            )
            run_pool(job)
    finally:
        if owned and store is not None:
            store.close()
        if owned_backend is not None and hasattr(owned_backend, "close"):
            owned_backend.close()  # its pooled connections (requests abandoned by Ctrl-C too)
    rows = []
    for it, done in zip(items, records):
        assert done is not None
        rows.append({"qid": it.qid, **done})
    df = pl.DataFrame(rows, schema=result_schema())
    return JudgeRun(results=df, summary=summarise(df, counter, n_cache_hits), config=cfg.to_dict())


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

    Parameters
    ----------
    df
        polars DataFrame with ``qid``, the question / answer / prediction columns and
        ``answer_type``.
    config
        Judge settings; default :meth:`JudgeConfig.from_env`.
    backend
        As in :func:`run_judge`.
    cache
        As in :func:`run_judge`.
    progress
        Show a progress bar.
    question
        Column of the questions.
    answer
        Column of the reference answers.
    pred
        Column of the model's answers.

    Returns
    -------
    tuple
        ``(df with the judge columns, JudgeRun)``.
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
