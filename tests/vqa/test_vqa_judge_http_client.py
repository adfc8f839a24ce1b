"""The judge's HTTP client (httpx): proxies, URLs, errors and closing, on a loopback server."""

import pytest

from _vqa_judge_server import JudgeServer
from medtrust.exceptions import JudgeError
from medtrust.vqa.judge import JudgeConfig, JudgeItem, OpenAIChatBackend, run_judge
from medtrust.vqa.judge.backends import PermanentError, TransientError

ITEM = JudgeItem("1", "Which organ is shown?", "liver", "the liver and spleen", "open")
MESSAGES = [{"role": "user", "content": "Reference answer: liver\nModel answer: liver"}]


def test_loopback_server_is_never_reached_through_an_environment_proxy(monkeypatch):
    # A proxy that does not exist: a request sent through it would fail.
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with JudgeServer("good") as srv:
        config = JudgeConfig(base_url=srv.url, model="judge-m", backoff=0.01, max_retries=0)
        run = run_judge([ITEM], config, cache=None)
        assert srv.n_requests == 1
    assert run.results["judge_status"].to_list() == ["ok"]


def test_urls_without_a_host_are_refused_at_construction():
    with pytest.raises(JudgeError, match="host"):
        OpenAIChatBackend("http:///v1", "m")


def test_status_codes_map_to_transient_and_permanent_errors():
    with JudgeServer("429", retry_after="2.5") as srv:
        backend = OpenAIChatBackend(srv.url, "judge-m", timeout=5.0)
        with pytest.raises(TransientError) as e:
            backend.complete(MESSAGES)
        assert e.value.status == 429 and e.value.retry_after == 2.5
        srv.mode = "400"
        with pytest.raises(PermanentError) as e:
            backend.complete(MESSAGES)
        assert e.value.status == 400 and "HTTP 400" in str(e.value)
        srv.mode = "good"
        reply = backend.complete(MESSAGES)
        assert reply.text.startswith("{") and reply.completion_tokens == 9
        backend.close()
        with pytest.raises(RuntimeError):  # closed: its connections are gone
            backend.complete(MESSAGES)


def test_refused_connection_and_timeout_are_transient():
    with pytest.raises(TransientError, match="connection failed"):
        OpenAIChatBackend("http://127.0.0.1:9/v1", "m", timeout=2.0).complete(MESSAGES)
    with JudgeServer("stall", stall=2.0) as srv:
        with pytest.raises(TransientError, match=r"timeout after 0\.2 s"):
            OpenAIChatBackend(srv.url, "judge-m", timeout=0.2).complete(MESSAGES)
