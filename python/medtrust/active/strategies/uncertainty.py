"""Uncertainty strategies: top scores, power sampling and soft-rank sampling.

Registry names: ``pe``, ``bald``, ``exp_entropy`` (top scores of predictive entropy, mutual
information and expected entropy), ``power_pe``, ``power_bald`` (power sampling, beta = 1),
``power_bald_b5`` / ``_b10`` / ``_b20`` / ``_b40`` (beta = 5, 10, 20, 40), ``softrank_bald``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from medtrust import _native
from medtrust.active._common import STRATUM_CODES, image_key
from medtrust.active.grids import score_grids
from medtrust.active.patch import Patch
from medtrust.active.selection import greedy_boxes
from medtrust.active.strategies.base import (
    QueryContext,
    Strategy,
    finite_or_none,
    take_best,
)
from medtrust.exceptions import InvalidArgumentError

__all__ = ["SoftRankStrategy", "TopScoreStrategy"]

_MAPS = {"pe": "pe", "bald": "mi", "ee": "ee"}


def image_candidates(
    strategy: Strategy,
    ctx: QueryContext,
    image_id: str,
    grid: np.ndarray,
    keys: np.ndarray,
    blocked: list[Patch],
    n: int,
    stratum: str,
) -> list[int]:
    """Greedy non-overlapping pick of ``n`` positions of one image by ``keys``.

    Logs the picks as candidates and extends ``blocked``; returns the candidate rows.
    """
    picks = greedy_boxes(
        keys,
        image_id,
        ctx.pool.shapes[image_id],
        patch_size=strategy.patch_size,
        stride=strategy.stride,
        clip=strategy.clip,
        blocked=blocked,
        n=n,
        ties=strategy.ties,
    )
    rows = []
    flat_scores = grid.reshape(-1)
    flat_keys = keys.reshape(-1)
    for i, p in picks:
        blocked.append(p)
        rows.append(
            ctx.add_candidate(
                p, stratum, float(flat_scores[i]), finite_or_none(float(flat_keys[i]))
            )
        )
    return rows


def _map_grid(strategy: Any, ctx: QueryContext, image_id: str) -> np.ndarray:
    """Patch-score grid of the strategy's one uncertainty map for one image."""
    acc = ctx.pool.accumulator(image_id, kinds=[_MAPS[strategy.uncertainty]])
    grids, _, _ = score_grids(
        acc,
        [(_MAPS[strategy.uncertainty], None)],
        patch_size=strategy.patch_size,
        stride=strategy.stride,
        clip=strategy.clip,
    )
    return grids[0]


def noisy_keys(scores: np.ndarray, beta: float, seed: int, ids: list[int]) -> np.ndarray:
    """``log S + Gumbel(0, 1/beta)`` per position (``beta = inf``: ``log S``)."""
    flat = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    return _native.power_noise(flat, beta, seed, ids).reshape(scores.shape)


class TopScoreStrategy(Strategy):
    """Top (noisy) scores of one map: per image, then over all images.

    Per image the ``n_patch_per_image`` best non-overlapping boxes by (noisy) score are kept;
    the query takes the best of all images.

    ``beta = inf`` (``pe``, ``bald``): plain top scores. Finite ``beta`` (``power_pe``,
    ``power_bald``, default 1): keys ``log S + Gumbel(0, 1/beta)`` drawn per patch position,
    i.e. sampling without replacement with P proportional to ``S^beta``.
    """

    needs_uncertainty = True

    def __init__(self, *, uncertainty: str, beta: float = math.inf, **common: Any) -> None:
        super().__init__(**common)
        if uncertainty not in _MAPS:
            raise InvalidArgumentError(f"uncertainty must be pe, bald or ee, got {uncertainty!r}")
        if not (isinstance(beta, (int, float)) and beta > 0):
            raise InvalidArgumentError(f"beta must be > 0 (inf for no noise), got {beta!r}")
        self.uncertainty = uncertainty
        self.power_beta = float(beta)

    def _extra_config(self) -> dict[str, Any]:
        b = self.power_beta
        return {"uncertainty": self.uncertainty, "beta": "inf" if math.isinf(b) else b}

    def beta(self, round_index: int) -> float | None:
        """The constant power-sampling beta (inf = no noise)."""
        return self.power_beta

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        rows: list[int] = []
        keys: list[float] = []
        code = STRATUM_CODES[self.uncertainty]
        for image_id in ctx.pool.sorted_ids():
            grid = _map_grid(self, ctx, image_id)
            k = noisy_keys(
                grid, self.power_beta, ctx.seed, [ctx.round_index, image_key(image_id), code]
            )
            blocked = ctx.blocked(image_id)
            got = image_candidates(
                self,
                ctx,
                image_id,
                grid,
                k,
                blocked,
                self.per_image(ctx.size),
                self.uncertainty,
            )
            rows += got
            keys += [_key_of(ctx, r) for r in got]
        order = take_best(keys, ctx.size)
        chosen = [rows[i] for i in order]
        if len(chosen) < ctx.size:
            ctx.shortfall_cause = _candidate_cause(self, ctx, len(rows), self.per_image(ctx.size))
        return chosen, {"all": {"requested": ctx.size, "achieved": len(chosen)}}


def _candidate_cause(strategy: Strategy, ctx: QueryContext, n_rows: int, per_image: int) -> str:
    """The true cause of a short query of a per-image-candidate strategy."""
    n_images = len(ctx.pool.image_ids)
    if n_rows >= n_images * per_image:
        return (
            f"{n_images} image(s) x {per_image} candidates per image (n_patch_per_image) "
            f"give only {n_rows} candidates; raise n_patch_per_image or pass None (= query size)"
        )
    return (
        f"the images yield only {n_rows} candidates: the others have no room left for "
        f"non-overlapping boxes on the pooling grid (stride {strategy.stride})"
    )


def _key_of(ctx: QueryContext, row: int) -> float:
    k = ctx.candidates[row]["key"]
    return -math.inf if k is None else float(k)


class SoftRankStrategy(Strategy):
    """``softrank_bald``: Gumbel sampling on the global rank of BALD candidates.

    Per image ``2 x n_patch_per_image`` BALD candidates (best non-overlapping); all candidates
    are ranked globally by BALD (rank 1 = best) and the query is the top-k of
    ``-log(rank) + Gumbel(0, 1)``.
    """

    needs_uncertainty = True

    def __init__(self, *, uncertainty: str = "bald", **common: Any) -> None:
        super().__init__(**common)
        if uncertainty not in _MAPS:
            raise InvalidArgumentError(f"uncertainty must be pe, bald or ee, got {uncertainty!r}")
        self.uncertainty = uncertainty

    def _extra_config(self) -> dict[str, Any]:
        return {"uncertainty": self.uncertainty}

    def beta(self, round_index: int) -> float | None:
        """Gumbel scale 1 on -log(rank)."""
        return 1.0

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        rows: list[int] = []
        for image_id in ctx.pool.sorted_ids():
            grid = _map_grid(self, ctx, image_id)
            k = noisy_keys(grid, math.inf, ctx.seed, [])
            rows += image_candidates(
                self,
                ctx,
                image_id,
                grid,
                k,
                ctx.blocked(image_id),
                2 * self.per_image(ctx.size),
                self.uncertainty,
            )
        if not rows:
            ctx.shortfall_cause = _candidate_cause(self, ctx, 0, 2 * self.per_image(ctx.size))
            return [], {"all": {"requested": ctx.size, "achieved": 0}}
        scores = np.array([ctx.candidates[r]["score"] for r in rows], dtype=np.float64)
        by_score = take_best(scores, len(scores))
        rank = np.empty(len(rows), dtype=np.float64)
        rank[np.asarray(by_score)] = np.arange(1, len(rows) + 1)
        keys = _native.power_noise(
            1.0 / rank, 1.0, ctx.seed, [ctx.round_index, STRATUM_CODES["softrank"]]
        )
        for r, kv in zip(rows, keys):
            ctx.candidates[r]["key"] = float(kv)
        order = take_best(keys, ctx.size)
        chosen = [rows[i] for i in order]
        if len(chosen) < ctx.size:
            ctx.shortfall_cause = _candidate_cause(
                self, ctx, len(rows), 2 * self.per_image(ctx.size)
            )
        return chosen, {"all": {"requested": ctx.size, "achieved": len(chosen)}}
