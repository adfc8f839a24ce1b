"""``medtrust vqa ...``: evaluate predictions on a shift, robustness tables, inference, tuning.

Judge flags follow lm-eval / VLMEvalKit: ``--judge-url``, ``--judge-model``, ``--max-retries``,
``--concurrency``, ``--cache DIR``, ``--limit``; the URL, model and key also come from
``MEDTRUST_JUDGE_URL``, ``MEDTRUST_JUDGE_MODEL``, ``MEDTRUST_JUDGE_API_KEY``. The dataset
comes from ``--data`` or ``MEDTRUST_VQA_DATA``.

Exit status: 0; 2 for bad input or a judge run whose failed fraction exceeds
``--failure-threshold`` (default 2 %); 130 after Ctrl-C (one line, finished judgements are
cached). Warnings print as one line each (no source line).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from medtrust._extras import require
from medtrust._io import atomic_write_parquet, atomic_write_text, progress_enabled
from medtrust.cli.help import add_deprecated_alias, add_no_progress
from medtrust.exceptions import ConfigError, InvalidArgumentError

log = logging.getLogger(__name__)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"medtrust: warning: {message} ({category.__name__})\n"


def _command(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a vqa command with one-line warnings and Ctrl-C as exit status 130."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        old = warnings.formatwarning
        warnings.formatwarning = _one_line_warning
        try:
            return func(args)
        except KeyboardInterrupt:
            print(
                "medtrust: interrupted; finished judgements are cached, rerun to continue",
                file=sys.stderr,
            )
            return 130
        finally:
            warnings.formatwarning = old

    return run


def _progress(args: argparse.Namespace) -> bool:
    return progress_enabled(False if args.no_progress else None)


def _data_path(args: argparse.Namespace) -> Path:
    data = args.data or os.environ.get("MEDTRUST_VQA_DATA")
    if not data:
        raise InvalidArgumentError("give --data PATH (or set MEDTRUST_VQA_DATA)")
    return Path(data)


def _judge_config(args: argparse.Namespace):  # -> JudgeConfig | None
    from medtrust.vqa.judge import JudgeConfig

    cfg = JudgeConfig.from_env(
        base_url=args.judge_url,
        model=args.judge_model,
        model_path=args.judge_model_path,
        backend="transformers" if args.judge_model_path and not args.judge_url else None,
        max_retries=args.max_retries,
        concurrency=args.concurrency,
        timeout=args.timeout,
        failure_threshold=args.failure_threshold,
        fail_fast=args.fail_fast,
        prompt=args.judge_prompt,
        probe=False if args.no_probe else None,
    )
    if args.no_judge:
        return None
    if not cfg.configured:
        if args.judge_url or args.judge_model:
            raise ConfigError("the judge needs both --judge-url and --judge-model")
        return None
    return cfg


def _evaluate(args: argparse.Namespace) -> int:
    import polars as pl

    from medtrust.vqa import evaluate, get_shift, load_predictions, load_vqa

    if not args.preds:
        raise InvalidArgumentError("--pred is required: a prediction file (repeat for several)")
    data = _data_path(args)
    samples = load_vqa(data, layout=args.layout)
    preds = load_predictions(args.preds)
    shift = get_shift(args.shift)
    judge = _judge_config(args)
    cache = False if args.no_cache else (Path(args.cache) if args.cache else True)
    res = evaluate(
        samples,
        preds,
        shift,
        judge=judge,
        cache=cache,
        limit=args.limit,
        missing=args.missing,
        on_leakage=args.on_leakage,
        check_dataset=not args.any_dataset,
        progress=_progress(args),
        bertscore_model=args.bertscore_model,
        inputs={
            "data": str(data),
            "preds": [str(p) for p in args.preds],
            "argv": sys.argv[1:],
        },
    )
    if judge is None and not args.no_judge:
        # said after the inputs validated, so it never hides the real error
        print(
            "judge: not configured (token metrics only); set --judge-url and --judge-model "
            "or MEDTRUST_JUDGE_URL and MEDTRUST_JUDGE_MODEL",
            file=sys.stderr,
        )
    out = Path(args.out) if args.out else Path("vqa_eval") / shift.name
    res.write(out)
    cols = [
        "model",
        "method",
        "seed",
        "baseline",
        "subset",
        "answer_type",
        "n",
        "exact_match",
        "token_f1",
        "closed_accuracy",
        "n_ambiguous",
    ]
    if judge is not None:
        cols += ["judge_score", "n_judge_parse_error", "n_judge_api_error"]
    with pl.Config(tbl_rows=60, tbl_cols=20, float_precision=4, tbl_width_chars=220):
        print(res.summary.select([c for c in cols if c in res.summary.columns]))
    if res.judge is not None:
        j = res.judge
        print(
            f"judge: {j['n_items']} items, {j['n_requests']} requests, {j['n_cache_hits']} "
            f"cached, {j['n_exact_match']} exact matches, {j['n_parse_error']} parse errors, "
            f"{j['n_api_error']} API errors, {j['prompt_tokens'] + j['completion_tokens']} tokens"
        )
    print(f"wrote {out}")
    res.check_judge_failures()  # after writing: a failed run still leaves its files
    return 0


def _robustness(args: argparse.Namespace) -> int:
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    import polars as pl

    from medtrust._figures import save_figure
    from medtrust.vqa import load_scores, plot_robustness, robustness
    from medtrust.vqa.robustness import default_metric

    folder = Path(args.dir)
    scores = load_scores(folder)
    metric = args.metric or default_metric(scores)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = robustness(scores, metric=metric)
    for w in caught:  # once each, after the computation
        print(f"medtrust: warning: {w.message}", file=sys.stderr)
    out = Path(args.out) if args.out else (folder if folder.is_dir() else folder.parent)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(out / f"robustness_{metric}.parquet", res.summary)
    atomic_write_parquet(out / f"robustness_{metric}_per_seed.parquet", res.per_seed)
    atomic_write_text(out / f"robustness_{metric}.csv", res.summary.write_csv())
    summary = res.summary
    fig, _ = plot_robustness(summary, title=f"relative robustness ({metric})")
    save_figure(fig, out / f"robustness_{metric}.png", close=True)
    cols = [
        "shift",
        "model",
        "method",
        "baseline",
        "answer_type",
        "n_seeds",
        "s_iid_mean",
        "s_ood_mean",
        "rr_mean",
        "rr_std",
        "drop_mean",
        "n_missing",
    ]
    with pl.Config(tbl_rows=100, tbl_cols=20, float_precision=4, tbl_width_chars=220):
        print(summary.select([c for c in cols if c in summary.columns]))
    print(f"wrote {out / f'robustness_{metric}.parquet'} and .csv / .png")
    return 0


def _shifts(args: argparse.Namespace) -> int:
    from medtrust.vqa import PRESETS

    for s in PRESETS.values():
        iid = "all others" if s.iid_values is None else ", ".join(s.iid_values)
        dropped = "; ".join(f"without {c} = {', '.join(v)}" for c, v in s.exclude)
        print(
            f"{s.name:20s} {s.dataset:14s} {s.attribute:16s} OOD: {', '.join(s.ood_values)}"
            f" (from {' + '.join(s.ood_splits or ())}); i.i.d.: {iid}"
            + (f"; {dropped}" if dropped else "")
        )
    return 0


def _infer(args: argparse.Namespace) -> int:
    from medtrust.vqa import load_vqa, split_shift
    from medtrust.vqa.harness import HarnessConfig, run_inference

    cfg = HarnessConfig.from_file(args.config)
    samples = load_vqa(_data_path(args), layout=args.layout)
    train = None
    if args.shift:
        split = split_shift(samples, args.shift, check_dataset=not args.any_dataset)
        test, train = split.test_frame(), split.iid_train
    else:
        import polars as pl

        test = samples.filter(pl.col("split") == "test")
        train = samples.filter(pl.col("split") == "train")
    if args.limit:
        test = test.head(args.limit)
    preds = run_inference(test, cfg, train=train, progress=_progress(args))
    out = Path(args.out) if args.out else Path(f"predictions_{args.shift or 'all'}.jsonl")
    atomic_write_parquet(out, preds) if out.suffix == ".parquet" else atomic_write_text(
        out, preds.write_ndjson()
    )
    print(f"wrote {preds.height} predictions ({', '.join(cfg.runs())}) to {out}")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from medtrust.vqa import load_vqa, split_shift
    from medtrust.vqa.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig.from_file(args.config)
    samples = load_vqa(_data_path(args), layout=args.layout)
    split = split_shift(samples, args.shift, require_train=True, check_dataset=not args.any_dataset)
    res = finetune(split.iid_train, cfg, progress=_progress(args))
    print(
        f"{res.method}: {res.steps} steps, last loss {res.losses[-1]:.4f}; adapter in "
        f"{res.output_dir}"
    )
    return 0


def _agreement(args: argparse.Namespace) -> int:
    import polars as pl

    from medtrust.vqa import agreement

    scores = args.scores
    if scores and Path(scores).is_dir():
        from medtrust.vqa import load_scores

        scores = load_scores(scores)
    table = agreement(args.ratings, scores, human=args.human)
    with pl.Config(tbl_rows=30, float_precision=4):
        print(table)
    if args.out:
        atomic_write_parquet(Path(args.out), table)
    return 0


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="dataset folder or file (default: $MEDTRUST_VQA_DATA)")
    p.add_argument(
        "--layout", default="auto", choices=["auto", "slake", "ovqa", "mimic", "generic"]
    )
    p.add_argument(
        "--any-dataset",
        action="store_true",
        help="apply a shift to a dataset other than the one it names",
    )
    add_no_progress(p)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust vqa ...``."""
    p = sub.add_parser("vqa", help="robustness of VLMs in medical VQA (SURE-VQA)")
    s = p.add_subparsers(dest="vqa_command", required=True)

    e = s.add_parser("evaluate", help="token metrics, judge and RR of predictions on a shift")
    _add_data(e)
    e.add_argument(
        "--pred",
        dest="preds",
        action="append",
        help="prediction file (repeat; required; --preds is a deprecated alias)",
    )
    add_deprecated_alias(e, "--preds", "--pred", "preds", append=True)
    e.add_argument("--shift", required=True, help="preset name or .json/.yaml shift file")
    e.add_argument("--out", help="output folder (default: vqa_eval/<shift>)")
    e.add_argument("--judge-url", help="OpenAI-compatible base URL (…/v1)")
    e.add_argument("--judge-model", help="judge model name")
    e.add_argument("--judge-model-path", help="local model folder (transformers backend)")
    e.add_argument("--no-judge", action="store_true", help="token metrics only")
    e.add_argument("--max-retries", type=int, help="retries after API errors (default 3)")
    e.add_argument("--concurrency", type=int, help="requests in flight (default 4)")
    e.add_argument("--timeout", type=float, help="seconds per socket operation (default 60)")
    e.add_argument(
        "--failure-threshold",
        type=float,
        help="exit 2 when more than this fraction of judgements fail (default 0.02)",
    )
    e.add_argument(
        "--fail-fast",
        type=int,
        help="stop when the first N judged items all fail with API errors (default 8; 0: off)",
    )
    e.add_argument(
        "--judge-prompt",
        choices=["medtrust", "sure_vqa"],
        help="judge prompt template (default medtrust; sure_vqa: SURE-VQA's rubric)",
    )
    e.add_argument(
        "--no-probe", action="store_true", help="do not check the judge endpoint before the run"
    )
    e.add_argument(
        "--bertscore-model",
        help="local model folder for BERTScore (e.g. a copy of roberta-large: SURE-VQA's)",
    )
    e.add_argument("--cache", help="judge cache folder (default ~/.cache/medtrust)")
    e.add_argument("--no-cache", action="store_true", help="do not cache judgements")
    e.add_argument("--limit", type=int, help="score only the first N items per subset")
    e.add_argument(
        "--missing",
        choices=["raise", "skip"],
        default="raise",
        help="test items without a prediction",
    )
    e.add_argument("--on-leakage", choices=["warn", "drop", "raise"], default="warn")
    e.set_defaults(func=_command(_evaluate))

    r = s.add_parser("robustness", help="RR tables and plots from evaluate outputs under DIR")
    r.add_argument("dir", help="folder searched for scores.parquet files")
    r.add_argument(
        "--metric",
        help="score column (default judge_score if scored, else closed_correct if there are "
        "closed questions, else token_f1)",
    )
    r.add_argument("--out", help="output folder (default: DIR)")
    r.set_defaults(func=_command(_robustness))

    sh = s.add_parser("shifts", help="list the preset shifts")
    sh.set_defaults(func=_command(_shifts))

    i = s.add_parser("infer", help="predictions of a HF VLM and every baseline (vqa extra)")
    _add_data(i)
    i.add_argument("--config", required=True, help="harness config (.yaml/.json)")
    i.add_argument("--shift", help="predict the shift's i.i.d. + OOD test sets")
    i.add_argument("--limit", type=int, help="only the first N test items")
    i.add_argument(
        "--out",
        help="predictions file, .parquet or .jsonl (default: predictions_<shift or all>.jsonl)",
    )
    i.set_defaults(func=_command(_infer))

    f = s.add_parser("finetune", help="PEFT fine-tuning on a shift's i.i.d. train set")
    _add_data(f)
    f.add_argument("--config", required=True, help="finetune config (.yaml/.json)")
    f.add_argument("--shift", required=True, help="preset name or shift file")
    f.set_defaults(func=_command(_finetune))

    a = s.add_parser("agreement", help="judge / metric agreement with human ratings")
    a.add_argument("ratings", help="ratings file (qid, human_score[, rater])")
    a.add_argument("--scores", help="scores file or evaluate output folder")
    a.add_argument("--human", default="human_score", help="human score column")
    a.add_argument("--out", help="write the table as .parquet (default: print it only)")
    a.set_defaults(func=_command(_agreement))
