"""The loop's bridge to the query strategies and the uncertainty accumulator.

The loop calls :func:`check_strategy` while validating a config and :func:`run_query` once per
round; :func:`accumulator_class` gives the streaming accumulator. They use
``medtrust.active`` / ``medtrust.uncertainty`` when those are installed and otherwise the small
stand-ins of :mod:`medtrust.active.loop._standin` (numpy, same names and semantics).

Examples
--------
>>> from medtrust.active.loop.strategies import check_strategy
>>> check_strategy("random_fg33", role="strategy")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtrust.exceptions import ConfigError

__all__ = [
    "Box",
    "QueryContext",
    "check_strategy",
    "read_round_file",
    "run_query",
    "strategy_names",
    "write_round_file",
]


@dataclass(frozen=True)
class Box:
    """An annotated patch: case, start ``[z, y, x]`` and size (clipped to the image)."""

    case: str
    start: tuple[int, int, int]
    size: tuple[int, int, int]


@dataclass
class QueryContext:
    """Everything a strategy may use in one round."""

    cases: list[str]
    shapes: dict[str, tuple[int, int, int]]
    annotated: dict[str, list[Box]]
    ground_truth: Callable[[str], np.ndarray]
    uncertainty: Callable[[str], Any] | None
    n_classes: int
    patch_size: tuple[int, int, int]
    stride: tuple[int, int, int]
    n_patch_per_image: int
    query_size: int
    round_index: int
    query_steps: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)


def _query_side() -> Any | None:
    """``medtrust.active`` when it has the query strategies (``get_strategy``), else None."""
    import medtrust.active as active

    return active if hasattr(active, "get_strategy") else None


def strategy_names() -> list[str]:
    """Registered strategy names (query and starting-budget)."""
    active = _query_side()
    if active is not None:
        return sorted(active.list_strategies())
    from medtrust.active.loop import _standin

    return sorted(_standin.STRATEGIES)


def check_strategy(name: str, *, role: str) -> None:
    """Raise :class:`ConfigError` for an unknown strategy name."""
    names = strategy_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown {role} {name!r}{hint}; known: {names}")


def _strategy(name: str, ctx: QueryContext | None = None) -> Any:
    active = _query_side()
    assert active is not None
    if ctx is None:
        return active.get_strategy(name, patch_size=(1, 1, 1))
    opts = dict(ctx.options)
    s = active.get_strategy(
        name,
        patch_size=ctx.patch_size,
        stride=ctx.stride,
        n_patch_per_image=ctx.n_patch_per_image,
        **opts,
    )
    if hasattr(s, "query_steps") and "query_steps" not in opts:
        # ClaSP's beta schedule runs over the experiment's training rounds.
        s = active.get_strategy(
            name,
            patch_size=ctx.patch_size,
            stride=ctx.stride,
            n_patch_per_image=ctx.n_patch_per_image,
            query_steps=max(ctx.query_steps, 2),
            **opts,
        )
    return s


def needs_uncertainty(name: str) -> bool:
    """Whether the strategy reads model predictions."""
    if _query_side() is not None:
        return bool(_strategy(name).needs_uncertainty)
    from medtrust.active.loop import _standin

    return _standin.STRATEGIES[name].needs_uncertainty


def run_query(name: str, ctx: QueryContext) -> tuple[list[Box], dict[str, Any]]:
    """Run strategy ``name`` for one round; returns the new boxes and a JSON-able log."""
    active = _query_side()
    if active is None:
        from medtrust.active.loop import _standin

        return _standin.STRATEGIES[name].query(ctx)
    import warnings

    pool = active.Pool(
        tuple(ctx.cases), ctx.shapes, uncertainty=ctx.uncertainty, labels=ctx.ground_truth
    )
    annotated = [
        active.Patch(b.case, b.start, b.size) for boxes in ctx.annotated.values() for b in boxes
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _strategy(name, ctx).query(
            pool, annotated, size=ctx.query_size, round_index=ctx.round_index, seed=ctx.seed
        )
    log = res.log
    info = {
        "strategy": log.strategy,
        "config": log.config,
        "beta": log.beta,
        "requested": log.requested,
        "quotas": log.quotas,
        "messages": list(log.messages),
        "warnings": [str(w.message) for w in caught],
        "n_candidates": len(log.candidates),
    }
    return [Box(p.image_id, p.start, p.size) for p in res.patches], info


def write_round_file(path: Path, boxes: Sequence[Box], *, file_ending: str) -> None:
    """Write an nnActive-compatible round file ``{"patches": [{file, coords, size}]}``."""
    from medtrust.cli._common import atomic_write_json

    atomic_write_json(
        Path(path),
        {
            "patches": [
                {"file": f"{b.case}{file_ending}", "coords": list(b.start), "size": list(b.size)}
                for b in boxes
            ]
        },
    )


def read_round_file(path: Path, *, file_ending: str) -> list[Box]:
    """Read a round file written by :func:`write_round_file`."""
    raw = json.loads(Path(path).read_text())
    out = []
    for p in raw["patches"]:
        f = p["file"]
        case = f[: -len(file_ending)] if f.endswith(file_ending) else f
        out.append(
            Box(
                case,
                tuple(int(v) for v in p["coords"]),  # type: ignore[arg-type]
                tuple(int(v) for v in p["size"]),
            )
        )  # type: ignore[arg-type]
    return out
