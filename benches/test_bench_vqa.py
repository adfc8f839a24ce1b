"""VQA benchmarks: medtrust beside the plain-Python / numpy way, same run (make bench)."""

from collections import Counter

import numpy as np
import polars as pl
import pytest

from medtrust.data.vqa import synthetic_vqa, synthetic_vqa_predictions
from medtrust.vqa import robustness, token_metrics


@pytest.fixture(scope="module")
def scored():
    samples = synthetic_vqa(n_images=400, seed=0)
    preds = synthetic_vqa_predictions(
        samples, methods=("lora",), seeds=(0, 1, 2), baselines=("none", "blank")
    )
    df = preds.join(samples, on="qid")
    return df.with_columns(
        pl.when(pl.col("modality") == "X-Ray")
        .then(pl.lit("ood"))
        .otherwise(pl.lit("iid"))
        .alias("subset")
    )


def plain_f1(pred, ans):
    p, a = pred.lower().split(), ans.lower().split()
    common = sum((Counter(p) & Counter(a)).values())
    if not p or not a or not common:
        return float(p == a)
    pr, rc = common / len(p), common / len(a)
    return 2 * pr * rc / (pr + rc)


def test_bench_token_metrics_medtrust(benchmark, scored):
    out = benchmark(token_metrics, scored)
    assert out.height == scored.height


def test_bench_token_f1_plain_python(benchmark, scored):
    preds, answers = scored["pred"].to_list(), scored["answer"].to_list()
    out = benchmark(lambda: [plain_f1(p, a) for p, a in zip(preds, answers)])
    assert len(out) == scored.height


def test_bench_robustness_medtrust(benchmark, scored):
    df = scored.with_columns(
        pl.col("token_f1") if "token_f1" in scored.columns else pl.lit(1.0).alias("token_f1")
    )
    res = benchmark(robustness, df, metric="token_f1")
    assert res.summary.height > 0


def test_bench_robustness_numpy(benchmark, scored):
    keys = scored.select("method", "baseline", "answer_type", "seed").rows()
    subset = np.array(scored["subset"].to_list())
    vals = np.ones(scored.height)

    def plain():
        groups = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        out = {}
        for k, idx in groups.items():
            idx = np.array(idx)
            iid, ood = vals[idx][subset[idx] == "iid"], vals[idx][subset[idx] == "ood"]
            out[k] = ood.mean() / iid.mean()
        return out

    assert len(benchmark(plain)) > 0
