"""Demo step of segmentation failure detection: synthetic NIfTI ensemble, end to end.

The summary reports only what the data support: the CSFs' AURC with paired-bootstrap CIs, the
difference of each to the best CSF with a CI simultaneous over the comparisons (Bonferroni)
(:func:`medtrust.failure.comparison.compare_to_best`), and "not distinguishable" wherever the
test cannot separate a CSF from the best. The data come from the ensemble model of
:mod:`medtrust.data.failure_cases`; their entropy ranges are reported beside the results.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from medtrust._extras import require

#: Cases, volume shape and ensemble size of the full and the quick demo.
SIZES: dict[bool, tuple[int, tuple[int, int, int], int]] = {
    False: (60, (40, 40, 28), 5),
    True: (14, (24, 24, 16), 3),
}


def _entropy_lines(manifest: dict[str, Any]) -> list[str]:
    import numpy as np

    by: dict[str, list[dict[str, float]]] = {}
    for rec in manifest.values():
        by.setdefault(rec["domain"], []).append(rec)
    lines = [
        "| domain | cases | mean Dice | failures (Dice < 0.75) | foreground entropy (nats): "
        "median [min, max] | MI: wrong voxels / right ones near a boundary |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for dom in sorted(by):
        recs = by[dom]
        d = np.array([r["dice"] for r in recs])
        h = np.array([r["fg_entropy"] for r in recs])
        ratio = np.nanmedian([r["mi_wrong"] / r["mi_right"] for r in recs])
        lines.append(
            f"| {dom} | {len(recs)} | {d.mean():.3f} | {int((d < 0.75).sum())} | "
            f"{np.median(h):.3f} [{h.min():.3f}, {h.max():.3f}] | {ratio:.1f} x |"
        )
    return lines


def _verdict_text(cmp: Any, risk_mean: float) -> list[str]:
    best = cmp.row(0, named=True)
    tied = cmp.filter(cmp["verdict"] == "not distinguishable")["csf"].to_list()
    worse = cmp.filter(cmp["verdict"] == "worse").height
    lines = [
        f"Lowest AURC: `{best['csf']}` ({best['value']:.4f}, 95% CI "
        f"[{best['low']:.4f}, {best['high']:.4f}]; a random CSF's expected AURC: {risk_mean:.4f}).",
    ]
    if tied:
        names = ", ".join(f"`{c}`" for c in tied)
        lines.append(
            f"{len(tied)} CSF(s) are **not distinguishable** from it on these "
            f"{cmp['n'][0]} cases (the simultaneous 95% CI of the paired difference contains "
            f"0): {names}. "
            "The data do not single out one best CSF; the order among these is not a finding."
        )
    else:
        lines.append("Every other CSF is worse than it (simultaneous 95% CIs exclude 0).")
    lines.append(
        f"{worse} CSF(s) are worse than the best (their simultaneous CI excludes 0). The "
        "best is picked "
        "on the same cases it is compared on, which slightly favours it."
    )
    return lines


def run(out: Path, *, quick: bool = False, progress: bool = False) -> list[str]:
    """Generate cases under ``failure/data``, score and evaluate them into ``failure/``."""
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    import polars as pl

    from medtrust._figures import save_figure
    from medtrust._io import atomic_write_parquet
    from medtrust.data import synthetic_failure_cases
    from medtrust.exceptions import UndefinedMetricWarning
    from medtrust.failure import evaluate_failure_detection, score_folder, score_table_csfs
    from medtrust.failure.comparison import compare_to_best
    from medtrust.failure.plot import plot_csf_intervals

    folder = Path(out) / "failure"
    n_cases, shape, members = SIZES[quick]
    n_resamples = 200 if quick else 1000
    # Simultaneous intervals over 24 comparisons reach the 0.1 % tails: ~10 resamples beyond
    # each end needs ~10,000 resamples (cheap: one O(n) pass per resample in Rust).
    n_compare = 2000 if quick else 10_000
    paths = synthetic_failure_cases(
        folder / "data", n_cases=n_cases, shape=shape, n_members=members, seed=0
    )
    manifest = json.loads((folder / "data" / "generator.json").read_text())["cases"]
    cases = score_folder(
        paths["pred"], paths["labels"], paths["domains"], patch_size=6, progress=progress
    )
    atomic_write_parquet(folder / "case_scores.parquet", cases)
    with warnings.catch_warnings():
        # Some domains have no failures (or only failures): failure AUROC is NaN there.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = evaluate_failure_detection(
            cases, csfs=score_table_csfs(cases), n_resamples=n_resamples, seed=0
        )
    res.write(folder)
    risk = res.cases["risk"].to_numpy()
    confs = {c: res.cases[c].to_numpy() for c in res.csfs}
    cmp = compare_to_best(confs, risk, n_resamples=n_compare, seed=0).with_columns(
        n=pl.lit(len(risk))
    )
    atomic_write_parquet(folder / "comparison_to_best.parquet", cmp)
    fig, _ = plot_csf_intervals(cmp, title="AURC per CSF, all cases")
    save_figure(fig, folder / "aurc_intervals.png", close=True)

    metrics = res.metrics.filter(pl.col("group") == "all")
    extra = dict(zip(metrics["csf"], zip(metrics["failure_auroc"], metrics["spearman"])))
    lines = [
        "## Segmentation failure detection",
        "",
        f"{n_cases} synthetic 3-D cases ({shape[0]}x{shape[1]}x{shape[2]}, spacing 1x1x2 mm), "
        f"an ensemble of {members} members written as NIfTI label maps and softmax .npz files, "
        "scored end to end (files in `failure/`). The members follow the ensemble model of "
        "`medtrust.data.failure_cases`: logits from signed distances with per-member "
        "temperature and boundary jitter, members disagreeing where the prediction is wrong, "
        "six benchmark-like shifts of which `missing` and `extra` give confident failures. "
        "The entropies below come from the simulation (`failure/data/generator.json`); the "
        "CSFs see only the files.",
        "",
        *_entropy_lines(manifest),
        "",
        f"CSFs by AURC (risk = 1 - mean foreground Dice, all {len(risk)} cases; lower is "
        f"better; {n_compare} paired bootstrap resamples). Top {min(10, cmp.height)} of "
        f"{cmp.height}; the full table is `failure/comparison_to_best.parquet`:",
        "",
        "| CSF | AURC [95% CI] | difference to best [simultaneous 95% CI] | adjusted p | verdict | "
        "failure AUROC | Spearman(conf, risk) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in cmp.head(10).iter_rows(named=True):
        auroc, sp = extra[r["csf"]]
        diff = (
            "-"
            if r["verdict"] == "best"
            else f"{r['diff']:+.4f} [{r['diff_low']:+.4f}, {r['diff_high']:+.4f}]"
        )
        p = "-" if r["verdict"] == "best" else f"{r['p_value']:.3f}"
        lines.append(
            f"| {r['csf']} | {r['value']:.4f} [{r['low']:.4f}, {r['high']:.4f}] | {diff} | "
            f"{p} | {r['verdict']} | {auroc:.3f} | {sp:.3f} |"
        )
    lines += ["", *_verdict_text(cmp, float(risk.mean()))]
    pw = cmp.filter(pl.col("csf") == "pairwise_dice")
    if pw.height:
        r = pw.row(0, named=True)
        pos = cmp["csf"].to_list().index("pairwise_dice") + 1
        status = {
            "best": "has the lowest AURC, but see above for the CSFs it cannot be told from",
            "not distinguishable": "is not distinguishable from the best",
            "worse": "is worse than the best here",
        }[r["verdict"]]
        lines += [
            "",
            f"Pairwise Dice of the members (the paper's best CSF) is at position {pos} of "
            f"{cmp.height} by point estimate and {status}. These are synthetic data: the "
            "numbers check the pipeline and show how to read such a comparison; they are no "
            "evidence about real models.",
        ]
    lines += [
        "",
        "Figures: `failure/risk_coverage_all.png` and `failure/risk_coverage_<domain>.png` "
        "(top 3 CSFs by AURC highlighted, the others grey), `failure/aurc_intervals.png` "
        "(AURC and paired differences to the best with CIs, coloured by verdict).",
    ]
    return lines
