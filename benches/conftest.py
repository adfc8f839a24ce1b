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


def best_of_interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeats: int = 5,
    ours_per_round: int = 1,
) -> tuple[float, float]:
    """Minimum wall times of ``ours`` and ``baseline`` (seconds), their calls alternating.

    On a shared machine whose speed drifts within a run, alternating gives both sides the
    same conditions; timing one side's repeats and then the other's does not. Each of the
    ``repeats`` rounds calls ``ours`` ``ours_per_round`` times, then ``baseline`` once: for a
    short parallel call against a long serial baseline, which averages a moment's outside
    load over its whole run while the short call can lose a core to it.
    """
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in [(0, ours)] * ours_per_round + [(1, baseline)]:
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[0], best[1]


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


_BANDWIDTH: dict[str, float] = {}


@pytest.fixture(scope="session")
def copy_bandwidth() -> dict[str, float]:
    """The machine's memory bandwidth in this run: a 512 MiB ``np.copyto`` (best of 3).

    ``read_Bps`` counts the bytes read plus written per second (each byte moved once), the
    rate the memory-bandwidth bounds of the benches divide by.
    """
    import numpy as np

    if not _BANDWIDTH:
        src = np.ones(1 << 27, np.float32)
        dst = np.zeros_like(src)
        t = best_of(lambda: np.copyto(dst, src), 3)
        _BANDWIDTH["read_Bps"] = 2 * src.nbytes / t
        _BANDWIDTH["load"] = float(Path("/proc/loadavg").read_text().split()[0])
    return _BANDWIDTH


def pytest_terminal_summary(terminalreporter):
    if not _RATIOS:
        return
    tr = terminalreporter
    tr.section("medtrust speed ratios (baseline / medtrust, same run)")
    if _BANDWIDTH:
        tr.write_line(
            f"np.copyto 512 MiB: {_BANDWIDTH['read_Bps'] / 1e9:.1f} GB/s moved; load average "
            f"{_BANDWIDTH['load']:.2f} when measured, "
            f"{Path('/proc/loadavg').read_text().split()[0]} now (2 cores)"
        )
    for r in _RATIOS:
        target = f"(target >= {r['target']}x)" if r["target"] else ""
        bound = f" (bound {r['bound_ms']} ms)" if "bound_ms" in r else ""
        tr.write_line(
            f"{r['bench']:<60} {r['medtrust_s'] * 1e3:9.1f} ms vs {r['baseline_s'] * 1e3:10.1f} ms"
            f"  = {r['ratio']:7.1f}x {target}{bound}"
        )
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "ratios.json").write_text(json.dumps(_RATIOS, indent=2))
