"""Shared bench helpers: time the plain way beside medtrust in the same run, report ratios.

Every bench records ``ratio(name, medtrust_seconds, baseline_seconds, target)``; the session
ends with a table of all ratios (also written to ``.benchmarks/ratios.json``), which is where
the README's numbers come from.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

_RATIOS: list[dict] = []


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Minimum wall time of ``repeats`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.fixture
def ratio():
    """Record (and check) one speed ratio: baseline time / medtrust time >= target."""

    def record(name: str, ours: float, baseline: float, target: float | None, **extra) -> float:
        r = baseline / ours
        _RATIOS.append(
            {
                "bench": name,
                "medtrust_s": ours,
                "baseline_s": baseline,
                "ratio": r,
                "target": target,
                **extra,
            }
        )
        if target is not None:
            assert r >= target, f"{name}: {r:.1f}x < target {target}x"
        return r

    return record


def pytest_terminal_summary(terminalreporter):
    if not _RATIOS:
        return
    tr = terminalreporter
    tr.section("medtrust speed ratios (baseline / medtrust, same run)")
    for r in _RATIOS:
        target = f"(target >= {r['target']}x)" if r["target"] else ""
        tr.write_line(
            f"{r['bench']:<60} {r['medtrust_s'] * 1e3:9.1f} ms vs {r['baseline_s'] * 1e3:10.1f} ms"
            f"  = {r['ratio']:7.1f}x {target}"
        )
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "ratios.json").write_text(json.dumps(_RATIOS, indent=2))
