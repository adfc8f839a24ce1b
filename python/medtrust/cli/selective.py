"""``medtrust selective evaluate``: metrics of CSF columns in a Parquet or CSV file."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtrust._io import atomic_write_parquet
from medtrust.io.tables import read_table


def _evaluate(args: argparse.Namespace) -> int:
    import polars as pl

    from medtrust.selective import evaluate

    path = Path(args.file)
    df = read_table(path, formats=("parquet", "csv", "tsv"), what="score")
    res = evaluate(
        df,
        confid=args.confid,
        residual=args.residual,
        by=args.by or [],
        labels=args.labels,
        ci=args.ci,
        n_resamples=args.n_resamples,
        seed=args.seed,
        nan_policy=args.nan_policy,
        check_range=not args.no_check_range,
        # With --ci: a bar over the (group, CSF) bootstraps when stderr is a terminal.
        progress=False if args.no_progress else None,
    )
    out = Path(args.out) if args.out else path.with_name(f"{path.stem}.selective.parquet")
    atomic_write_parquet(out, res)
    cols = [*(args.by or []), "csf", "n", "aurc", "augrc", "eaurc", "naurc", "failure_auroc"]
    with pl.Config(tbl_rows=100, tbl_cols=20, float_precision=5):
        print(res.select([c for c in cols if c in res.columns]))
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust selective ...``."""
    p = sub.add_parser("selective", help="selective-classification metrics")
    s = p.add_subparsers(dest="selective_command", required=True)
    e = s.add_parser("evaluate", help="evaluate CSF columns of a Parquet/CSV table")
    e.add_argument("file", help="input .parquet or .csv")
    e.add_argument("--confid", action="append", required=True, help="confidence column (repeat)")
    e.add_argument("--residual", required=True, help="residual column (0/1 or loss in [0, 1])")
    e.add_argument("--by", action="append", help="grouping column (repeat)")
    e.add_argument("--labels", help="class-label column for the balanced metrics")
    e.add_argument("--ci", action="store_true", help="add paired-bootstrap CIs")
    e.add_argument("--n-resamples", type=int, default=1000)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--nan-policy", choices=["raise", "omit", "propagate"], default="raise")
    e.add_argument("--no-check-range", action="store_true", help="allow residuals outside [0, 1]")
    e.add_argument("--out", help="output .parquet (default: next to the input)")
    e.add_argument("--no-progress", action="store_true", help="no progress bar (with --ci)")
    e.set_defaults(func=_evaluate)
