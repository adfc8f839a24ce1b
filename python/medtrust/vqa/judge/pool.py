"""The judge's worker pool: bounded concurrency, fail fast, prompt interruption.

Workers are daemon threads that take unique items from a queue; the calling thread collects
verdicts, writes them into the run's records and calls ``on_result``. Why not a
``ThreadPoolExecutor``: the interpreter joins its threads at exit, so after Ctrl-C a run would
wait for every request in flight (up to two request timeouts); daemon workers are abandoned
instead, and :class:`threading.Event` ``stop`` keeps them from sending anything new.

Everything one run needs travels in one :class:`PoolJob` (instead of a long parameter list).

Examples
--------
>>> from medtrust.vqa.judge.pool import PoolJob
>>> sorted(PoolJob.__dataclass_fields__)[:3]
['backend', 'cfg', 'counter']
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medtrust.exceptions import JudgeError
from medtrust.vqa.judge.attempts import ask
from medtrust.vqa.judge.cache import JudgeCache
from medtrust.vqa.judge.config import JudgeConfig
from medtrust.vqa.judge.records import CACHED_FIELDS, JudgeItem, RequestCounter

__all__ = ["GroupKey", "PoolJob", "run_pool"]

#: (question, answer, prediction, kind): identical items share one request.
GroupKey = tuple[str, str, str, str]


@dataclass
class PoolJob:
    """The state of one run that the pool fills in.

    ``todo`` lists ``(group key, cache key)`` of the unique items to ask; ``groups`` maps a
    group key to the indices of its items in ``items`` / ``records``.
    """

    todo: list[tuple[GroupKey, str]]
    groups: dict[GroupKey, list[int]]
    items: list[JudgeItem]
    records: list[dict[str, Any] | None]
    backend: Any
    cfg: JudgeConfig
    store: JudgeCache | None = None
    counter: RequestCounter = field(default_factory=RequestCounter)
    on_result: Callable[[str, dict[str, Any]], None] | None = None
    progress: bool = False


class _Bar:
    """A progress bar shown from the start (not after the first verdict)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from medtrust._io import progress_bar

            self._bar = progress_bar(total=total, desc="judge", leave=False)

    def step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _worker(job: PoolJob, work: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            key, ck = work.get_nowait()
        except queue.Empty:
            return
        try:
            q, a, p, kind = key
            first = job.items[job.groups[key][0]]
            rec = ask(JudgeItem(first.qid, q, a, p, kind), job.backend, job.cfg, job.counter, stop)
            if rec["judge_status"] == "ok" and job.store is not None:
                job.store.put(
                    ck,
                    {k: rec[k] for k in CACHED_FIELDS},
                    model=job.backend.name,
                    prompt_version=rec["judge_prompt_version"],
                    question=q,
                    answer=a,
                    prediction=p,
                )
            done.put((key, rec, None))
        except BaseException as e:  # a bug, not an API error: hand it to the caller
            done.put((key, None, e))
            return


def run_pool(job: PoolJob) -> None:
    """Ask every item of ``job.todo``; fill ``job.records``.

    Raises :class:`~medtrust.exceptions.JudgeError` when the first ``cfg.fail_fast`` items
    all end in API errors (the rest is not sent). On any exception (Ctrl-C included) nothing
    new is sent, requests in flight are abandoned, and finished verdicts stay in the cache.
    """
    cfg = job.cfg
    work: queue.Queue = queue.Queue()
    for entry in job.todo:
        work.put(entry)
    done: queue.Queue = queue.Queue()
    stop = threading.Event()
    n_workers = min(cfg.concurrency, len(job.todo))
    for i in range(n_workers):
        threading.Thread(
            target=_worker,
            args=(job, work, done, stop),
            name=f"medtrust-judge-{i}",
            daemon=True,
        ).start()
    bar = _Bar(len(job.todo), job.progress)
    first_errors: list[str] = []
    n_finished = 0
    try:
        while n_finished < len(job.todo):
            try:
                # a timeout keeps the wait interruptible by Ctrl-C on every platform
                key, rec, exc = done.get(timeout=0.2)
            except queue.Empty:
                continue
            if exc is not None:
                raise exc
            n_finished += 1
            for i in job.groups[key]:
                job.records[i] = dict(rec)
            bar.step()
            if job.on_result is not None:
                job.on_result(job.items[job.groups[key][0]].qid, rec)
            if cfg.fail_fast and n_finished <= cfg.fail_fast:
                if rec["judge_status"] == "api_error":
                    first_errors.append(str(rec["judge_error"]))
                if len(first_errors) == cfg.fail_fast:
                    raise JudgeError(
                        f"the first {cfg.fail_fast} judge items all failed (last error: "
                        f"{first_errors[-1]}); stopped without sending the other "
                        f"{len(job.todo) - n_finished} (fail_fast={cfg.fail_fast})"
                    )
    except BaseException:
        stop.set()
        raise
    finally:
        bar.close()
