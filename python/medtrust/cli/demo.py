"""``medtrust demo``: every job end to end on embedded synthetic data.

Each job contributes one step (``run(out, *, quick, progress) -> list[str]`` returning markdown
lines for the summary); steps are listed in :data:`DEMO_STEPS`. A step whose optional packages
are not installed (:data:`STEP_NEEDS`) is skipped with one line naming the extra to install;
the other steps still run and ``summary.md`` is still written.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import time
from pathlib import Path

from medtrust._extras import EXTRAS, available
from medtrust._io import atomic_write_text, progress_enabled
from medtrust.exceptions import MissingExtraError

#: "module:function" of each demo step, in order.
DEMO_STEPS: list[str] = [
    "medtrust.selective.demo:run",
    "medtrust.failure.demo:run",
    "medtrust.vqa.demo:run",
    "medtrust.active.demo:run",
    "medtrust.active.loop.demo:run",
]

#: Optional top-level modules each step imports (checked before the step runs, so a skipped
#: step writes nothing); see :data:`medtrust._extras.EXTRAS` for the extra of each.
STEP_NEEDS: dict[str, tuple[str, ...]] = {
    "medtrust.selective.demo:run": ("matplotlib",),
    "medtrust.failure.demo:run": ("matplotlib", "nibabel"),
    "medtrust.vqa.demo:run": ("matplotlib",),
    "medtrust.active.demo:run": (),
    "medtrust.active.loop.demo:run": ("torch", "nibabel", "matplotlib"),
}


def missing_for(spec: str) -> list[str]:
    """The optional modules step ``spec`` needs that are not installed."""
    return [m for m in STEP_NEEDS.get(spec, ()) if not available(m)]


def _skip_line(spec: str, missing: list[str]) -> str:
    extras = sorted({EXTRAS.get(m, (m, "all"))[1] for m in missing})
    return (
        f"skipped {spec.split(':')[0]}: needs {', '.join(missing)} "
        f"(pip install 'medtrust[{','.join(extras)}]')"
    )


def run_demo(out: Path, *, quick: bool = False, progress: bool | None = None) -> Path:
    """Run every demo step into ``out``; returns the path of ``summary.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# medtrust demo", ""]
    show = progress_enabled(progress)
    for spec in DEMO_STEPS:
        mod, fn = spec.split(":")
        missing = missing_for(spec)
        if missing:
            skip = _skip_line(spec, missing)
            logging.getLogger("medtrust").warning(skip)
            lines += [f"_{skip}_", ""]
            continue
        t0 = time.perf_counter()
        try:
            step_lines = getattr(importlib.import_module(mod), fn)(out, quick=quick, progress=show)
        except MissingExtraError as e:  # a need STEP_NEEDS does not list: still one line
            logging.getLogger("medtrust").warning(f"skipped {mod}: {e}")
            lines += [f"_skipped {mod}: {e}_", ""]
            continue
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
