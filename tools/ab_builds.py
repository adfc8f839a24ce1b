"""Time two builds of the extension against each other in one process, calls alternating.

The machine's speed drifts within minutes (10-40% on the shared 2-core machine), so a
before/after figure is only fair when both builds run in the same conditions: this loads two
built ``_native`` libraries side by side (each under its own module name) and alternates their
calls, best of ``--repeats``. Build the old one first, for example::

    git stash; cargo build --release -p medtrust-python
    cp target/release/lib_native.so /tmp/old.so; git stash pop
    cargo build --release -p medtrust-python
    python tools/ab_builds.py /tmp/old.so target/release/lib_native.so

Cases: ``metrics-1e7`` (every metric of 10^7 distinct confidences with 0/1 residuals, and
``np.sort`` of the same array in the same rounds) and ``groups-R`` (``risk_metrics`` on each of
2 x 10^6 / R groups of R rows, confidences rounded to 3 decimals, through Python: the
per-group kernel of a polars query plus the call's overhead), ``distinct-groups-R`` and
``crowded-groups-R`` (the same with distinct confidences, spread evenly or crowded near 1 as a
softmax's), and ``maps-patches`` (issue 13's
maps row: a stack of 5 members [4, 128^3] f32 accumulated with the members' entropies, then
PE / EE / MI patch means of 32^3 boxes at stride 16, as ``benches/bench_uncertainty.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from types import ModuleType

import numpy as np


def load(path: str, name: str) -> ModuleType:
    """The extension at ``path`` as a module of its own (its init symbol is ``PyInit__native``)."""
    spec = importlib.util.spec_from_file_location(f"{name}._native", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metrics_1e7(native: ModuleType, rng: np.random.Generator) -> Callable[[], object]:
    """Every metric of 10^7 distinct confidences with 0/1 residuals."""
    conf = rng.random(10**7)
    res = (rng.random(conf.size) > conf).astype(np.float64)
    return lambda: native.risk_metrics(conf, res)


def groups(
    rows: int, kind: str = "grid"
) -> Callable[[ModuleType, np.random.Generator], Callable[[], object]]:
    """``risk_metrics`` on each of 2 x 10^6 / ``rows`` groups.

    ``kind``: ``grid`` (uniform confidences rounded to 3 decimals), ``distinct`` (uniform,
    unrounded) or ``crowded`` (``1 - Exp(0.02)``: distinct and crowded near 1, as a softmax).
    """

    def case(native: ModuleType, rng: np.random.Generator) -> Callable[[], object]:
        data = []
        for _ in range(2_000_000 // rows):
            conf = {
                "grid": lambda: np.round(rng.random(rows), 3),
                "distinct": lambda: rng.random(rows),
                "crowded": lambda: np.clip(1 - rng.exponential(0.02, rows), 0.0, 1.0),
            }[kind]()
            data.append((conf, (rng.random(rows) > conf).astype(np.float64)))

        def run() -> None:
            for c, r in data:
                native.risk_metrics(c, r)

        return run

    return case


def maps_patches(native: ModuleType, rng: np.random.Generator) -> Callable[[], object]:
    """PE + EE + MI maps and 32^3 patch means of 5 softmax members [4, 128^3] (f32)."""
    m, c, shape = 5, 4, (128, 128, 128)
    members = np.empty((m, c, *shape), np.float32)
    for k in range(m):
        logits = rng.standard_normal((c, *shape), dtype=np.float32) * 2.0
        e = np.exp(logits - logits.max(axis=0))
        members[k] = e / e.sum(axis=0)
    v = int(np.prod(shape))
    kinds = [("pe", None), ("ee", None), ("mi", None)]

    def run() -> object:
        sum_p, sum_ent = native.uncertainty_state(c, v, True)
        native.uncertainty_accumulate(sum_p, sum_ent, members, c, 1e-3, first=True, n_members=m)
        return native.pool_uncertainty(
            sum_p, sum_ent, c, m, shape, kinds, (32,) * 3, (16,) * 3, True
        )

    return run


def main() -> None:
    """Parse the arguments, time both builds alternately, print the best times."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="the first build's extension (.so)")
    ap.add_argument("new", help="the second build's extension (.so)")
    ap.add_argument(
        "--case",
        default="metrics-1e7",
        help="metrics-1e7, groups-R (R rows), distinct-groups-R, crowded-groups-R, maps-patches",
    )
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    builds = {"old": load(args.old, "old"), "new": load(args.new, "new")}
    if args.case == "metrics-1e7":
        make, per = metrics_1e7, 1
    elif args.case == "maps-patches":
        make, per = maps_patches, 1
    elif "groups-" in args.case:
        kind, _, rows_text = args.case.rpartition("groups-")
        rows = int(rows_text)
        make, per = groups(rows, kind.removesuffix("-") or "grid"), 2_000_000 // rows
    else:
        raise SystemExit(f"unknown case {args.case!r}")
    # The same data for both builds (same seed); one warm-up call each.
    calls = {k: make(m, np.random.default_rng(0)) for k, m in builds.items()}
    if args.case == "metrics-1e7":
        conf = np.random.default_rng(0).random(10**7)
        calls["np.sort"] = lambda: np.sort(conf)
    for fn in calls.values():
        fn()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(args.repeats):
        for k, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    unit, scale = ("ms", 1e3) if per == 1 else ("us a group", 1e6 / per)
    print(args.case, {k: f"{v * scale:.2f} {unit}" for k, v in best.items()})
    print(f"new / old = {best['new'] / best['old']:.3f}")


if __name__ == "__main__":
    main()
