"""How to reach and drive the judge: :class:`JudgeConfig`.

Defaults that fail fast: the endpoint is probed once before the run (``probe``), the run stops
when its first ``fail_fast`` requests all fail, and :meth:`JudgeRun.check_failures` (the CLI's
exit status) fails above ``failure_threshold`` = 2 % failed items.

Examples
--------
>>> from medtrust.vqa.judge.config import JudgeConfig
>>> c = JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="judge", prompt="sure_vqa")
>>> c.configured, c.prompt_version, c.failure_threshold
(True, 'medtrust-surevqa-judge-v1', 0.02)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from medtrust.exceptions import InvalidArgumentError, JudgeError
from medtrust.vqa.judge.backends import OpenAIChatBackend, TransformersJudgeBackend
from medtrust.vqa.judge.prompts import PromptTemplate, get_template

__all__ = ["DEFAULT_FAILURE_THRESHOLD", "JudgeConfig", "with_overrides"]

#: Largest failed fraction a run may have before the CLI exits non-zero.
DEFAULT_FAILURE_THRESHOLD = 0.02


#: The judge backend of a :class:`JudgeConfig`.
JudgeBackendName = Literal["openai", "transformers"]


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
        Retry ``k`` waits ``backoff * 2**(k-1)`` seconds (+-25 % jitter), capped at
        ``backoff_max``; a ``Retry-After`` header can lengthen the wait, never shorten it
        below this floor (``Retry-After: 0`` is no reason to hammer a throttling server).
    concurrency
        Requests in flight at most.
    failure_threshold
        Largest allowed fraction of failed items (default 2 %; None: no limit); see
        :meth:`JudgeRun.check_failures`.
    fail_fast
        Stop the run (:class:`~medtrust.exceptions.JudgeError`) when the first this many
        judged items all fail with API errors (0: never).
    probe
        Ask the endpoint once before the run (``GET <base_url>/models``): an unreachable
        server or an unknown model is a clear error before any item is sent.
    json_mode
        Ask the server for ``response_format={"type": "json_object"}``.
    prompt
        Prompt template name (``"medtrust"`` or ``"sure_vqa"``, see
        :mod:`medtrust.vqa.judge.prompts`) or a :class:`~medtrust.vqa.judge.prompts.PromptTemplate`.
    prompt_version
        Cache-key version of the prompt; default: the template's version.
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
    failure_threshold: float | None = DEFAULT_FAILURE_THRESHOLD
    fail_fast: int = 8
    probe: bool = True
    json_mode: bool = False
    prompt: str | PromptTemplate = "medtrust"
    prompt_version: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "transformers"):
            raise InvalidArgumentError(f"backend must be openai or transformers: {self.backend}")
        if self.concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0 or self.parse_retries < 0:
            raise InvalidArgumentError("max_retries and parse_retries must be >= 0")
        if self.timeout <= 0:
            raise InvalidArgumentError(f"timeout must be > 0, got {self.timeout}")
        if self.backoff < 0 or self.backoff_max < 0:
            raise InvalidArgumentError("backoff and backoff_max must be >= 0")
        if self.fail_fast < 0:
            raise InvalidArgumentError(f"fail_fast must be >= 0, got {self.fail_fast}")
        if self.failure_threshold is not None and not 0 <= self.failure_threshold <= 1:
            raise InvalidArgumentError("failure_threshold must be in [0, 1]")
        template = get_template(self.prompt)
        if self.prompt_version is None:
            object.__setattr__(self, "prompt_version", template.version)

    @property
    def template(self) -> PromptTemplate:
        """The prompt template."""
        return get_template(self.prompt)

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
        """Settings without the API key (for provenance).

        Returns
        -------
        dict
            Every setting, the API key masked as ``***``.
        """
        d = asdict(self)
        d["api_key"] = "***" if self.api_key else None
        d["prompt"] = self.template.name
        return d

    def make_backend(self) -> Any:
        """The backend these settings describe.

        Returns
        -------
        OpenAIChatBackend or TransformersJudgeBackend
            A backend with ``name`` and ``complete(messages)``.
        """
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


def with_overrides(config: JudgeConfig, **kw: Any) -> JudgeConfig:
    """A copy of ``config`` with the non-None ``kw`` applied."""
    return replace(config, **{k: v for k, v in kw.items() if v is not None})
