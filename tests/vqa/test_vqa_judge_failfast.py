"""Issue 15 items 5, 6, 7, 9 (templates), 10 (progress), 11 (empty answers) for the judge.

Every test runs against the real loopback chat-completions server of ``_vqa_judge_server``.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import polars  # noqa: F401  (imported here so that timings measure the judge only)
import pytest

from _vqa_judge_server import JudgeServer
from medtrust.exceptions import JudgeError
from medtrust.vqa.judge import (
    JudgeCache,
    JudgeConfig,
    JudgeItem,
    build_messages,
    run_judge,
)
from medtrust.vqa.judge.config import DEFAULT_FAILURE_THRESHOLD


def _many(n, prefix="Question"):
    return [
        JudgeItem(str(i), f"{prefix} {i}?", f"answer {i}", f"guess {i}", "open") for i in range(n)
    ]


def cfg(server, **kw):
    base = {"base_url": server.url, "model": "judge-m", "backoff": 0.01, "timeout": 5.0}
    return JudgeConfig(**{**base, **kw})


# -- item 5: fail fast ------------------------------------------------------------------------


def test_unreachable_judge_fails_at_once_with_a_clear_error():
    config = JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m")
    t0 = time.perf_counter()
    with pytest.raises(JudgeError, match=r"unreachable at http://127\.0\.0\.1:9/v1"):
        run_judge(_many(8), config, cache=None)
    assert time.perf_counter() - t0 < 3.0  # was 15.5 s of retries, then exit 0


def test_unknown_model_is_a_clear_error_before_any_request():
    with JudgeServer("good") as srv:
        with pytest.raises(JudgeError, match=r"'nope' is not served .* judge-m"):
            run_judge(_many(3), cfg(srv, model="nope"), cache=None)
        assert srv.n_probes == 1 and srv.n_requests == 0


def test_server_without_models_route_is_not_refused():
    with JudgeServer("good", models=None) as srv:
        run = run_judge(_many(2), cfg(srv), cache=None)
        assert srv.n_probes == 1
    assert run.summary["n_ok"] == 2


def test_first_requests_all_failing_stop_the_run(tmp_path):
    with JudgeServer("503") as srv:
        t0 = time.perf_counter()
        with pytest.raises(JudgeError, match="first 4 judge items all failed"):
            run_judge(
                _many(50), cfg(srv, fail_fast=4, max_retries=1, concurrency=2), cache=tmp_path
            )
        assert time.perf_counter() - t0 < 3.0
        time.sleep(0.1)
        # 4 failed items (2 attempts each) plus at most the two in flight: not 50 x 2
        assert srv.n_requests <= 2 * (4 + 2)
    with JudgeCache(tmp_path) as c:
        assert len(c) == 0


def test_default_failure_threshold_is_small():
    assert JudgeConfig().failure_threshold == DEFAULT_FAILURE_THRESHOLD == 0.02


def _cli_files(tmp_path, n=30):
    samples = [
        {
            "qid": str(i),
            "question": f"Which organ {i}?",
            "answer": f"organ {i}",
            "answer_type": "open",
            "split": "test",
            "modality": "CT" if i % 2 else "X-Ray",
        }
        for i in range(n)
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(s) for s in samples))
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(json.dumps({"qid": str(i), "pred": f"guess {i}"}) for i in range(n)))
    shift = tmp_path / "shift.json"
    shift.write_text(json.dumps({"name": "xray", "attribute": "modality", "ood_values": ["x-ray"]}))
    return data, preds, shift


def _cli_args(tmp_path, url, *extra):
    data, preds, shift = _cli_files(tmp_path)
    return [
        "vqa",
        "evaluate",
        "--data",
        str(data),
        "--pred",
        str(preds),
        "--shift",
        str(shift),
        "--judge-url",
        url,
        "--judge-model",
        "judge-m",
        "--cache",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        *extra,
    ]


def test_cli_unreachable_judge_exits_nonzero_fast(tmp_path, capsys):
    from medtrust.cli.main import main

    t0 = time.perf_counter()
    assert main(_cli_args(tmp_path, "http://127.0.0.1:9/v1")) == 2
    assert time.perf_counter() - t0 < 5.0
    err = capsys.readouterr().err
    assert "judge unreachable" in err and "Traceback" not in err


def test_cli_failures_above_default_threshold_exit_nonzero_with_summary(tmp_path, capsys):
    from medtrust.cli.main import main

    with JudgeServer("good") as srv:
        srv.plan = ["good", "good", "400"]  # 1 of 30 items fails: 3.3 % > 2 %
        assert main(_cli_args(tmp_path, srv.url)) == 2
    err = capsys.readouterr().err
    assert "judge failures 1/30 (3.3%" in err and "exceed the threshold 2.0%" in err
    assert (tmp_path / "out" / "results.json").is_file()  # the files are still written


# -- item 6: Ctrl-C ---------------------------------------------------------------------------


def test_ctrl_c_stops_at_once_keeps_finished_and_exits_130(tmp_path):
    args = _cli_args(tmp_path, "URL", "--concurrency", "2", "--timeout", "20")
    script = textwrap.dedent(
        """
        import sys
        from medtrust.cli.main import main
        args = [a if a != "URL" else sys.argv[1] for a in sys.argv[2:]]
        sys.exit(main(args))
        """
    )
    with JudgeServer("good", delay=1.5) as srv:
        srv.plan = ["good"] * 2  # the first two answer at once
        srv.delay = 0.0
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen(
            [sys.executable, "-c", script, srv.url, *args],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 30
        while srv.n_requests < 2 and time.time() < deadline:
            time.sleep(0.02)
        srv.delay = 1.5  # the next requests hang in flight when Ctrl-C comes
        while srv.n_requests < 4 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        sent = srv.n_requests
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        elapsed = time.perf_counter() - t0
        time.sleep(1.7)  # anything sent after the interrupt would arrive by now
        assert srv.n_requests == sent  # nothing new after the interrupt
    assert proc.returncode == 130
    assert elapsed < 1.0  # not two request timeouts
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("medtrust: interrupted")
    with JudgeCache(tmp_path / "cache") as c:
        assert len(c) >= 2  # the finished verdicts


# -- item 7: Retry-After: 0 -------------------------------------------------------------------


def test_retry_after_zero_still_backs_off_exponentially():
    with JudgeServer("good", retry_after="0") as srv:
        srv.plan = ["429", "429", "429"]
        run = run_judge(_many(1), cfg(srv, backoff=0.2, max_retries=3), cache=None)
        gaps = [b - a for a, b in zip(srv.times, srv.times[1:])]
    assert run.results["judge_status"][0] == "ok"
    # 0.2, 0.4, 0.8 s each +-25 %: a floor, doubling (was: all four within milliseconds)
    assert gaps[0] >= 0.15 and gaps[1] >= 0.3 and gaps[2] >= 0.6
    assert gaps[2] > gaps[0]


def test_retry_after_longer_than_backoff_is_honoured():
    with JudgeServer("good", retry_after="0.5") as srv:
        srv.plan = ["429"]
        run_judge(_many(1), cfg(srv, backoff=0.01), cache=None)
        assert srv.times[1] - srv.times[0] >= 0.45


def test_burst_of_429_loses_nothing():
    with JudgeServer("good", retry_after="0") as srv:
        srv.plan = ["429"] * 12
        run = run_judge(_many(12), cfg(srv, backoff=0.05, concurrency=4, fail_fast=0), cache=None)
    assert run.summary["n_ok"] == 12 and run.summary["n_failed"] == 0


# -- item 9: prompt templates -----------------------------------------------------------------


def test_sure_vqa_template_rubric_and_layout():
    msgs = build_messages("Which organ?", "liver", "the liver", "open", template="sure_vqa")
    assert [m["role"] for m in msgs] == ["user"]  # no system role, as for Mistral-Instruct
    text = msgs[0]["content"]
    assert "2 stars, partially correct" in text and "5 stars, perfect match" in text
    item = json.loads(text.split("Input: ", 1)[1].split("\n", 1)[0])
    assert item == {"question": "Which organ?", "gt": "liver", "pred": "the liver"}
    two = build_messages("A or B?", "A", "none", "two_option", template="sure_vqa")[0]["content"]
    assert "0.5 stars, partially correct: one of the options against both or none" in two


def test_sure_vqa_template_runs_and_has_its_own_cache_key(tmp_path):
    items = [JudgeItem("1", "Which organ?", "liver", "liver and spleen", "open")]
    with JudgeServer("good") as srv:
        a = run_judge(items, cfg(srv, prompt="sure_vqa"), cache=tmp_path)
        b = run_judge(items, cfg(srv), cache=tmp_path)
        assert srv.n_requests == 2  # different prompt, different cache entry
        assert srv.requests[0]["messages"][0]["role"] == "user"
    assert a.results["judge_prompt_version"][0] == "medtrust-surevqa-judge-v1/open"
    assert a.results["judge_score"][0] == b.results["judge_score"][0] == 3.0  # token F1 0.5


# -- item 10: progress bar from the start -----------------------------------------------------


def test_progress_bar_shows_before_the_first_verdict(capsys):
    seen = []

    def first(qid, rec):
        seen.append(capsys.readouterr().err)

    with JudgeServer("good", delay=0.05) as srv:
        run_judge(_many(2), cfg(srv, concurrency=1), cache=None, progress=True, on_result=first)
    assert "judge" in seen[0] and "0/2" in seen[0]


# -- item 11: answers that normalise to nothing -----------------------------------------------


def test_empty_normalised_answer_is_never_an_exact_match():
    items = [
        JudgeItem("1", "Article?", "the", "a", "open"),
        JudgeItem("2", "Article?", "the", "the", "open"),
        JudgeItem("3", "Organ?", "The liver", "liver.", "open"),
    ]
    with JudgeServer("good") as srv:
        run = run_judge(items, cfg(srv), cache=None)
        assert srv.n_requests == 2  # "the" vs "a" and even "the" vs "the" go to the judge
    assert run.results["judge_source"].to_list() == ["judge", "judge", "exact_match"]
