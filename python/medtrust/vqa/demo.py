"""Demo step of VQA robustness: a synthetic VQA set, token metrics, RR table, optional judge."""

from __future__ import annotations

from pathlib import Path

from medtrust._extras import require


def run(out: Path, *, quick: bool = False, progress: bool = False) -> list[str]:
    """Write ``vqa/`` (samples, predictions, evaluation files, RR table and plot)."""
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    import polars as pl

    from medtrust._figures import save_figure
    from medtrust._io import atomic_write_parquet, atomic_write_text
    from medtrust.data.vqa import SYNTHETIC_SHIFT, synthetic_vqa, synthetic_vqa_predictions
    from medtrust.vqa import answer_prior, evaluate, plot_robustness, robustness, split_shift
    from medtrust.vqa.judge import JudgeConfig

    folder = Path(out) / "vqa"
    folder.mkdir(parents=True, exist_ok=True)
    n_images = 30 if quick else 120
    samples = synthetic_vqa(n_images=n_images, seed=0, image_dir=folder / "images")
    atomic_write_text(folder / "samples.jsonl", samples.write_ndjson())
    split = split_shift(samples, SYNTHETIC_SHIFT)
    preds = synthetic_vqa_predictions(samples, seeds=(0, 1) if quick else (0, 1, 2))
    prior = answer_prior(split.iid_train, split.test_frame()).with_columns(
        pl.lit("synthetic-llava").alias("model")
    )
    preds = pl.concat([preds, prior.select(preds.columns)])
    atomic_write_parquet(folder / "predictions.parquet", preds)

    res = evaluate(samples, preds, SYNTHETIC_SHIFT, progress=progress)
    res.write(folder / "eval")
    rob = robustness(res.scores, metric="closed_correct")
    closed = rob.summary
    atomic_write_parquet(folder / "robustness_closed.parquet", closed)
    fig, _ = plot_robustness(
        closed, hue=("method", "baseline"), title="synthetic VQA: RR of closed accuracy"
    )
    save_figure(fig, folder / "robustness.png", close=True)

    counts = split.counts()
    lines = [
        "## VQA robustness (SURE-VQA)",
        "",
        f"{samples.height} synthetic questions on {n_images} images; shift "
        f"`{SYNTHETIC_SHIFT['name']}` (X-Ray OOD): i.i.d. test {counts['iid_test']}, OOD test "
        f"{counts['ood_test']} (train-split X-Ray images join the OOD set, never trained on). "
        "Files in `vqa/`.",
        "",
        "| method | baseline | closed acc. i.i.d. | closed acc. OOD | RR (mean +- std) | drop |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in closed.sort("method", "baseline").iter_rows(named=True):
        std = r["rr_std"]
        std_s = "n/a" if std is None or std != std else f"{std:.3f}"
        lines.append(
            f"| {r['method']} | {r['baseline']} | {r['s_iid_mean']:.3f} | {r['s_ood_mean']:.3f} "
            f"| {r['rr_mean']:.3f} +- {std_s} | {r['drop_mean']:.3f} |"
        )
    amb = int(res.summary["n_ambiguous"].sum())
    lines += ["", f"Ambiguous closed answers (scored 0, counted): {amb}."]

    judge = JudgeConfig.from_env()
    if not judge.configured:
        lines += [
            "",
            "LLM judge: skipped (no endpoint configured; set MEDTRUST_JUDGE_URL and "
            "MEDTRUST_JUDGE_MODEL, optionally MEDTRUST_JUDGE_API_KEY, to run it).",
        ]
        return lines
    model_runs = preds.filter((pl.col("baseline") == "none") & (pl.col("seed") == 0))
    jres = evaluate(
        samples,
        model_runs,
        SYNTHETIC_SHIFT,
        judge=judge,
        cache=folder / "judge_cache",
        progress=progress,
    )
    jres.write(folder / "eval_judge")
    j = jres.judge or {}
    lines += [
        "",
        f"LLM judge `{judge.judge_name}` on the model runs (seed 0): {j.get('n_items')} items, "
        f"{j.get('n_requests')} requests, {j.get('n_cache_hits')} cached, "
        f"{j.get('n_exact_match')} exact matches, {j.get('n_parse_error')} parse errors, "
        f"{j.get('n_api_error')} API errors.",
        "",
        "| method | answer type | judge S_iid | judge S_ood | RR |",
        "| --- | --- | --- | --- | --- |",
    ]
    jr = robustness(jres.scores, metric="judge_score").summary
    for r in jr.sort("method", "answer_type").iter_rows(named=True):
        rr = r["rr_mean"]
        lines.append(
            f"| {r['method']} | {r['answer_type']} | {r['s_iid_mean']:.3f} | "
            f"{r['s_ood_mean']:.3f} | {'n/a' if rr is None else f'{rr:.3f}'} |"
        )
    return lines
