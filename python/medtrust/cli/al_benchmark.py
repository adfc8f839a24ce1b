"""``medtrust al benchmark``: the documented AL strategy comparison (one GPU).

The configuration is :data:`medtrust.active.loop.benchmark.BENCHMARK_FILE`; this module only
parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medtrust._io import progress_enabled


def _cmd(args: argparse.Namespace) -> int:
    from medtrust._io import atomic_write_text
    from medtrust.active.loop.benchmark import BENCHMARK_FILE, benchmark_config, benchmark_plan

    if args.write_config:
        dest = Path(args.write_config)
        atomic_write_text(dest, BENCHMARK_FILE.read_text())
        print(f"wrote {dest} (edit it, then: medtrust al grid {dest} --workers N)")
        return 0
    cfg = benchmark_config(smoke=args.smoke)
    cfg.validate()
    plan = benchmark_plan(cfg)
    print(f"benchmark {cfg.name}: {json.dumps(plan)}")
    if args.dry_run:
        return 0
    from medtrust.active.loop.grid import run_grid, select_runs
    from medtrust.active.loop.report import build_report

    out = Path(args.out) if args.out else Path.cwd() / f"al_{cfg.name}"
    runs = select_runs(cfg, strategies=args.strategy, seeds=args.seed, settings=args.setting)
    res = run_grid(
        cfg,
        out,
        workers=args.workers,
        runs=runs,
        progress=progress_enabled(False if args.no_progress else None),
    )
    for key, err in res.failed.items():
        print(f"FAILED {key}: {err}")
    if res.table is not None and res.table.height:
        rep = build_report(out, table=res.table)
        print("\n".join(rep.lines))
    if args.smoke:
        print("smoke run: a pipeline check with 2 training steps; its numbers mean nothing")
    print(f"results in {out}")
    return 1 if res.failed else 0


def add_benchmark_command(sub: argparse._SubParsersAction) -> None:
    """Add ``benchmark`` to the ``al`` subparsers."""
    b = sub.add_parser(
        "benchmark",
        help="compare AL strategies: Hippocampus-like synthetic data, 4 seeds, 5 rounds, "
        "3 budgets (one GPU)",
        description="Run the documented AL benchmark (resumable): 5 strategies x 4 seeds x 3 "
        "budgets (query sizes 20/40/80), 5 rounds each, an ensemble of 3 U-Nets per round, "
        "plus full-data references; then write the report. Sized for one GPU; use --dry-run "
        "to see the plan and --write-config to edit the configuration.",
    )
    b.add_argument("--out", help="experiment folder (default: ./al_hippocampus_synth)")
    b.add_argument("--workers", type=int, default=1, help="worker processes (share the GPU)")
    b.add_argument("--dry-run", action="store_true", help="validate and print the plan only")
    b.add_argument(
        "--smoke",
        action="store_true",
        help="tiny CPU pipeline check (a few minutes; no comparison)",
    )
    b.add_argument("--write-config", metavar="PATH", help="copy the config file to PATH")
    b.add_argument("--strategy", action="append", help="only this strategy (repeat)")
    b.add_argument("--seed", action="append", type=int, help="only this seed (repeat)")
    b.add_argument("--setting", action="append", help="only this budget: low/medium/high")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd)
