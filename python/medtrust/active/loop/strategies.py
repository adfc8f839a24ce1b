"""The loop's bridge to the query strategies of :mod:`medtrust.active`.

The loop calls :func:`check_strategy` while validating a config and :func:`run_query` once per
round (the starting budget included); round files are ``medtrust.active``'s nnActive-compatible
``loop_XXX.json``.

Examples
--------
>>> from medtrust.active.loop.strategies import check_strategy, needs_uncertainty
>>> check_strategy("random_fg33", role="strategy")
>>> needs_uncertainty("clasp_pe"), needs_uncertainty("random_fg33_all_classes")
(True, False)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtrust.active import Patch, Pool, get_strategy, list_strategies, read_round, write_round
from medtrust.exceptions import ConfigError

__all__ = [
    "QueryContext",
    "check_strategy",
    "needs_uncertainty",
    "read_round_file",
    "run_query",
    "strategy_names",
    "write_round_file",
]


@dataclass
class QueryContext:
    """Everything a strategy may use in one round."""

    cases: list[str]
    shapes: dict[str, tuple[int, int, int]]
    annotated: dict[str, list[Patch]]
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


def strategy_names() -> list[str]:
    """Registered strategy names (query and starting-budget)."""
    return sorted(list_strategies())


def check_strategy(name: str, *, role: str) -> None:
    """Raise :class:`ConfigError` for an unknown strategy name."""
    names = strategy_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown {role} {name!r}{hint}; known: {names}")


def _strategy(name: str, ctx: QueryContext) -> Any:
    opts = dict(ctx.options)
    common = {
        "patch_size": ctx.patch_size,
        "stride": ctx.stride,
        "n_patch_per_image": ctx.n_patch_per_image,
    }
    s = get_strategy(name, **common, **opts)
    if hasattr(s, "query_steps") and "query_steps" not in opts:
        # ClaSP's beta schedule runs over the experiment's training rounds.
        s = get_strategy(name, **common, query_steps=max(ctx.query_steps, 2), **opts)
    return s


def needs_uncertainty(name: str) -> bool:
    """Whether the strategy reads model predictions."""
    return bool(get_strategy(name, patch_size=(1, 1, 1)).needs_uncertainty)


def run_query(name: str, ctx: QueryContext) -> tuple[list[Patch], dict[str, Any]]:
    """Run strategy ``name`` for one round; returns the new patches and a JSON-able log."""
    pool = Pool(tuple(ctx.cases), ctx.shapes, uncertainty=ctx.uncertainty, labels=ctx.ground_truth)
    annotated = [p for patches in ctx.annotated.values() for p in patches]
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
    return list(res.patches), info


def write_round_file(path: Path, patches: Sequence[Patch], *, file_ending: str) -> None:
    """Write an nnActive-compatible round file (atomically)."""
    write_round(path, patches, file_ending=file_ending)


def read_round_file(path: Path, *, file_ending: str) -> list[Patch]:
    """Read a round file written by :func:`write_round_file`."""
    return list(read_round(path))
