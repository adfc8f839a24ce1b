"""One item against the judge: retries with backoff, re-asking after unparsable replies.

Examples
--------
>>> import random
>>> from medtrust.vqa.judge.attempts import backoff_delay
>>> from medtrust.vqa.judge.config import JudgeConfig
>>> c = JudgeConfig(backoff=1.0, backoff_max=30.0)
>>> 1.5 <= backoff_delay(c, 2, retry_after=0.0, rng=random.Random(0)) <= 2.5
True
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from medtrust.exceptions import BackendError
from medtrust.vqa.judge.backends import PermanentError
from medtrust.vqa.judge.config import JudgeConfig
from medtrust.vqa.judge.prompts import VerdictParseError, parse_verdict
from medtrust.vqa.judge.records import JudgeItem, RequestCounter, new_record

__all__ = ["ask", "backoff_delay"]

log = logging.getLogger(__name__)


def backoff_delay(
    cfg: JudgeConfig, retry: int, retry_after: float | None, rng: Any = random
) -> float:
    """Seconds to wait before retry ``retry`` (1, 2, ...).

    Exponential backoff ``backoff * 2**(retry-1)`` with +-25 % jitter (so that many workers
    throttled at once do not come back in step), capped at ``backoff_max``. ``Retry-After``
    lengthens the wait but never shortens it below that floor.
    """
    exp = min(cfg.backoff_max, cfg.backoff * 2 ** (retry - 1)) * (0.75 + 0.5 * rng.random())
    if retry_after is not None:
        return min(cfg.backoff_max, max(exp, retry_after))
    return exp


def ask(
    item: JudgeItem,
    backend: Any,
    cfg: JudgeConfig,
    counter: RequestCounter,
    stop: threading.Event,
) -> dict[str, Any]:
    """Judge one item; the record's status is ok, parse_error or api_error.

    ``stop`` (set on interruption or a fail-fast abort) ends the item before its next request.
    """
    template = cfg.template
    messages = template.messages(item.question, item.answer, item.prediction, item.kind)
    t0 = time.perf_counter()
    attempts = api_retries = parse_fails = 0
    ptok = ctok = 0

    def record(**kw: Any) -> dict[str, Any]:
        return new_record(
            cfg.judge_name,
            str(cfg.prompt_version),
            cfg.temperature,
            cfg.seed,
            item.kind,
            judge_attempts=attempts,
            judge_prompt_tokens=ptok,
            judge_completion_tokens=ctok,
            judge_latency_s=time.perf_counter() - t0,
            **kw,
        )

    while True:
        if stop.is_set():
            return record(judge_status="api_error", judge_error="interrupted")
        attempts += 1
        counter.add()
        try:
            comp = backend.complete(messages)
        except BackendError as e:
            transient = not isinstance(e, PermanentError)
            if transient and api_retries < cfg.max_retries:
                api_retries += 1
                d = backoff_delay(cfg, api_retries, e.retry_after)
                log.debug("judge %s: %s; retry %d in %.2f s", item.qid, e, api_retries, d)
                stop.wait(d)
                continue
            return record(judge_status="api_error", judge_error=str(e))
        ptok += comp.prompt_tokens
        ctok += comp.completion_tokens
        counter.tokens(comp.prompt_tokens, comp.completion_tokens)
        try:
            verdict = parse_verdict(comp.text, item.kind)
        except VerdictParseError as e:
            parse_fails += 1
            if parse_fails <= cfg.parse_retries:
                continue
            return record(judge_status="parse_error", judge_raw=comp.text, judge_error=str(e))
        return record(judge_score=verdict.score, judge_reason=verdict.reason, judge_raw=comp.text)
