"""Judge backends: an OpenAI-compatible chat endpoint (httpx) and in-process transformers.

A backend has ``name`` (the judge model recorded in the cache key) and
``complete(messages) -> Completion``; it raises :class:`TransientError` for what a retry may fix
(HTTP 408 / 409 / 425 / 429 / 5xx, timeouts, refused connections) and :class:`PermanentError`
for what it will not (other 4xx, a reply without a message). Retries themselves (backoff,
``Retry-After``) are the caller's: :mod:`medtrust.vqa.judge.attempts`.

The HTTP backend works with vLLM, llama.cpp's server, Ollama, LM Studio and hosted APIs: it
POSTs ``{"model", "messages", "temperature", "seed", "max_tokens"}`` to
``<base_url>/chat/completions`` (``base_url`` like ``http://localhost:8000/v1``) with an
``Authorization: Bearer`` header when a key is given, over one ``httpx.Client`` (kept-alive
connections shared by the worker threads; ``pip install 'medtrust[vqa]'``). ``timeout`` bounds
every phase of a request (connect, each read and write, waiting for a pooled connection), so
a stalled server fails the attempt. Loopback servers are never reached through a proxy from
the environment. :meth:`OpenAIChatBackend.probe` asks ``GET <base_url>/models`` once before a
run: a server that cannot be reached, refuses the key, or does not list the model is a
:class:`~medtrust.exceptions.JudgeError` at once; a server without that route (404 / 405) or
a list that is not the OpenAI shape passes.

Examples
--------
>>> from medtrust.vqa.judge.backends import OpenAIChatBackend
>>> OpenAIChatBackend("http://127.0.0.1:8000/v1", "qwen2.5-7b").url
'http://127.0.0.1:8000/v1/chat/completions'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from medtrust.exceptions import BackendError, JudgeError

__all__ = [
    "Completion",
    "OpenAIChatBackend",
    "PermanentError",
    "TransformersJudgeBackend",
    "TransientError",
]

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Completion:
    """One reply: text, token counts (0 when the server does not say), reported model."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None
    fingerprint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TransientError(BackendError):
    """Worth retrying (rate limit, server error, timeout, connection refused)."""


class PermanentError(BackendError):
    """Not worth retrying (bad request, authentication, malformed reply envelope)."""


def _retry_after(headers: Any) -> float | None:
    try:
        v = headers.get("Retry-After") if headers is not None else None
        return None if v is None else max(0.0, float(v))
    except (TypeError, ValueError):
        return None


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise JudgeError(
            "the HTTP judge needs httpx, in the 'vqa' extra: pip install 'medtrust[vqa]'"
        ) from e
    return httpx


class OpenAIChatBackend:
    """An OpenAI-compatible ``/chat/completions`` endpoint over ``httpx`` (thread-safe).

    Parameters
    ----------
    base_url
        Server base URL (``.../v1``); a URL that already ends in ``/chat/completions`` is used
        as is.
    model
        Model name sent to the server and recorded with every verdict.
    api_key
        Bearer token (optional for local servers).
    timeout
        Seconds per phase of a request (connect, each read or write, pool wait).
    temperature, seed, max_tokens
        Sampling settings sent with every request (``seed=None`` leaves it out).
    json_mode
        Also send ``response_format={"type": "json_object"}`` (not every server accepts it).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        temperature: float = 0.0,
        seed: int | None = 0,
        max_tokens: int = 256,
        json_mode: bool = False,
    ) -> None:
        if not base_url or not model:
            raise JudgeError("the HTTP judge needs a base URL and a model name")
        if not base_url.startswith(("http://", "https://")):
            raise JudgeError(f"judge URL must start with http:// or https://, got {base_url!r}")
        httpx = _httpx()
        url = base_url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        try:
            host = httpx.URL(self.url).host
        except httpx.InvalidURL as e:
            raise JudgeError(f"judge URL is not valid: {base_url!r} ({e})") from None
        if not host:
            raise JudgeError(f"judge URL has no host: {base_url!r}")
        self.name = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.temperature = float(temperature)
        self.seed = seed
        self.max_tokens = int(max_tokens)
        self.json_mode = json_mode
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # trust_env=False: no proxy (nor netrc) from the environment for a loopback server.
        self._client = httpx.Client(
            headers=headers, timeout=self.timeout, trust_env=host not in _LOOPBACK
        )

    @property
    def base_url(self) -> str:
        """The URL without ``/chat/completions``."""
        return self.url[: -len("/chat/completions")]

    def close(self) -> None:
        """Close the pooled connections (the backend cannot be used afterwards)."""
        self._client.close()

    def probe(self) -> None:
        """Check once that the server answers and serves the model (see the module docstring)."""
        httpx = _httpx()
        timeout = min(self.timeout, 10.0)  # one short attempt: a live server answers at once
        try:
            r = self._client.get(self.base_url + "/models", timeout=timeout, follow_redirects=True)
        except httpx.TimeoutException:
            raise JudgeError(
                f"judge at {self.base_url} did not answer within {timeout:g} s"
            ) from None
        except httpx.TransportError as e:
            raise JudgeError(f"judge unreachable at {self.base_url}: {e}") from None
        if r.status_code in (401, 403):
            raise JudgeError(
                f"judge at {self.base_url} refused the request (HTTP {r.status_code}): check "
                "the API key (--judge-api-key / MEDTRUST_JUDGE_API_KEY)"
            )
        if r.status_code >= 400:
            return  # no /models route (404, 405) or a server error: the run will tell
        try:
            names = [str(m["id"]) for m in r.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return  # not the OpenAI list shape: cannot tell, let the run decide
        if names and self.name not in names:
            shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
            raise JudgeError(
                f"judge model {self.name!r} is not served at {self.base_url} (it serves: {shown})"
            )

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        """Send one chat request; see the class docstring for the errors.

        Parameters
        ----------
        messages
            Chat messages (``{"role", "content"}``), as built by the prompt template.

        Returns
        -------
        Completion
            The reply's text, token counts and reported model.
        """
        httpx = _httpx()
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        try:
            r = self._client.post(self.url, json=body)
        except httpx.TimeoutException as e:
            raise TransientError(f"timeout after {self.timeout:g} s ({type(e).__name__})") from None
        except httpx.TransportError as e:
            raise TransientError(f"connection failed: {e}") from None
        if r.status_code >= 400:
            cls = TransientError if r.status_code in _RETRY_STATUS else PermanentError
            raise cls(
                f"HTTP {r.status_code}: {r.text[:500]}",
                status=r.status_code,
                retry_after=_retry_after(r.headers),
            )
        try:
            data = r.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise PermanentError(f"not a chat-completions reply: {r.text[:300]}") from None
        usage = data.get("usage") or {}
        return Completion(
            text="" if text is None else str(text),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=data.get("model"),
            fingerprint=data.get("system_fingerprint"),
        )


class TransformersJudgeBackend:
    """A local causal LM as judge (``transformers``; greedy decoding, one request at a time).

    Parameters
    ----------
    model_path
        Folder (or hub id available offline) of a causal LM with its tokenizer.
    device
        ``"cpu"``, ``"cuda"``, ... (default: cuda when available).
    max_new_tokens
        Length limit of a verdict.
    model, tokenizer
        Already loaded objects (then ``model_path`` only names the judge).
    name
        Judge name recorded with the verdicts and in the cache key (default ``model_path``).
    """

    def __init__(
        self,
        model_path: str,
        *,
        device: str | None = None,
        max_new_tokens: int = 128,
        seed: int | None = 0,
        model: Any = None,
        tokenizer: Any = None,
        name: str | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise JudgeError(
                "the transformers judge needs the 'vqa' extra: pip install 'medtrust[vqa]'"
            ) from e
        self.name = name or str(model_path)
        self.seed = seed
        self.temperature = 0.0
        self.max_new_tokens = int(max_new_tokens)
        self._lock = threading.Lock()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer: Any = tokenizer or AutoTokenizer.from_pretrained(model_path)
        load: Any = AutoModelForCausalLM.from_pretrained
        self.model: Any = model or load(model_path)
        self.model.to(self.device).eval()

    def _prompt(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        parts = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n\n".join([*parts, "assistant:"])

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        """Generate one verdict greedily."""
        import torch

        with self._lock:
            enc = self.tokenizer(self._prompt(messages), return_tensors="pt").to(self.device)
            if self.seed is not None:
                torch.manual_seed(self.seed)
            pad = self.tokenizer.pad_token_id
            if pad is None:
                pad = self.tokenizer.eos_token_id
            with torch.no_grad():
                out = self.model.generate(
                    **enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad
                )
            new = out[0, enc["input_ids"].shape[1] :]
            text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        return Completion(
            text=text.strip(),
            prompt_tokens=int(enc["input_ids"].shape[1]),
            completion_tokens=int(new.shape[0]),
            model=self.name,
        )
