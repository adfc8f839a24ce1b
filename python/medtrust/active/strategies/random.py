"""Random baselines and the ``*_all_classes`` starting budgets.

All but ``random`` read the ground truth, as nnActive's oracle baselines do.

- ``random``: uniform box placements, round robin over a shuffled image list, no overlap; an
  image is given up after ``max_tries`` (600) failed placements.
- ``random_fg66`` / ``random_fg33``: per placement draw an area from {all, class, border}
  (fg33: {all x4, class, border}): ``class`` centres the box on a random voxel of a random
  foreground class present in the image, ``border`` on a random boundary voxel of that class
  (mask minus its erosion), ``all`` is uniform; the box is clamped into the image. Images
  without foreground use ``all``.
- ``*_all_classes``: nnActive's starting budget: first 2 patches per label (background
  included), each centred on a random voxel of that label in a randomly chosen image holding
  it. Labels are visited rarest first by the number of pool images containing them (ties: the
  smaller label value first), and an image gets at most one such patch: once it got one it
  leaves every label's list. A label present in fewer than 2 images is refused with a
  :class:`~medtrust.exceptions.DatasetError` before anything is placed (nnActive stops on an
  assertion there). The rest of the budget comes from the base strategy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtrust.active._common import check_count, generator, image_key
from medtrust.active.patch import Patch
from medtrust.active.strategies.base import QueryContext, Strategy
from medtrust.exceptions import DatasetError, InvalidArgumentError

__all__ = ["AllClassesStrategy", "RandomStrategy"]

_SHUFFLE_STREAM = 0x5A4D_0001
_IMAGE_STREAM = 0x5A4D_0002
_LABEL_STREAM = 0x5A4D_0003
AREAS = ("all", "class", "border")


class _LabelCache:
    """Per-image foreground voxel lists, computed once per query when first needed."""

    def __init__(self, ctx: QueryContext) -> None:
        self.ctx = ctx
        self._labels: dict[str, np.ndarray] = {}
        self._voxels: dict[tuple[str, int], np.ndarray] = {}
        self._border: dict[tuple[str, int], np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}

    def labels(self, image_id: str) -> np.ndarray:
        if image_id not in self._labels:
            self._labels[image_id] = self.ctx.pool.label_map(image_id)
        return self._labels[image_id]

    def counts(self, image_id: str) -> np.ndarray:
        if image_id not in self._counts:
            self._counts[image_id] = np.bincount(self.labels(image_id).reshape(-1).astype(np.int64))
        return self._counts[image_id]

    def present_fg(self, image_id: str) -> list[int]:
        c = self.counts(image_id)
        return [int(k) for k in np.flatnonzero(c) if k > 0]

    def voxels(self, image_id: str, label: int) -> np.ndarray:
        key = (image_id, label)
        if key not in self._voxels:
            self._voxels[key] = np.flatnonzero(self.labels(image_id).reshape(-1) == label)
        return self._voxels[key]

    def border(self, image_id: str, label: int) -> np.ndarray:
        key = (image_id, label)
        if key not in self._border:
            from scipy.ndimage import binary_erosion

            mask = self.labels(image_id) == label
            edge = mask & ~binary_erosion(mask)
            self._border[key] = np.flatnonzero(edge.reshape(-1))
        return self._border[key]


def _centred(
    centre: tuple[int, ...], box: tuple[int, int, int], shape: tuple[int, ...]
) -> tuple[int, int, int]:
    """Start of a box centred on ``centre``, clamped into the image."""
    return tuple(  # type: ignore[return-value]
        int(min(max(c - b // 2, 0), s - b)) for c, b, s in zip(centre, box, shape)
    )


class RandomStrategy(Strategy):
    """Uniform (``areas=("all",)``) or foreground-biased random box placement."""

    def __init__(
        self, *, areas: tuple[str, ...] = ("all",), max_tries: int = 600, **common: Any
    ) -> None:
        super().__init__(**common)
        if not areas or any(a not in AREAS for a in areas):
            raise InvalidArgumentError(f"areas must be drawn from {AREAS}, got {areas!r}")
        self.areas = tuple(areas)
        self.max_tries = check_count(max_tries, "max_tries", minimum=1)
        self.needs_labels = any(a != "all" for a in self.areas)  # type: ignore[misc]

    def _extra_config(self) -> dict[str, Any]:
        return {"areas": list(self.areas), "max_tries": self.max_tries}

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        cache = _LabelCache(ctx) if self.needs_labels else None
        chosen = self.place(ctx, cache, ctx.size, {})
        return chosen, {"all": {"requested": ctx.size, "achieved": len(chosen)}}

    def place(
        self,
        ctx: QueryContext,
        cache: _LabelCache | None,
        n: int,
        extra_blocked: dict[str, list[Patch]],
    ) -> list[int]:
        """Place ``n`` boxes round robin over a shuffled image list; returns candidate rows."""
        rng = generator(ctx.seed, ctx.round_index, _SHUFFLE_STREAM)
        ids = ctx.pool.sorted_ids()
        images = [ids[i] for i in rng.permutation(len(ids))]
        blocked = {i: ctx.blocked(i) + extra_blocked.get(i, []) for i in images}
        streams = {
            i: generator(ctx.seed, ctx.round_index, _IMAGE_STREAM, image_key(i)) for i in images
        }
        active = list(images)
        rows: list[int] = []
        fails = dict.fromkeys(images, 0)
        while len(rows) < n and active:
            still = []
            for image_id in active:
                if len(rows) >= n:
                    still.append(image_id)
                    continue
                row, area = self._place_one(
                    ctx, cache, image_id, streams[image_id], blocked[image_id]
                )
                if row is not None:
                    rows.append(row)
                    fails[image_id] = 0
                    still.append(image_id)
                    continue
                fails[image_id] += 1
                # A failed uniform search means the image is full; foreground areas can be full
                # while the rest is not, so they get more turns before the image is given up.
                if area == "all" or fails[image_id] > 3 * len(self.areas):
                    ctx.note(
                        f"gave up on image {image_id} after {self.max_tries} failed placements"
                    )
                else:
                    still.append(image_id)
            active = still
        if len(rows) < n:
            ctx.shortfall_cause = (
                f"random placement gave up on every image ({self.max_tries} failed tries per "
                "turn): the images are full or nearly full of annotated boxes"
            )
        return rows

    def _place_one(
        self,
        ctx: QueryContext,
        cache: _LabelCache | None,
        image_id: str,
        rng: np.random.Generator,
        blocked: list[Patch],
    ) -> tuple[int | None, str]:
        """One placement turn: draw the area once, then up to ``max_tries`` boxes in it."""
        shape = ctx.pool.shapes[image_id]
        box = self.box_size(shape)
        area = self.areas[int(rng.integers(len(self.areas)))]
        fg = cache.present_fg(image_id) if (area != "all" and cache is not None) else []
        if not fg:
            area = "all"  # no foreground in this image: uniform placement
        for _ in range(self.max_tries):
            start: tuple[int, int, int]
            if area != "all" and cache is not None:
                label = fg[int(rng.integers(len(fg)))]
                if area == "class":
                    vox = cache.voxels(image_id, label)
                else:
                    vox = cache.border(image_id, label)
                centre = np.unravel_index(int(vox[int(rng.integers(len(vox)))]), shape)
                start = _centred(tuple(int(c) for c in centre), box, shape)
                stratum = f"{area}_{label}"
            else:
                start = tuple(  # type: ignore[assignment]
                    int(rng.integers(0, s - b + 1)) for s, b in zip(shape, box)
                )
                stratum = "all"
            p = Patch(image_id, start, box)
            if not any(p.overlaps(b) for b in blocked):
                blocked.append(p)
                return ctx.add_candidate(p, stratum, None, None), area
        return None, area


class AllClassesStrategy(Strategy):
    """Starting budget: ``per_label`` (2) patches per label, rarest first, one per image.

    Labels are ordered by the number of pool images containing them (fewest first), as
    nnActive does; an image that received a label patch is not used for any other label. The
    base random strategy fills the rest of the query.
    """

    needs_labels = True

    def __init__(self, *, base: str = "random_fg33", per_label: int = 2, **common: Any) -> None:
        from medtrust.active.strategies.base import get_strategy

        max_tries = common.pop("max_tries", 600)
        super().__init__(**common)
        if base not in ("random", "random_fg66", "random_fg33"):
            raise InvalidArgumentError(f"base must be a random baseline, got {base!r}")
        self.base_name = base
        self.per_label = check_count(per_label, "per_label", minimum=1)
        self.base = get_strategy(base, max_tries=max_tries, **common)
        assert isinstance(self.base, RandomStrategy)

    def _extra_config(self) -> dict[str, Any]:
        return {
            "base": self.base_name,
            "per_label": self.per_label,
            "max_tries": self.base.max_tries,  # type: ignore[attr-defined]
        }

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        cache = _LabelCache(ctx)
        images = ctx.pool.sorted_ids()
        holders: dict[int, list[str]] = {}
        for i in images:
            for present in np.flatnonzero(cache.counts(i)):
                holders.setdefault(int(present), []).append(i)
        rare = {lab: len(h) for lab, h in holders.items() if len(h) < self.per_label}
        if rare:
            raise DatasetError(
                f"the {self.name or 'all_classes'} starting budget needs every label in at least "
                f"{self.per_label} pool images; label(s) "
                + ", ".join(f"{lab} (in {n} image(s))" for lab, n in sorted(rare.items()))
                + " are not; use a random starting budget or another split"
            )
        labels = sorted(holders, key=lambda lab: (len(holders[lab]), lab))  # rarest first
        chosen: list[int] = []
        new_blocked: dict[str, list[Patch]] = {}
        quotas: dict[str, dict[str, int]] = {}
        used: set[str] = set()  # images that got a label patch leave every label's list
        rng = generator(ctx.seed, ctx.round_index, _LABEL_STREAM)
        for label in labels:
            if len(chosen) >= ctx.size:
                break
            want = min(self.per_label, ctx.size - len(chosen))
            free = [i for i in holders[label] if i not in used]
            free = [free[k] for k in rng.permutation(len(free))]
            got = 0
            for image_id in free:
                if got >= want:
                    break
                row = self._centre_on(ctx, cache, image_id, label, rng, new_blocked)
                if row is not None:
                    chosen.append(row)
                    used.add(image_id)
                    got += 1
            quotas[f"label_{label}"] = {"requested": want, "achieved": got}
            if got < want:
                cause = (
                    f"only {len(free)} of its {len(holders[label])} images had no label patch yet"
                    if len(free) < want
                    else "no room for a box centred on it in the remaining images"
                )
                ctx.note(
                    f"label {label}: placed {got} of {want} starting patches ({cause}); the "
                    f"base strategy {self.base_name} fills the rest",
                    warn=True,
                )
        rest = ctx.size - len(chosen)
        if rest > 0:
            rows = self.base.place(  # type: ignore[attr-defined]
                ctx, cache if self.base.needs_labels else None, rest, new_blocked
            )
            chosen += rows
            quotas[self.base_name] = {"requested": rest, "achieved": len(rows)}
        return chosen, quotas

    def _centre_on(
        self,
        ctx: QueryContext,
        cache: _LabelCache,
        image_id: str,
        label: int,
        rng: np.random.Generator,
        new_blocked: dict[str, list[Patch]],
    ) -> int | None:
        shape = ctx.pool.shapes[image_id]
        box = self.box_size(shape)
        vox = cache.voxels(image_id, label)
        blocked = ctx.blocked(image_id) + new_blocked.get(image_id, [])
        for _ in range(self.base.max_tries):  # type: ignore[attr-defined]
            centre = np.unravel_index(int(vox[int(rng.integers(len(vox)))]), shape)
            p = Patch(image_id, _centred(tuple(int(c) for c in centre), box, shape), box)
            if not any(p.overlaps(b) for b in blocked):
                new_blocked.setdefault(image_id, []).append(p)
                return ctx.add_candidate(p, f"label_{label}", None, None)
        return None
