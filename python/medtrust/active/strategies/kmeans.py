"""``kmeans_bald``: BALD candidates, diversified by k-means++ seeding on model features.

As nnActive's KMeansBALD: per image ``2 x n_patch_per_image`` BALD candidates (best
non-overlapping boxes); each candidate is represented by the mean of the model's feature map
over its box (the feature map may be coarser than the image: the box is scaled to it); the
features are divided by their standard deviation over the candidates (+1e-6, no centring) and
k-means++ seeding picks q candidates: the first uniformly at random, each next one with
probability proportional to its squared distance to the nearest one picked. The pool needs a
``features`` source (:class:`~medtrust.active.Pool`). In the AL loop the features are the
bottleneck of the first ensemble member (the encoder over non-overlapping tiles: the built-in
``unet`` backend's, :meth:`~medtrust.active.trainers.unet.UNetPredictor.features`, or the
trained nnU-Net network's, :meth:`~medtrust.active.trainers.nnunet.NnUNetPredictor.features`);
one member, because the members' feature spaces are not comparable.

Examples
--------
>>> import numpy as np
>>> from medtrust.active import Pool, get_strategy
>>> rng = np.random.default_rng(0)
>>> p = rng.dirichlet(np.ones(2), size=(2, 8, 8, 8)).astype(np.float32)
>>> pool = Pool.from_arrays({"a": np.moveaxis(p, -1, 1)},
...                         features={"a": rng.normal(size=(4, 4, 4, 4)).astype(np.float32)})
>>> len(get_strategy("kmeans_bald", patch_size=4, stride=2).query(pool, size=3).patches)
3
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from medtrust.active._common import STRATUM_CODES, generator
from medtrust.active.strategies.base import QueryContext, Strategy
from medtrust.active.strategies.uncertainty import _map_grid, image_candidates, noisy_keys

__all__ = ["KMeansBALDStrategy", "kmeans_pp_seeds"]

_KMEANS_STREAM = 0x4B4D_0001


def kmeans_pp_seeds(x: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Indices of ``k`` k-means++ seeds among the rows of ``x`` (standardised, no centring).

    Rows already picked have distance 0 and are never picked again; when every remaining
    distance is 0 (duplicates), the next seed is uniform among the rows not picked yet.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    k = min(k, n)
    if k == 0:
        return []
    x = x / (x.std(axis=0)[None, :] + 1e-6)
    picked = [int(rng.integers(n))]
    d2 = ((x - x[picked[0]]) ** 2).sum(1)
    while len(picked) < k:
        total = d2.sum()
        if total > 0:
            i = int(rng.choice(n, p=d2 / total))
        else:
            rest = np.setdiff1d(np.arange(n), picked)
            i = int(rest[rng.integers(len(rest))])
        picked.append(i)
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(1))
    return picked


def _box_feature(features: np.ndarray, start: tuple[int, ...], size: tuple[int, ...],
                 shape: tuple[int, ...]) -> np.ndarray:  # fmt: skip
    """Mean feature over a box, the box scaled to the feature map's grid (at least 1 cell)."""
    sl = []
    for a, n, s, f in zip(start, size, shape, features.shape[1:]):
        lo = math.floor(a * f / s)
        hi = max(math.ceil((a + n) * f / s), lo + 1)
        sl.append(slice(lo, min(hi, f)))
    return features[(slice(None), *sl)].reshape(features.shape[0], -1).mean(1)


class KMeansBALDStrategy(Strategy):
    """BALD candidates diversified by k-means++ on box features (see the module docstring)."""

    needs_uncertainty = True
    needs_features = True

    def __init__(self, **common: Any) -> None:
        super().__init__(**common)
        self.uncertainty = "bald"  # the map of the candidates (read by _map_grid)

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        rows: list[int] = []
        feats: list[np.ndarray] = []
        for image_id in ctx.pool.sorted_ids():
            grid = _map_grid(self, ctx, image_id)
            k = noisy_keys(grid, math.inf, ctx.seed, [])
            got = image_candidates(
                self, ctx, image_id, grid, k, ctx.blocked(image_id),
                2 * self.per_image(ctx.size), "bald",
            )  # fmt: skip
            if got:
                fmap = ctx.pool.feature_map(image_id)
                shape = ctx.pool.shapes[image_id]
                for r in got:
                    p = ctx.candidates[r]["_patch"]
                    feats.append(_box_feature(fmap, p.start, p.size, shape))
            rows += got
        rng = generator(ctx.seed, ctx.round_index, _KMEANS_STREAM, STRATUM_CODES["bald"])
        picks = kmeans_pp_seeds(np.stack(feats) if feats else np.zeros((0, 1)), ctx.size, rng)
        chosen = [rows[i] for i in picks]
        if len(chosen) < ctx.size:
            ctx.shortfall_cause = (
                f"only {len(rows)} BALD candidates ({2 * self.per_image(ctx.size)} per image at "
                "most, fewer where no room is left)"
            )
        return chosen, {"all": {"requested": ctx.size, "achieved": len(chosen)}}
