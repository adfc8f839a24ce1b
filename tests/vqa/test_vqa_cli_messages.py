"""Issue 15 items 4, 10, 11: robustness CLI on undefined RR, files and messages, closed answers."""

import json
import os
import subprocess
import sys

import polars as pl
import pytest

from medtrust._io import mark_complete
from medtrust.cli.main import main
from medtrust.vqa import closed_choice, token_metrics, token_scores


def _files(tmp_path, preds_lines=None, n=6, closed=False):
    samples = [
        {
            "qid": str(i),
            "question": f"Which organ {i}?",
            "answer": "yes" if closed else f"organ {i}",
            "answer_type": "closed" if closed else "open",
            "split": "test",
            "modality": "CT" if i % 2 else "X-Ray",
        }
        for i in range(n)
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(s) for s in samples))
    preds = tmp_path / "preds.jsonl"
    lines = preds_lines or [json.dumps({"qid": str(i), "pred": f"organ {i}"}) for i in range(n)]
    preds.write_text("\n".join(lines) + "\n")
    shift = tmp_path / "shift.json"
    shift.write_text(json.dumps({"name": "xray", "attribute": "modality", "ood_values": ["x-ray"]}))
    return data, preds, shift


def _evaluate_args(tmp_path, data, preds, shift, *extra):
    return [
        "vqa",
        "evaluate",
        "--data",
        str(data),
        "--pred",
        str(preds),
        "--shift",
        str(shift),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        *extra,
    ]


# -- item 10: files and messages --------------------------------------------------------------


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640)])
@pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning")
def test_output_files_get_the_umask_mode(tmp_path, mask, mode):
    data, preds, shift = _files(tmp_path)
    old = os.umask(mask)
    try:
        assert main(_evaluate_args(tmp_path, data, preds, shift, "--no-judge")) == 0
    finally:
        os.umask(old)
    files = sorted((tmp_path / "out").iterdir())
    assert {f.name for f in files} >= {"results.json", "scores.parquet", "samples.jsonl"}
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: mode for f in files}


def test_bad_jsonl_line_is_reported_with_the_file_line(tmp_path, capsys):
    lines = [json.dumps({"qid": str(i), "pred": "x"}) for i in range(6)]
    lines[3] = '{"qid": "3", "pred": x}'
    data, preds, shift = _files(tmp_path, preds_lines=lines)
    assert main(_evaluate_args(tmp_path, data, preds, shift)) == 2
    err = capsys.readouterr().err
    assert "preds.jsonl:4: invalid JSON: Expecting value (column 22)" in err
    assert "line 1 column" not in err
    # the judge note never comes before (or instead of) the real error
    assert "judge: not configured" not in err


def test_warnings_print_as_one_line_without_source(tmp_path):
    lines = [json.dumps({"qid": str(i), "pred": f"organ {i}"}) for i in range(5)]  # qid 5 lacks
    data, preds, shift = _files(tmp_path, preds_lines=lines)
    args = _evaluate_args(tmp_path, data, preds, shift, "--no-judge", "--missing", "skip")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "medtrust.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    warn = [x for x in proc.stderr.splitlines() if "have no prediction" in x]
    assert len(warn) == 1 and warn[0].startswith("medtrust: warning: 1 test items")
    assert "warnings.warn(" not in proc.stderr and ".py:" not in proc.stderr


# -- item 4: robustness CLI when RR is undefined ----------------------------------------------


def test_robustness_cli_open_only_without_judge_uses_token_f1(tmp_path, capsys):
    data, preds, shift = _files(tmp_path)
    assert main(_evaluate_args(tmp_path, data, preds, shift, "--no-judge")) == 0
    assert main(["vqa", "robustness", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "robustness_token_f1.png").stat().st_size > 0


def test_robustness_cli_plots_what_is_defined_when_rr_is_undefined(tmp_path, capsys):
    rows = []
    for method, iid, ood in (
        ("lora", [1.0, 1.0], [0.0, 1.0]),  # RR 0.5
        ("ia3", [0.0, 0.0], [1.0, 0.0]),  # S_iid = 0: RR undefined
        ("ptune", [None, None], [None, None]),  # every judge item failed
    ):
        for sub, vals in (("iid", iid), ("ood", ood)):
            for v in vals:
                rows.append(
                    {
                        "shift": "s",
                        "model": "m",
                        "method": method,
                        "baseline": "none",
                        "seed": 0,
                        "answer_type": "closed",
                        "subset": sub,
                        "judge_score": v,
                    }
                )
    folder = tmp_path / "run"
    folder.mkdir()
    pl.DataFrame(rows, schema_overrides={"judge_score": pl.Float64}).write_parquet(
        folder / "scores.parquet"
    )
    mark_complete(folder)  # as `vqa evaluate` leaves a finished result folder
    assert main(["vqa", "robustness", str(folder)]) == 0
    out = capsys.readouterr()
    assert "RR undefined" in out.err and "Traceback" not in out.err
    png = folder / "robustness_judge_score.png"
    assert png.stat().st_size > 0
    rr = pl.read_parquet(folder / "robustness_judge_score.parquet").sort("method")
    assert rr["method"].to_list() == ["ia3", "lora", "ptune"]
    assert rr["rr_mean"][1] == 0.5 and rr["rr_mean"][0] is None and rr["rr_mean"][2] is None


def test_plot_robustness_marks_undefined_values():
    import matplotlib

    matplotlib.use("Agg")
    from medtrust.vqa import plot_robustness

    summary = pl.DataFrame(
        {
            "shift": ["s", "s"],
            "method": ["a", "b"],
            "rr_mean": [0.8, None],
            "rr_std": [None, None],
        },
        schema_overrides={"rr_mean": pl.Float64, "rr_std": pl.Float64},
    )
    _fig, ax = plot_robustness(summary)
    texts = [t.get_text() for t in ax.texts]
    assert "n/a" in texts
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0.8]  # the undefined bar is not drawn as 0


# -- item 11: closed-answer extraction and empty normalised answers ---------------------------


def test_hedged_closed_answers_are_ambiguous():
    assert closed_choice("not sure, maybe yes", ["yes", "no"]) is None
    assert closed_choice("It is possibly yes", ["yes", "no"]) is None
    assert closed_choice("I cannot tell if there is a yes", ["yes", "no"]) is None
    assert closed_choice("Yes, probably.", ["yes", "no"]) == "yes"  # committed first clause
    assert closed_choice("There is no effusion", ["yes", "no"]) == "no"


def test_answers_that_normalise_to_nothing_are_not_an_exact_match():
    s = token_scores("a", "the")
    assert s["exact_match"] == 0.0 and s["token_f1"] == 0.0
    assert token_scores("The.", "the")["exact_match"] == 1.0
    assert token_scores("", "")["exact_match"] == 1.0
    df = pl.DataFrame({"pred": ["a"], "answer": ["the"], "answer_type": ["closed"]})
    assert token_metrics(df)["closed_correct"][0] == 0.0  # no options: by exact match
