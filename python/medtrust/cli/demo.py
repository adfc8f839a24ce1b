"""``medtrust demo``: every job end to end on embedded synthetic data.

Each job contributes one step (``run(out, *, quick, progress) -> list[str]`` returning markdown
lines for the summary); steps are listed in :data:`DEMO_STEPS`.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from medtrust._io import atomic_write_text, progress_enabled

#: "module:function" of each demo step, in order.
DEMO_STEPS: list[str] = [
    "medtrust.selective.demo:run",
    "medtrust.failure.demo:run",
    "medtrust.vqa.demo:run",
    "medtrust.active.demo:run",
    "medtrust.active.loop.demo:run",
]


def run_demo(out: Path, *, quick: bool = False, progress: bool | None = None) -> Path:
    """Run every demo step into ``out``; returns the path of ``summary.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# medtrust demo", ""]
    show = progress_enabled(progress)
    for spec in DEMO_STEPS:
        mod, fn = spec.split(":")
        t0 = time.perf_counter()
        step_lines = getattr(importlib.import_module(mod), fn)(out, quick=quick, progress=show)
        lines += [*step_lines, "", f"_step took {time.perf_counter() - t0:.1f} s_", ""]
    summary = out / "summary.md"
    atomic_write_text(summary, "\n".join(lines) + "\n")
    return summary


def _cmd(args: argparse.Namespace) -> int:
    summary = run_demo(Path(args.out), quick=args.quick, progress=not args.no_progress)
    print(summary.read_text())
    print(f"results written to {Path(args.out).resolve()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust demo``."""
    p = sub.add_parser("demo", help="run every job on embedded synthetic data")
    p.add_argument("--out", default="demo_output", help="results folder (default: demo_output)")
    p.add_argument("--quick", action="store_true", help="smaller data (used by the tests)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd)
