"""``medtrust al run | grid | report | validate``: the AL experiment loop.

:func:`add_loop_commands` adds the commands to the ``al`` subparser of
:mod:`medtrust.cli.active` (shared with ``al query``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medtrust._io import progress_enabled
from medtrust.cli.engine_args import add_engine_arguments, engine_options


def _out(args: argparse.Namespace, cfg: Any) -> Path:
    return Path(args.out) if args.out else Path.cwd() / f"al_{cfg.name}"


def _print_table(table: Any) -> None:
    import polars as pl

    cols = [
        "setting",
        "strategy",
        "seed",
        "round",
        "n_patches",
        "annotated_fraction",
        "fg_fraction",
        "dice_mean",
    ]
    with pl.Config(tbl_rows=200, tbl_cols=20, float_precision=4, tbl_width_chars=140):
        print(table.select([c for c in cols if c in table.columns]))


def _run(args: argparse.Namespace, *, workers: int) -> int:
    from medtrust.active.loop.config import load_config
    from medtrust.active.loop.grid import select_runs
    from medtrust.engine import run_grid

    cfg = load_config(args.config)
    cfg.validate()
    runs = select_runs(
        cfg,
        strategies=getattr(args, "strategy", None),
        seeds=getattr(args, "seed", None),
        settings=args.setting,
    )
    out = _out(args, cfg)
    engine = engine_options(args) if hasattr(args, "engine") else {"workers": workers}
    res = run_grid(
        cfg,
        out,
        runs=runs,
        progress=progress_enabled(False if args.no_progress else None),
        **engine,
    )
    if res.skipped:
        print(f"skipped {len(res.skipped)} finished run(s)")
    if res.table is not None:
        _print_table(res.table)
    for key, err in res.failed.items():
        print(f"FAILED {key}: {err}")
    print(f"results in {out / 'results.parquet'}")
    return 1 if res.failed else 0


def _cmd_run(args: argparse.Namespace) -> int:
    return _run(args, workers=1)


def _cmd_grid(args: argparse.Namespace) -> int:
    return _run(args, workers=args.workers)


def _cmd_validate(args: argparse.Namespace) -> int:
    from medtrust.active.loop.config import load_config

    cfg = load_config(args.config)
    cfg.validate()
    runs = cfg.runs()
    print(f"{args.config}: valid; {len(runs)} run(s) in {len(cfg.expand())} setting(s)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from medtrust.active.loop.report import build_report

    rep = build_report(args.dir, report_dir=args.out, full_dice=args.full_dice)
    print("\n".join(rep.lines))
    print(f"report written to {rep.files['report'].parent}")
    return 0


def add_loop_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``run``, ``grid``, ``report`` and ``validate`` to the ``al`` subparsers."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="experiment config (.yaml, .yml or .toml)")
        p.add_argument("--out", help="experiment folder (default: ./al_NAME)")
        p.add_argument("--setting", action="append", help="only this setting (repeat)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")

    r = sub.add_parser("run", help="run or resume an AL experiment in this process")
    common(r)
    r.add_argument("--strategy", action="append", help="only this strategy (repeat)")
    r.add_argument("--seed", action="append", type=int, help="only this seed (repeat)")
    r.set_defaults(func=_cmd_run)

    g = sub.add_parser(
        "grid",
        help="run strategies x seeds x settings in local worker processes or on a Ray cluster",
        description="Example: medtrust al grid exp.yaml --engine ray --address auto",
    )
    common(g)
    add_engine_arguments(g)
    g.set_defaults(func=_cmd_grid)

    v = sub.add_parser("validate", help="check a config (and its dataset) without training")
    v.add_argument("config")
    v.set_defaults(func=_cmd_validate)

    p = sub.add_parser("report", help="curves, PPM heatmap and metric table of an experiment")
    p.add_argument("dir", help="experiment folder")
    p.add_argument("--out", help="report folder (default: DIR/report)")
    p.add_argument("--full-dice", type=float, help="full-data Dice for FG-Eff")
    p.set_defaults(func=_cmd_report)
