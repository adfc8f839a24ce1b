"""The LLM judge against a real chat-completions server on loopback."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from _vqa_judge_server import JudgeServer, grade
from medtrust.exceptions import InvalidArgumentError, JudgeError
from medtrust.vqa.judge import (
    PROMPT_VERSION,
    JudgeCache,
    JudgeConfig,
    JudgeItem,
    OpenAIChatBackend,
    VerdictParseError,
    build_messages,
    judge_frame,
    judge_kind,
    parse_verdict,
    run_judge,
)

ITEMS = [
    JudgeItem("1", "Which organ is shown?", "liver", "the liver and spleen", "open"),
    JudgeItem("2", "Which organ is shown?", "liver", "brain", "open"),
    JudgeItem("3", "Is there an effusion?", "yes", "no", "closed"),
    JudgeItem("4", "Is this a CT?", "yes", "Yes.", "closed"),  # exact match after normalising
    JudgeItem("5", "Left or right lung?", "both", "left lung", "two_option"),
    JudgeItem("6", "Which organ is shown?", "liver", "brain", "open"),  # duplicate of 2
]


def cfg(server, **kw):
    base = {"base_url": server.url, "model": "judge-m", "backoff": 0.01, "timeout": 5.0}
    return JudgeConfig(**{**base, **kw})


# -- rubric and parsing -----------------------------------------------------------------------


def test_parse_verdict_strict():
    assert parse_verdict('{"score": 4, "reason": "ok"}', "open").score == 4.0
    assert parse_verdict('```json\n{"score": 0.5}\n```', "two_option").score == 0.5
    assert parse_verdict(' {"score": 1.0, "reason": "same"} ', "closed").reason == "same"
    bad = [
        ("Score: 4", "open"),
        ('{"score": "4"}', "open"),
        ('{"score": true}', "closed"),
        ('{"reason": "no score"}', "open"),
        ('{"score": 0.5}', "closed"),
        ('{"score": 6}', "open"),
        ('{"score": 4} and more text', "open"),
        ("[4]", "open"),
        ("", "open"),
        ('{"score": NaN}', "open"),
    ]
    for text, kind in bad:
        with pytest.raises(VerdictParseError):
            parse_verdict(text, kind)
    with pytest.raises(InvalidArgumentError):
        parse_verdict('{"score": 1}', "yesno")


def test_rubric_kinds_and_messages():
    assert judge_kind("open") == "open"
    assert judge_kind("closed", ["yes", "no"]) == "closed"
    assert judge_kind("closed", ["left lung", "right lung", "both", "none"]) == "two_option"
    msgs = build_messages("Q?", "A", "B", "two_option")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Allowed scores: 0, 0.5, 1" in msgs[1]["content"]
    assert "Reference answer: A" in msgs[1]["content"]
    assert "Allowed scores: 1, 2, 3, 4, 5" in build_messages("Q", "A", "B", "open")[1]["content"]


# -- a good judge -----------------------------------------------------------------------------


def test_good_server_scores_tokens_and_provenance(tmp_path):
    with JudgeServer("good") as srv:
        run = run_judge(ITEMS, cfg(srv, api_key="sk-test", seed=7), cache=tmp_path / "c")
        # exact match (item 4) needs no call, item 6 shares item 2's request
        assert srv.n_requests == 4
        body = srv.requests[0]
        assert body["model"] == "judge-m" and body["temperature"] == 0.0 and body["seed"] == 7
        assert srv.headers[0]["Authorization"] == "Bearer sk-test"
    res = run.results
    assert res["qid"].to_list() == ["1", "2", "3", "4", "5", "6"]
    assert res["judge_status"].to_list() == ["ok"] * 6
    assert res["judge_source"].to_list() == ["judge"] * 3 + ["exact_match"] + ["judge"] * 2
    # the server's grades: open 1 + round(4 * F1), closed 0/1, two-option 0 / 0.5 / 1
    expected = [
        grade(build_messages(i.question, i.answer, i.prediction, i.kind)[1]["content"])[0]
        for i in ITEMS
    ]
    expected[3] = 1.0
    assert res["judge_score"].to_list() == expected
    assert expected[:3] == [3.0, 1.0, 0.0] and expected[4] == 0.5
    assert res["judge_model"].unique().to_list() == ["judge-m"]
    assert res["judge_prompt_version"][0] == f"{PROMPT_VERSION}/open"
    assert res["judge_seed"].unique().to_list() == [7]
    assert res["judge_temperature"].unique().to_list() == [0.0]
    s = run.summary
    assert s["n_ok"] == 6 and s["n_failed"] == 0 and s["n_exact_match"] == 1
    assert s["n_requests"] == 4 and s["completion_tokens"] == 9 * 4  # tokens of the 4 requests sent
    assert s["prompt_tokens"] > 0


def test_fenced_json_is_accepted():
    with JudgeServer("fenced") as srv:
        run = run_judge(ITEMS[:2], cfg(srv), cache=None)
    assert run.results["judge_status"].to_list() == ["ok", "ok"]


def test_cache_second_run_sends_zero_requests(tmp_path):
    cache = tmp_path / "cache"
    with JudgeServer("good") as srv:
        first = run_judge(ITEMS, cfg(srv), cache=cache)
        n = srv.n_requests
        second = run_judge(ITEMS, cfg(srv), cache=cache)
        assert srv.n_requests == n  # zero new requests
    assert second.summary["n_requests"] == 0
    assert second.summary["completion_tokens"] == 0 and first.summary["completion_tokens"] == 36
    assert second.summary["n_cache_hits"] == 5
    assert (
        second.results["judge_source"].to_list() == ["cache"] * 3 + ["exact_match"] + ["cache"] * 2
    )
    assert second.results["judge_score"].to_list() == first.results["judge_score"].to_list()
    assert (
        second.results["judge_completion_tokens"].to_list()
        == first.results["judge_completion_tokens"].to_list()
    )
    # the key includes the judge model and the prompt version
    with JudgeServer("good") as srv:
        run_judge(ITEMS, cfg(srv, model="other-judge"), cache=cache)
        assert srv.n_requests == 4
        run_judge(ITEMS, cfg(srv, prompt_version="v-next"), cache=cache)
        assert srv.n_requests == 8
    with JudgeCache(cache) as c:
        assert len(c) == 12


# -- failures ---------------------------------------------------------------------------------


def test_malformed_reply_is_retried_then_parse_error_not_cached(tmp_path):
    cache = tmp_path / "cache"
    with JudgeServer("malformed") as srv:
        run = run_judge(ITEMS[:3], cfg(srv, parse_retries=2), cache=cache)
        assert srv.n_requests == 3 * 3
    res = run.results
    assert res["judge_status"].to_list() == ["parse_error"] * 3
    assert res["judge_score"].null_count() == 3
    assert res["judge_raw"].to_list() == ["Score: 4 -- the answer looks right to me."] * 3
    assert res["judge_attempts"].to_list() == [3, 3, 3]
    assert res["judge_completion_tokens"].to_list() == [27, 27, 27]  # tokens of every attempt
    assert run.summary["n_parse_error"] == 3 and run.summary["failure_rate"] == 1.0
    with JudgeCache(cache) as c:
        assert len(c) == 0  # failures are never cached
    # a rerun redoes only what failed: a malformed first reply, then good ones
    with JudgeServer("good") as srv:
        srv.plan = ["malformed"]
        rerun = run_judge(ITEMS[:3], cfg(srv, concurrency=1), cache=cache)
        assert srv.n_requests == 4
    assert rerun.results["judge_status"].to_list() == ["ok"] * 3
    assert rerun.results["judge_attempts"].to_list() == [2, 1, 1]


def test_out_of_scale_score_is_a_parse_error():
    with JudgeServer("out_of_scale") as srv:
        run = run_judge(ITEMS[:1], cfg(srv, parse_retries=0), cache=None)
    assert run.results["judge_status"][0] == "parse_error"
    assert "not on the open scale" in run.results["judge_error"][0]


def test_429_and_500_are_retried_with_backoff():
    with JudgeServer("good") as srv:
        srv.plan = ["429", "500", "503"]
        t0 = time.perf_counter()
        run = run_judge(ITEMS[:1], cfg(srv, max_retries=3, backoff=0.1), cache=None)
        elapsed = time.perf_counter() - t0
        assert srv.n_requests == 4
    r = run.results.row(0, named=True)
    assert r["judge_status"] == "ok" and r["judge_attempts"] == 4 and r["judge_score"] == 3.0
    # 429 honours Retry-After: 0, then 0.1 and 0.2 s (+-25 % jitter) for the 5xx retries
    assert 0.2 <= elapsed < 3.0


def test_retries_exhausted_is_api_error_not_cached(tmp_path):
    with JudgeServer("500") as srv:
        run = run_judge(ITEMS[:2], cfg(srv, max_retries=2), cache=tmp_path / "c")
        assert srv.n_requests == 2 * 3
    res = run.results
    assert res["judge_status"].to_list() == ["api_error", "api_error"]
    assert res["judge_error"][0].startswith("HTTP 500")
    assert res["judge_attempts"].to_list() == [3, 3]
    assert run.summary["n_api_error"] == 2
    with JudgeCache(tmp_path / "c") as c:
        assert len(c) == 0


def test_client_error_is_not_retried():
    with JudgeServer("400") as srv:
        run = run_judge(ITEMS[:1], cfg(srv, max_retries=5), cache=None)
        assert srv.n_requests == 1
    assert run.results["judge_status"][0] == "api_error"


def test_stalled_server_times_out():
    with JudgeServer("stall") as srv:
        t0 = time.perf_counter()
        run = run_judge(ITEMS[:2], cfg(srv, timeout=0.3, max_retries=1), cache=None)
        elapsed = time.perf_counter() - t0
        assert srv.n_requests == 4
    assert run.results["judge_status"].to_list() == ["api_error", "api_error"]
    assert "timeout" in run.results["judge_error"][0]
    assert elapsed < 3.0


def test_unreachable_server_is_api_error():
    config = JudgeConfig(
        base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, backoff=0.01, probe=False
    )
    run = run_judge(ITEMS[:1], config, cache=None)
    assert run.results["judge_status"][0] == "api_error"
    assert "connection" in run.results["judge_error"][0]


def test_failure_threshold():
    with JudgeServer("malformed") as srv:
        run = run_judge(ITEMS, cfg(srv, parse_retries=0), cache=None)
    assert run.summary["n_failed"] == 5 and run.summary["n_items"] == 6  # all but the exact match
    run.check_failures(0.9)
    run.check_failures(None)
    with pytest.raises(JudgeError, match="exceed the threshold"):
        run.check_failures(0.5)


# -- concurrency and interruption ------------------------------------------------------------


def _many(n):
    return [
        JudgeItem(str(i), f"Question {i}?", f"answer {i}", f"guess {i}", "open") for i in range(n)
    ]


def test_concurrency_is_bounded():
    with JudgeServer("good", delay=0.15) as srv:
        t0 = time.perf_counter()
        run = run_judge(_many(12), cfg(srv, concurrency=3), cache=None)
        elapsed = time.perf_counter() - t0
        assert srv.max_in_flight == 3
    assert run.summary["n_ok"] == 12
    assert elapsed < 12 * 0.15  # really concurrent
    with JudgeServer("good", delay=0.05) as srv:
        run_judge(_many(5), cfg(srv, concurrency=1), cache=None)
        assert srv.max_in_flight == 1


def test_interruption_keeps_finished_judgements(tmp_path):
    cache = tmp_path / "cache"
    seen = []

    def stop_after_three(qid, rec):
        seen.append(qid)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with JudgeServer("good", delay=0.05) as srv:
        with pytest.raises(KeyboardInterrupt):
            run_judge(_many(20), cfg(srv, concurrency=2), cache=cache, on_result=stop_after_three)
        time.sleep(0.3)  # requests in flight at the interruption may still finish
        sent_first = srv.n_requests
        assert sent_first < 20  # pending work was cancelled
    with JudgeCache(cache) as c:
        kept = len(c)
    assert kept >= 3
    with JudgeServer("good") as srv:
        run = run_judge(_many(20), cfg(srv), cache=cache)
        assert srv.n_requests == 20 - kept
    assert run.summary["n_cache_hits"] == kept and run.summary["n_ok"] == 20


def test_killed_process_keeps_finished_judgements(tmp_path):
    cache = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        import sys
        from medtrust.vqa.judge import JudgeConfig, JudgeItem, run_judge
        items = [JudgeItem(str(i), f"Question {{i}}?", f"answer {{i}}", f"guess {{i}}", "open")
                 for i in range(40)]
        run_judge(items, JudgeConfig(base_url=sys.argv[1], model="judge-m", concurrency=2),
                  cache={str(cache)!r})
        """
    )
    with JudgeServer("good", delay=0.1) as srv:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-c", script, srv.url], env=env)
        deadline = time.time() + 30
        while srv.n_requests < 8 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.kill()  # SIGKILL: no cleanup code runs
        proc.wait()
        assert 8 <= srv.n_requests < 40
    with JudgeCache(cache) as c:
        kept = len(c)
    assert kept >= 5  # everything answered before the kill, bar those in transit
    with JudgeServer("good") as srv:
        items = _many(40)
        run = run_judge(items, cfg(srv), cache=cache)
        assert srv.n_requests == 40 - kept
    assert run.summary["n_ok"] == 40


# -- frames, config, backends ----------------------------------------------------------------


def test_judge_frame_rubric_from_answer_type_and_options():
    df = pl.DataFrame(
        {
            "qid": ["a", "b", "c"],
            "question": ["Which organ?", "Is it a CT?", "Left or right?"],
            "answer": ["liver", "yes", "both"],
            "pred": ["liver", "no", "left"],
            "answer_type": ["open", "closed", "closed"],
            "options": [None, ["yes", "no"], ["left", "right", "both", "none"]],
        }
    )
    with JudgeServer("good") as srv:
        out, _ = judge_frame(df, cfg(srv), cache=None)
    assert out["judge_kind"].to_list() == ["open", "closed", "two_option"]
    assert out["judge_score"].to_list() == [5.0, 0.0, 0.5]
    assert out.columns[:6] == df.columns


def test_config_from_env(monkeypatch):
    monkeypatch.setenv("MEDTRUST_JUDGE_URL", "http://127.0.0.1:1234/v1")
    monkeypatch.setenv("MEDTRUST_JUDGE_MODEL", "qwen")
    monkeypatch.setenv("MEDTRUST_JUDGE_API_KEY", "secret")
    c = JudgeConfig.from_env(concurrency=2, max_retries=None)
    assert c.configured and c.model == "qwen" and c.concurrency == 2 and c.max_retries == 3
    assert c.to_dict()["api_key"] == "***" and "secret" not in repr(c)
    monkeypatch.delenv("MEDTRUST_JUDGE_URL")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert not JudgeConfig.from_env().configured
    with pytest.raises(JudgeError, match="no judge configured"):
        JudgeConfig.from_env().make_backend()
    with pytest.raises(InvalidArgumentError):
        JudgeConfig(concurrency=0)


def test_backend_url_and_reply_envelope():
    assert OpenAIChatBackend("http://h/v1/", "m").url == "http://h/v1/chat/completions"
    assert OpenAIChatBackend("http://h/v1/chat/completions", "m").url.endswith("/completions")
    with pytest.raises(JudgeError):
        OpenAIChatBackend("ftp://h", "m")
    with JudgeServer("stall", stall=0.0) as srv:  # answers {"choices": []} at once
        run = run_judge(ITEMS[:1], cfg(srv), cache=None)
        assert srv.n_requests == 1  # a malformed envelope is not retried
    assert "not a chat-completions reply" in run.results["judge_error"][0]


@pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning")
def test_cli_evaluate_with_judge_then_cached(tmp_path):
    from medtrust.cli.main import main

    samples = [
        {
            "qid": "1",
            "question": "Which organ?",
            "answer": "liver",
            "answer_type": "open",
            "split": "test",
            "modality": "CT",
        },
        {
            "qid": "2",
            "question": "Is it a CT?",
            "answer": "yes",
            "answer_type": "closed",
            "split": "test",
            "modality": "CT",
        },
        {
            "qid": "3",
            "question": "Which organ?",
            "answer": "lung",
            "answer_type": "open",
            "split": "test",
            "modality": "X-Ray",
        },
        {
            "qid": "4",
            "question": "Is it a CT?",
            "answer": "no",
            "answer_type": "closed",
            "split": "test",
            "modality": "X-Ray",
        },
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(s) for s in samples))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps({"qid": q, "pred": p, "seed": 0})
            for q, p in [("1", "liver"), ("2", "no"), ("3", "the lungs"), ("4", "no")]
        )
    )
    shift = tmp_path / "shift.json"
    shift.write_text(json.dumps({"name": "xray", "attribute": "modality", "ood_values": ["x-ray"]}))
    out = tmp_path / "out"
    with JudgeServer("good") as srv:
        args = [
            "vqa",
            "evaluate",
            "--data",
            str(data),
            "--pred",
            str(preds),
            "--shift",
            str(shift),
            "--judge-url",
            srv.url,
            "--judge-model",
            "judge-m",
            "--cache",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--no-progress",
        ]
        assert main(args) == 0
        first = srv.n_requests
        assert first == 2  # items 1 and 4 are exact matches
        assert main(args) == 0
        assert srv.n_requests == first
        res = json.loads((out / "results.json").read_text())
        assert res["judge"]["n_cache_hits"] == 2 and res["judge"]["n_requests"] == 0
        assert res["provenance"]["judge_model"] == "judge-m"
        assert res["provenance"]["judge_prompt_version"] == PROMPT_VERSION
        lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
        assert {x["judge_status"] for x in lines} == {"ok"}
        srv.mode = "malformed"
        bad = [
            *args[:-3],
            "--cache",
            str(tmp_path / "cache2"),
            "--failure-threshold",
            "0.2",
            "--out",
            str(tmp_path / "out2"),
            "--no-progress",
        ]
        assert main(bad) == 2  # run fails, but its files are written first
    res2 = json.loads((tmp_path / "out2" / "results.json").read_text())
    assert res2["judge"]["n_parse_error"] == 2
    lines = [json.loads(x) for x in (tmp_path / "out2" / "samples.jsonl").read_text().splitlines()]
    raws = [x["judge_raw"] for x in lines if x["judge_status"] == "parse_error"]
    assert raws == ["Score: 4 -- the answer looks right to me."] * 2
    assert Path(tmp_path / "out2" / "scores.parquet").is_file()
