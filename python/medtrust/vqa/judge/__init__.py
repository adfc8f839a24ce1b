"""The LLM judge: rubric, prompt templates and strict parsing, backends, SQLite cache, runner.

Modules by concern: :mod:`~medtrust.vqa.judge.prompts` (templates, parser),
:mod:`~medtrust.vqa.judge.config` (:class:`JudgeConfig`), :mod:`~medtrust.vqa.judge.backends`
(HTTP, transformers), :mod:`~medtrust.vqa.judge.cache`, :mod:`~medtrust.vqa.judge.records`
(items, the result columns, summary), :mod:`~medtrust.vqa.judge.attempts` (one item: retries,
backoff), :mod:`~medtrust.vqa.judge.pool` (concurrency, fail fast, interruption),
:mod:`~medtrust.vqa.judge.runner` (:func:`run_judge`, :func:`judge_frame`).

Examples
--------
>>> from medtrust.vqa.judge import JudgeConfig
>>> JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="judge").configured
True
"""

from medtrust.vqa.judge.backends import (
    Completion,
    OpenAIChatBackend,
    PermanentError,
    TransformersJudgeBackend,
    TransientError,
)
from medtrust.vqa.judge.cache import JudgeCache, default_cache_path
from medtrust.vqa.judge.config import DEFAULT_FAILURE_THRESHOLD
from medtrust.vqa.judge.prompts import (
    KINDS,
    PROMPT_VERSION,
    SCALES,
    TEMPLATES,
    PromptTemplate,
    Verdict,
    VerdictParseError,
    build_messages,
    get_template,
    judge_kind,
    parse_verdict,
    register_template,
    top_score,
)
from medtrust.vqa.judge.runner import (
    RESULT_COLUMNS,
    JudgeConfig,
    JudgeItem,
    JudgeRun,
    check_failures,
    judge_frame,
    run_judge,
)

__all__ = [
    "DEFAULT_FAILURE_THRESHOLD",
    "KINDS",
    "PROMPT_VERSION",
    "RESULT_COLUMNS",
    "SCALES",
    "TEMPLATES",
    "Completion",
    "JudgeCache",
    "JudgeConfig",
    "JudgeItem",
    "JudgeRun",
    "OpenAIChatBackend",
    "PermanentError",
    "PromptTemplate",
    "TransformersJudgeBackend",
    "TransientError",
    "Verdict",
    "VerdictParseError",
    "build_messages",
    "check_failures",
    "default_cache_path",
    "get_template",
    "judge_frame",
    "judge_kind",
    "parse_verdict",
    "register_template",
    "run_judge",
    "top_score",
]
