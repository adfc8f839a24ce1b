"""``medtrust failure evaluate``: failure detection on a folder of ensemble predictions."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtrust._extras import require
from medtrust._io import atomic_write_parquet, begin_results, progress_enabled
from medtrust.cli.engine_args import add_engine_arguments, engine_options
from medtrust.cli.help import add_no_progress


def _evaluate(args: argparse.Namespace) -> int:
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    import polars as pl

    from medtrust.engine import score_folder
    from medtrust.failure import evaluate_failure_detection, score_table_csfs

    cases = score_folder(
        args.pred,
        args.labels,
        args.domains,
        tolerance=args.tolerance,
        percentile=args.percentile,
        surface=args.surface,
        width=args.width,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        progress=progress_enabled(False if args.no_progress else None),
        **engine_options(args),
    )
    out = begin_results(Path(args.out))  # res.write() marks it complete after the last file
    atomic_write_parquet(out / "case_scores.parquet", cases)
    csfs: list[str] | None
    if args.csfs:
        csfs = [c.strip() for c in args.csfs.split(",") if c.strip()]
    else:
        csfs = None if args.csf_prefix else score_table_csfs(cases)
    res = evaluate_failure_detection(
        cases,
        csfs=csfs,
        csf_prefix=args.csf_prefix,
        risk=args.risk,
        threshold=args.threshold,
        n_resamples=args.n_resamples,
        seed=args.seed,
        progress=progress_enabled(False if args.no_progress else None),
    )
    res.write(out, formats=args.formats.split(","))
    cols = ["csf", "aurc", "augrc", "spearman", "failure_auroc", "mean_rank"]
    with pl.Config(tbl_rows=60, tbl_cols=10, float_precision=4):
        print(res.metrics.filter(pl.col("group") == "all").sort("aurc").select(cols))
    print(f"{len(cases)} cases; results written to {out.resolve()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust failure ...``."""
    p = sub.add_parser("failure", help="segmentation failure detection")
    s = p.add_subparsers(dest="failure_command", required=True)
    e = s.add_parser(
        "evaluate",
        help="score CSFs of an ensemble's predictions against labels, per domain",
        description="Folder layout: PRED/<case>/member_*.nii.gz (and optional probs_*.npz, "
        "prediction.nii.gz), LABELS/<case>.nii.gz, DOMAINS = JSON {case: domain} or CSV "
        "case,domain.",
    )
    e.add_argument("--pred", required=True, help="folder with one sub-folder per case")
    e.add_argument("--labels", required=True, help="folder of reference label maps")
    e.add_argument("--domains", required=True, help="domains.json or CSV (case,domain)")
    e.add_argument("--out", default="failure_eval", help="output folder")
    e.add_argument("--risk", choices=["dice", "nsd", "hd95"], default="dice")
    e.add_argument(
        "--threshold", type=float, default=None, help="failure threshold (default: 0.75 for dice)"
    )
    e.add_argument(
        "--csfs", help="comma-separated CSF columns to evaluate (default: every CSF computed)"
    )
    e.add_argument("--csf-prefix", help="evaluate the CSF columns starting with this prefix")
    e.add_argument("--tolerance", type=float, default=2.0, help="NSD tolerance in mm")
    e.add_argument("--percentile", type=float, default=95.0, help="HD percentile")
    e.add_argument("--surface", choices=["voxels", "surfels"], default="voxels")
    e.add_argument("--width", type=int, default=4, help="boundary band width (voxels)")
    e.add_argument("--patch-size", type=int, default=10, help="patch-min window edge")
    e.add_argument("--n-resamples", type=int, default=500)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument(
        "--formats", default="png", help="figure formats, comma-separated: png, pdf, svg"
    )
    add_no_progress(e)
    add_engine_arguments(e)
    e.add_argument("--batch-size", type=int, help="cases per task (default: about 4 per worker)")
    e.set_defaults(func=_evaluate)
