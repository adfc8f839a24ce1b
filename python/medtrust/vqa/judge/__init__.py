"""The LLM judge: rubric and strict parsing, backends, SQLite cache, concurrent runner.

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
from medtrust.vqa.judge.prompts import (
    KINDS,
    PROMPT_VERSION,
    SCALES,
    Verdict,
    VerdictParseError,
    build_messages,
    judge_kind,
    parse_verdict,
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
    "KINDS",
    "PROMPT_VERSION",
    "RESULT_COLUMNS",
    "SCALES",
    "Completion",
    "JudgeCache",
    "JudgeConfig",
    "JudgeItem",
    "JudgeRun",
    "OpenAIChatBackend",
    "PermanentError",
    "TransformersJudgeBackend",
    "TransientError",
    "Verdict",
    "VerdictParseError",
    "build_messages",
    "check_failures",
    "default_cache_path",
    "judge_frame",
    "judge_kind",
    "parse_verdict",
    "run_judge",
    "top_score",
]
