"""Relative robustness on crafted numbers, evaluate() outputs, CLI, agreement, prior, demo."""

import json
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from _vqa_judge_server import JudgeServer
from medtrust.exceptions import DatasetError, InvalidArgumentError, UndefinedMetricWarning
from medtrust.vqa import (
    agreement,
    answer_prior,
    evaluate,
    plot_robustness,
    relative_robustness,
    robustness,
)
from reference import vqa as ref

CRAFTED = {
    # (method, seed): (iid scores, ood scores) of closed questions
    ("lora", 0): ([1, 1, 0, 1], [1, 0, 0, 1]),
    ("lora", 1): ([1, 1, 1, 1], [1, 1, 0, 0]),
    ("ia3", 0): ([1, 0, 1, 0], [0, 1, 0, 0]),
    ("ia3", 1): ([1, 1, 0, 0], [1, 0, 0, 0]),
}


def crafted_scores():
    rows = []
    for (method, seed), (iid, ood) in CRAFTED.items():
        for subset, vals in (("iid", iid), ("ood", ood)):
            for i, v in enumerate(vals):
                rows.append(
                    {
                        "shift": "s",
                        "model": "m",
                        "method": method,
                        "baseline": "none",
                        "seed": seed,
                        "answer_type": "closed",
                        "subset": subset,
                        "qid": f"{subset}{i}",
                        "judge_score": float(v),
                    }
                )
    # open questions on the judge's 1-5 scale: RR 3/4 for both seeds
    for seed in (0, 1):
        for subset, v in (("iid", 4.0), ("ood", 3.0)):
            rows.append(
                {
                    "shift": "s",
                    "model": "m",
                    "method": "lora",
                    "baseline": "none",
                    "seed": seed,
                    "answer_type": "open",
                    "subset": subset,
                    "qid": "o",
                    "judge_score": v,
                }
            )
    return pl.DataFrame(rows)


def test_rr_on_crafted_numbers():
    res = robustness(crafted_scores())
    per_seed = res.per_seed.filter(pl.col("answer_type") == "closed")
    for (method, seed), (iid, ood) in CRAFTED.items():
        row = per_seed.filter((pl.col("method") == method) & (pl.col("seed") == seed)).row(
            0, named=True
        )
        rr, drop = ref.relative_robustness(iid, ood)
        assert row["rr"] == pytest.approx(rr) and row["drop"] == pytest.approx(drop)
        assert row["n_iid"] == 4 and row["n_ood"] == 4
    lora = res.summary.filter((pl.col("method") == "lora") & (pl.col("answer_type") == "closed"))
    r = lora.row(0, named=True)
    # seed 0: 0.5 / 0.75 = 2/3, seed 1: 0.5 / 1 = 1/2
    assert r["rr_mean"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert r["rr_std"] == pytest.approx(abs(2 / 3 - 1 / 2) / math.sqrt(2))  # ddof = 1
    assert r["drop_mean"] == pytest.approx(0.375)
    assert r["drop_std"] == pytest.approx(np.std([0.25, 0.5], ddof=1))
    assert r["s_iid_mean"] == pytest.approx(0.875) and r["s_ood_mean"] == pytest.approx(0.5)
    assert r["n_seeds"] == 2 and r["metric"] == "judge_score"
    # 1 - (S_iid - S_ood) / S_iid is the same number
    assert r["rr_mean"] == pytest.approx(np.mean([1 - 0.25 / 0.75, 1 - 0.5 / 1.0]))
    opn = res.summary.filter(pl.col("answer_type") == "open").row(0, named=True)
    assert opn["rr_mean"] == pytest.approx(0.75) and opn["rr_std"] == pytest.approx(0.0)
    assert res.summary.height == 3


def test_rr_undefined_and_missing_scores():
    df = pl.DataFrame(
        {
            "seed": [0, 0, 1, 1, 1],
            "subset": ["iid", "ood", "iid", "ood", "ood"],
            "judge_score": [0.0, 1.0, 1.0, 0.5, None],
        }
    )
    with pytest.warns(UndefinedMetricWarning, match="1 \\(group, seed\\) rows"):
        res = robustness(df)
    assert math.isnan(res.per_seed["rr"][0]) and res.per_seed["rr"][1] == 0.5
    assert res.n_undefined == 1
    r = res.summary.row(0, named=True)
    assert r["rr_mean"] == 0.5 and r["n_missing"] == 1 and r["n_seeds"] == 2
    assert r["rr_std"] is None or math.isnan(r["rr_std"])  # one defined seed
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(relative_robustness(0.0, 0.3))
    assert relative_robustness(0.8, 0.6) == pytest.approx(0.75)
    with pytest.raises(InvalidArgumentError, match="not in the table"):
        robustness(df, metric="bleu4")
    with pytest.raises(DatasetError, match="iid or ood"):
        robustness(df.with_columns(pl.lit("test").alias("subset")))


def test_closed_metrics_use_only_closed_questions():
    df = crafted_scores().with_columns(
        pl.when(pl.col("answer_type") == "closed").then(pl.col("judge_score")).alias("cc")
    )
    res = robustness(df, metric="closed_cc" if False else "judge_score")
    assert set(res.summary["answer_type"]) == {"open", "closed"}
    res = robustness(df.rename({"cc": "closed_correct"}), metric="closed_correct")
    assert set(res.summary["answer_type"]) == {"closed"} and res.n_undefined == 0


def test_plot_robustness():
    import matplotlib.pyplot as plt

    summary = robustness(crafted_scores()).summary
    fig, ax = plot_robustness(summary, answer_type="closed")
    assert len(ax.patches) == 2  # one bar per method
    assert ax.get_ylabel().startswith("relative robustness")
    plt.close(fig)
    fig2, ax2 = plt.subplots()
    out_fig, out_ax = plot_robustness(summary, value="drop", ax=ax2)
    assert out_ax is ax2 and out_fig is fig2 and len(ax2.patches) == 3
    plt.close(fig2)
    with pytest.raises(InvalidArgumentError):
        plot_robustness(summary, answer_type="nothing")


def toy_samples():
    rows = []
    for i in range(8):
        rows.append(
            {
                "qid": str(i),
                "question": "Is this a CT?" if i % 2 else "Which organ?",
                "answer": "yes" if i % 2 else "liver",
                "answer_type": "closed" if i % 2 else "open",
                "split": "test" if i < 6 else "train",
                "modality": "X-Ray" if i in (2, 3, 4, 7) else "CT",
                "image_id": f"img{i}",
                "dataset": "toy",
            }
        )
    return pl.DataFrame(rows)


def toy_preds():
    preds = ["liver", "yes", "lung", "no", "the liver", "maybe", "liver", "yes"]
    return pl.DataFrame({"qid": [str(i) for i in range(8)], "pred": preds, "seed": 0})


SHIFT = {"name": "toy_xray", "attribute": "modality", "ood_values": ["X-Ray"], "image_level": True}


def test_evaluate_tables_and_files(tmp_path):
    res = evaluate(toy_samples(), toy_preds(), SHIFT)
    # i.i.d. test: 0, 1, 5; OOD: 2, 3, 4 (test) + 7 (train, image-level)
    assert sorted(res.scores.filter(pl.col("subset") == "ood")["qid"]) == ["2", "3", "4", "7"]
    s = res.summary
    closed = s.filter(pl.col("answer_type") == "closed").sort("subset")
    assert closed["closed_accuracy"].to_list() == [0.5, 0.5]  # iid: yes, maybe; ood: no, yes
    assert closed["n_ambiguous"].to_list() == [1, 0]
    opn = s.filter(pl.col("answer_type") == "open").sort("subset")
    assert opn["exact_match"].to_list() == [1.0, 0.5]
    assert res.provenance["n_unused_predictions"] == 1  # qid 6 is a training item
    assert set(res.robustness["metric"]) == {"closed_correct", "token_f1"}
    out = res.write(tmp_path / "eval")
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {
        "results",
        "n-samples",
        "config",
        "versions",
        "provenance",
        "robustness",
        "higher_is_better",
    }
    task = results["results"]["toy_xray/ood/closed"]["model/none/seed0/none"]
    assert task["closed_accuracy"] == 0.5 and task["n"] == 2
    assert results["n-samples"]["toy_xray/iid/closed"] == {"original": 2, "effective": 2}
    prov = results["provenance"]
    assert prov["shift"]["name"] == "toy_xray" and prov["seeds"] == [0]
    assert prov["medtrust_version"] and prov["judge_model"] is None
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == res.scores.height == 7
    assert {"doc_id", "doc", "target", "resps", "task", "exact_match"} <= set(lines[0])
    assert pl.read_parquet(out / "scores.parquet").height == 7


def test_evaluate_limit_and_missing_predictions():
    res = evaluate(toy_samples(), toy_preds(), SHIFT, limit=2)
    assert res.scores.group_by("subset").len().sort("subset")["len"].to_list() == [2, 2]
    n = res.to_dict()["n-samples"]
    assert n["toy_xray/ood/closed"] == {"original": 2, "effective": 1}
    partial = toy_preds().filter(pl.col("qid") != "3")
    with pytest.raises(DatasetError, match=r"1 test items have no prediction.*model/none/seed0"):
        evaluate(toy_samples(), partial, SHIFT)
    with pytest.warns(UserWarning, match="skipped"):
        res = evaluate(toy_samples(), partial, SHIFT, missing="skip")
    assert res.provenance["n_missing_predictions"] == 1 and res.scores.height == 6
    with pytest.raises(DatasetError, match="not in the samples"):
        evaluate(toy_samples(), pl.DataFrame({"qid": ["99"], "pred": ["x"]}), SHIFT)


def test_cli_evaluate_and_robustness(tmp_path, capsys):
    from medtrust.cli.main import main

    data = tmp_path / "data.parquet"
    toy_samples().write_parquet(data)
    for seed in (0, 1):
        toy_preds().with_columns(pl.lit(seed).alias("seed")).write_parquet(
            tmp_path / f"p{seed}.parquet"
        )
    shift = tmp_path / "shift.json"
    shift.write_text(json.dumps(SHIFT))
    args = [
        "vqa",
        "evaluate",
        "--data",
        str(data),
        "--pred",
        str(tmp_path / "p0.parquet"),
        "--pred",
        str(tmp_path / "p1.parquet"),
        "--shift",
        str(shift),
        "--out",
        str(tmp_path / "runs" / "toy"),
        "--no-judge",
        "--no-progress",
    ]
    assert main(args) == 0
    assert "judge: not configured" not in capsys.readouterr().err  # --no-judge: asked for
    assert main(["vqa", "robustness", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "rr_mean" in out
    table = pl.read_parquet(tmp_path / "runs" / "robustness_closed_correct.parquet")
    assert table["rr_mean"].to_list() == [1.0] and table["n_seeds"].to_list() == [2]
    assert (tmp_path / "runs" / "robustness_closed_correct.png").stat().st_size > 0
    assert main(["vqa", "robustness", str(tmp_path / "runs"), "--metric", "token_f1"]) == 0
    assert main(["vqa", "shifts"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 7
    assert main(["vqa", "robustness", str(tmp_path / "nothing")]) == 2


def test_agreement_by_hand_and_against_scipy(tmp_path):
    ratings = pl.DataFrame(
        {
            "qid": ["1", "1", "2", "3", "4"],
            "rater": ["a", "b", "a", "a", "a"],
            "human_score": [1, 1, 2, 3, 4],
        }
    )
    scores = pl.DataFrame(
        {
            "qid": ["1", "2", "3", "4"],
            "judge_score": [1.0, 3.0, 2.0, 4.0],
            "token_f1": [0.0, 0.2, 0.1, None],
        }
    )
    table = agreement(ratings, scores)
    j = table.filter(pl.col("metric") == "judge_score").row(0, named=True)
    # one discordant pair of six: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15)
    assert j["kendall_tau"] == pytest.approx(4 / 6) and j["spearman"] == pytest.approx(0.8)
    t = table.filter(pl.col("metric") == "token_f1").row(0, named=True)
    assert t["n"] == 3 and t["n_missing"] == 1
    assert t["kendall_tau"] == pytest.approx(stats.kendalltau([1, 2, 3], [0.0, 0.2, 0.1])[0])
    # from files, scores inside the ratings file
    p = tmp_path / "r.csv"
    ratings.join(scores, on="qid").write_csv(p)
    t2 = agreement(p, metrics=["judge_score"])
    assert t2["kendall_tau"][0] == pytest.approx(4 / 6)
    with pytest.warns(UndefinedMetricWarning):
        agreement(
            ratings, scores.with_columns(pl.lit(1.0).alias("judge_score")), metrics=["judge_score"]
        )
    with pytest.raises(DatasetError, match="no qid"):
        agreement(ratings, scores.with_columns(pl.lit("x").alias("qid")))


def test_answer_prior():
    train = pl.DataFrame(
        {
            "qid": list("abcdefg"),
            "question": [
                "Is this a CT?",
                "is this a CT",
                "Is this a CT?",
                "Which organ?",
                "Which organ?",
                "What size?",
                "Is it normal?",
            ],
            "answer": ["yes", "Yes", "no", "lung", "liver", "small", "no"],
            "answer_type": ["closed", "closed", "closed", "open", "open", "open", "closed"],
        }
    )
    test = pl.DataFrame(
        {
            "qid": ["1", "2", "3", "4"],
            "question": ["IS THIS A CT?", "Which organ?", "Is the lung clear?", "Where?"],
            "answer_type": ["closed", "open", "closed", "open"],
        }
    )
    p = answer_prior(train, test)
    # 'yes' twice vs 'no' once; tie lung/liver -> alphabetical 'liver'; unseen closed -> the
    # most frequent closed answer (no: 2 vs yes: 2 -> alphabetical 'no'); unseen open -> 'liver'
    assert p["pred"].to_list() == ["Yes", "liver", "no", "liver"]
    assert p["prior_source"].to_list() == ["question", "question", "answer_type", "answer_type"]
    assert p["baseline"].unique().to_list() == ["answer_prior"]
    with pytest.raises(DatasetError, match="empty"):
        answer_prior(train.head(0), test)


def test_demo_step_without_and_with_judge(tmp_path, monkeypatch):
    from medtrust.vqa.demo import run

    for var in (
        "MEDTRUST_JUDGE_URL",
        "MEDTRUST_JUDGE_MODEL",
        "OPENAI_BASE_URL",
        "MEDTRUST_JUDGE_MODEL_PATH",
    ):
        monkeypatch.delenv(var, raising=False)
    lines = run(tmp_path / "a", quick=True)
    text = "\n".join(lines)
    assert "LLM judge: skipped" in text and "| lora | none |" in text
    for f in ("samples.jsonl", "predictions.parquet", "robustness.png", "eval/results.json"):
        assert (tmp_path / "a" / "vqa" / f).is_file()
    with JudgeServer("good") as srv:
        monkeypatch.setenv("MEDTRUST_JUDGE_URL", srv.url)
        monkeypatch.setenv("MEDTRUST_JUDGE_MODEL", "judge-m")
        text = "\n".join(run(tmp_path / "b", quick=True))
        assert srv.n_requests > 0
    assert "LLM judge `judge-m`" in text and "0 parse errors, 0 API errors" in text
    assert (tmp_path / "b" / "vqa" / "eval_judge" / "results.json").is_file()
