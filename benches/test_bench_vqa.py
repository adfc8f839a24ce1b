"""VQA: token metrics and the RR table, medtrust beside the plain-Python / numpy way.

12 000 synthetic predictions (400 images x 5 questions x 3 seeds x 2 baselines). The plain
token-metric baseline is what evaluation scripts do per item in Python: lower case and a
punctuation regex, Counter-based F1, sentence BLEU-1..4 with add-one smoothing, ROUGE-L by
dynamic programming, yes/no extraction (medtrust additionally applies its full normalisation:
NFKC, articles, number words). The RR baseline groups rows in a Python dict and averages with
numpy.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import polars as pl
import pytest

from conftest import best_of
from medtrust.data.vqa import synthetic_vqa, synthetic_vqa_predictions
from medtrust.vqa import robustness, token_metrics


@pytest.fixture(scope="module")
def scored():
    samples = synthetic_vqa(n_images=400, seed=0)
    preds = synthetic_vqa_predictions(
        samples, methods=("lora",), seeds=(0, 1, 2), baselines=("none", "blank")
    )
    df = preds.join(samples, on="qid")
    subset = pl.when(pl.col("modality") == "X-Ray").then(pl.lit("ood")).otherwise(pl.lit("iid"))
    return df.with_columns(subset.alias("subset"))


_PUNCT = re.compile(r"[^\w\s]")


def plain_scores(pred: str, ans: str) -> tuple:
    p, a = _PUNCT.sub(" ", pred.lower()).split(), _PUNCT.sub(" ", ans.lower()).split()
    em = float(p == a)
    common = sum((Counter(p) & Counter(a)).values())
    f1 = 0.0 if not common else 2 * common / (len(p) + len(a))
    logs, bleus = [], []
    for n in range(1, 5):
        grams = Counter(tuple(p[i : i + n]) for i in range(len(p) - n + 1))
        ref = Counter(tuple(a[i : i + n]) for i in range(len(a) - n + 1))
        total = sum(grams.values())
        if total:
            m = sum((grams & ref).values())
            logs.append(math.log((m + (n > 1)) / (total + (n > 1))) if m or n > 1 else -1e9)
        bp = 1.0 if len(p) >= len(a) or not p else math.exp(1 - len(a) / len(p))
        bleus.append(bp * math.exp(sum(logs) / len(logs)) if logs else 0.0)
    dp = [[0] * (len(a) + 1) for _ in range(len(p) + 1)]
    for i in range(len(p)):
        for j in range(len(a)):
            dp[i + 1][j + 1] = dp[i][j] + 1 if p[i] == a[j] else max(dp[i][j + 1], dp[i + 1][j])
    lcs = dp[-1][-1]
    rl = 0.0 if not lcs else 2 * lcs / (len(p) + len(a))
    choice = p[0] if p and p[0] in ("yes", "no") else None
    return em, f1, *bleus, rl, float(choice == ans.lower())


def test_bench_token_metrics(benchmark, scored, ratio):
    preds, answers = scored["pred"].to_list(), scored["answer"].to_list()

    def plain():
        return [plain_scores(p, a) for p, a in zip(preds, answers)]

    out = benchmark(token_metrics, scored)
    assert out.height == scored.height
    ours = best_of(lambda: token_metrics(scored))
    base = best_of(plain)
    ratio("vqa token_metrics (9 metrics + closed), n = 12 000", ours, base, None)


def test_bench_robustness(benchmark, scored, ratio):
    df = scored.with_columns(pl.lit(1.0).alias("score"))
    keys = df.select("method", "baseline", "answer_type", "seed").rows()
    subset = np.array(df["subset"].to_list())
    vals = df["score"].to_numpy()

    def plain():
        groups: dict = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        per_seed: dict = {}
        for k, idx in groups.items():
            ix = np.array(idx)
            s = subset[ix]
            rr = vals[ix][s == "ood"].mean() / vals[ix][s == "iid"].mean()
            per_seed.setdefault(k[:3], []).append(rr)
        return {k: (np.mean(v), np.std(v, ddof=1)) for k, v in per_seed.items()}

    res = benchmark(robustness, df, metric="score")
    assert res.summary.height == len(plain())
    ours = best_of(lambda: robustness(df, metric="score"))
    base = best_of(plain)
    ratio("vqa robustness table (RR mean/std over seeds), n = 12 000", ours, base, None)
