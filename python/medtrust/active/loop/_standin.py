"""Small numpy stand-ins for the query strategies.

Used by the loop only while ``medtrust.active`` (query strategies, Rust patch scoring) is not
installed; same names and semantics as the spec, simpler code
(numpy summed-area tables, Python selection loops).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtrust.active.loop.strategies import Box, QueryContext


def _rng(ctx: QueryContext, name: str, *extra: int) -> np.random.Generator:
    return np.random.default_rng([ctx.seed, ctx.round_index + 1, zlib.crc32(name.encode()), *extra])


def _size(ctx: QueryContext, case: str) -> tuple[int, int, int]:
    return tuple(min(p, s) for p, s in zip(ctx.patch_size, ctx.shapes[case]))  # type: ignore[return-value]


def _overlap(a0: tuple[int, ...], asz: tuple[int, ...], b: Box) -> bool:
    return all(x < y + n and y < x + m for x, m, y, n in zip(a0, asz, b.start, b.size))


def _free(ctx: QueryContext, taken: dict[str, list[Box]], case: str, start: Any, size: Any) -> bool:
    return not any(
        _overlap(tuple(start), tuple(size), b)
        for b in [*ctx.annotated.get(case, []), *taken.get(case, [])]
    )


def _centred(ctx: QueryContext, case: str, centre: Any) -> tuple[int, int, int]:
    size = _size(ctx, case)
    return tuple(
        int(min(max(c - s // 2, 0), n - s))  # type: ignore[return-value]
        for c, s, n in zip(centre, size, ctx.shapes[case])
    )


def _random_voxel(rng: np.random.Generator, mask: np.ndarray) -> tuple[int, ...] | None:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    return tuple(int(v) for v in np.unravel_index(int(idx[rng.integers(idx.size)]), mask.shape))


def _random_fill(
    ctx: QueryContext,
    n: int,
    areas: list[str],
    name: str,
    taken: dict[str, list[Box]],
    salt: int = 0,
) -> list[Box]:
    from scipy.ndimage import binary_erosion

    rng = _rng(ctx, name, salt)
    order = list(rng.permutation(ctx.cases))
    failures = dict.fromkeys(order, 0)
    out: list[Box] = []
    i = 0
    while len(out) < n and any(f < 600 for f in failures.values()):
        case = order[i % len(order)]
        i += 1
        if failures[case] >= 600:
            continue
        size = _size(ctx, case)
        area = areas[int(rng.integers(len(areas)))]
        start = None
        if area in ("class", "border"):
            gt = np.asarray(ctx.ground_truth(case))
            present = [c for c in range(1, ctx.n_classes) if (gt == c).any()]
            if present:
                mask = gt == present[int(rng.integers(len(present)))]
                if area == "border":
                    mask = mask & ~binary_erosion(mask)
                v = _random_voxel(rng, mask)
                start = _centred(ctx, case, v) if v is not None else None
        if start is None:
            start = tuple(int(rng.integers(0, s - p + 1)) for s, p in zip(ctx.shapes[case], size))
        if _free(ctx, taken, case, start, size):
            b = Box(case, start, size)  # type: ignore[arg-type]
            out.append(b)
            taken.setdefault(case, []).append(b)
        else:
            failures[case] += 1
    return out


def _all_classes(ctx: QueryContext, name: str, taken: dict[str, list[Box]]) -> list[Box]:
    rng = _rng(ctx, name, 1)
    counts = np.zeros(ctx.n_classes, np.int64)
    for c in ctx.cases:
        counts += np.bincount(np.asarray(ctx.ground_truth(c)).ravel(), minlength=ctx.n_classes)[
            : ctx.n_classes
        ]
    out: list[Box] = []
    for label in np.argsort(counts, kind="stable"):
        if counts[label] == 0:
            continue
        used: set[str] = set()
        for _ in range(2):
            cands = [
                c
                for c in rng.permutation(ctx.cases)
                if c not in used and (np.asarray(ctx.ground_truth(c)) == label).any()
            ]
            for case in cands:
                v = _random_voxel(rng, np.asarray(ctx.ground_truth(case)) == label)
                start = _centred(ctx, case, v)
                if _free(ctx, taken, case, start, _size(ctx, case)):
                    b = Box(case, start, _size(ctx, case))
                    out.append(b)
                    taken.setdefault(case, []).append(b)
                    used.add(case)
                    break
            if len(out) >= ctx.query_size:
                return out
    return out


def _patch_scores(
    vmap: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[np.ndarray, list[np.ndarray]]:
    sat = np.pad(
        np.cumsum(np.cumsum(np.cumsum(vmap.astype(np.float64), 0), 1), 2), ((1, 0), (1, 0), (1, 0))
    )
    starts = [np.arange(0, n - p + 1, s) for n, p, s in zip(vmap.shape, size, stride)]
    z, y, x = np.meshgrid(*starts, indexing="ij")
    dz, dy, dx = size
    total = (
        sat[z + dz, y + dy, x + dx]
        - sat[z, y + dy, x + dx]
        - sat[z + dz, y, x + dx]
        - sat[z + dz, y + dy, x]
        + sat[z, y, x + dx]
        + sat[z, y + dy, x]
        + sat[z + dz, y, x]
        - sat[z, y, x]
    )
    return total / float(np.prod(size)), starts


def _candidates(
    ctx: QueryContext,
    case: str,
    vmap: np.ndarray,
    n: int,
    beta: float | None,
    rng: np.random.Generator,
    taken: dict[str, list[Box]],
) -> list[tuple[float, Box]]:
    size = _size(ctx, case)
    scores, starts = _patch_scores(vmap, size, ctx.stride)
    flat = scores.ravel()
    if beta is not None:
        flat = np.log(np.maximum(flat, 1e-30)) + rng.gumbel(0.0, 1.0 / beta, flat.size)
    order = np.lexsort((np.arange(flat.size), -flat))
    out: list[tuple[float, Box]] = []
    local: dict[str, list[Box]] = {case: list(taken.get(case, []))}
    for i in order:
        idx = np.unravel_index(int(i), scores.shape)
        start = tuple(int(starts[a][idx[a]]) for a in range(3))
        if _free(ctx, local, case, start, size):
            b = Box(case, start, size)  # type: ignore[arg-type]
            out.append((float(flat[i]), b))
            local[case].append(b)
            if len(out) >= n:
                break
    return out


def _map_query(ctx: QueryContext, kind: str, beta: float | None, name: str) -> list[Box]:
    rng = _rng(ctx, name, 2)
    cands: list[tuple[float, Box]] = []
    assert ctx.uncertainty is not None
    for case in ctx.cases:
        vmap = np.asarray(ctx.uncertainty(case).maps([(kind, None)])[0])
        cands += _candidates(ctx, case, vmap, ctx.n_patch_per_image, beta, rng, {})
    cands.sort(key=lambda t: -t[0])
    return [b for _, b in cands[: ctx.query_size]]


def _clasp(ctx: QueryContext, name: str, constant_beta: bool) -> tuple[list[Box], dict[str, Any]]:
    rng = _rng(ctx, name, 3)
    steps = max(ctx.options.get("query_steps", ctx.query_steps), 2)
    beta = 1.0 if constant_beta else 100.0 ** (ctx.round_index / (steps - 1))
    n_fg = ctx.n_classes - 1
    per_class = max(int(ctx.n_patch_per_image * 0.66 / (n_fg + 1)), 1)
    per_pe = max(int(ctx.n_patch_per_image * 0.34), 1)
    strata: dict[str, list[tuple[float, Box]]] = {f"class_{c}": [] for c in range(1, n_fg + 1)}
    strata["pe"] = []
    assert ctx.uncertainty is not None
    for case in ctx.cases:
        acc = ctx.uncertainty(case)
        taken: dict[str, list[Box]] = {}
        for s in rng.permutation(list(strata)):
            kind = ("pe", None) if s == "pe" else ("class_pe", int(s.split("_")[1]))
            vmap = np.asarray(acc.maps([kind])[0])
            got = _candidates(ctx, case, vmap, per_pe if s == "pe" else per_class, beta, rng, taken)
            strata[s] += got
            taken.setdefault(case, []).extend(b for _, b in got)
    q = ctx.query_size
    n_class = int(0.66 * q)
    quota = {f"class_{c}": n_class // n_fg for c in range(1, n_fg + 1)}
    for c in rng.choice(np.arange(1, n_fg + 1), n_class - sum(quota.values()), replace=False):
        quota[f"class_{c}"] += 1
    quota["pe"] = q - n_class
    chosen: list[Box] = []
    achieved = {}
    leftovers: list[tuple[float, Box]] = []
    for s, cands in strata.items():
        cands.sort(key=lambda t: -t[0])
        picked = 0
        for score, b in cands:
            if picked < quota[s] and all(
                not _overlap(b.start, b.size, o) for o in chosen if o.case == b.case
            ):
                chosen.append(b)
                picked += 1
            else:
                leftovers.append((score, b))
        achieved[s] = picked
    leftovers.sort(key=lambda t: -t[0])
    for _, b in leftovers:
        if len(chosen) >= q:
            break
        if all(not _overlap(b.start, b.size, o) for o in chosen if o.case == b.case):
            chosen.append(b)
    return chosen, {
        "beta": beta,
        "requested": quota,
        "achieved": achieved,
        "filled": len(chosen) - sum(achieved.values()),
    }


@dataclass(frozen=True)
class _Strategy:
    needs_uncertainty: bool
    fn: Callable[[QueryContext], tuple[list[Box], dict[str, Any]]]

    def query(self, ctx: QueryContext) -> tuple[list[Box], dict[str, Any]]:
        return self.fn(ctx)


_AREAS = {
    "random": ["all"],
    "random_fg66": ["all", "class", "border"],
    "random_fg33": ["all"] * 4 + ["class", "border"],
}


def _random_strategy(name: str, all_classes: bool) -> _Strategy:
    base = name.removesuffix("_all_classes")

    def fn(ctx: QueryContext) -> tuple[list[Box], dict[str, Any]]:
        taken: dict[str, list[Box]] = {}
        first = _all_classes(ctx, name, taken) if all_classes else []
        rest = _random_fill(ctx, ctx.query_size - len(first), _AREAS[base], name, taken)
        return [*first, *rest], {"all_classes_patches": len(first), "standin": True}

    return _Strategy(False, fn)


def _map_strategy(kind: str, power: bool) -> _Strategy:
    def fn(ctx: QueryContext) -> tuple[list[Box], dict[str, Any]]:
        return _map_query(ctx, kind, 1.0 if power else None, f"{kind}{power}"), {"standin": True}

    return _Strategy(True, fn)


STRATEGIES: dict[str, _Strategy] = {
    **{n: _random_strategy(n, False) for n in _AREAS},
    **{f"{n}_all_classes": _random_strategy(f"{n}_all_classes", True) for n in _AREAS},
    "pe": _map_strategy("pe", False),
    "bald": _map_strategy("mi", False),
    "power_pe": _map_strategy("pe", True),
    "power_bald": _map_strategy("mi", True),
    "clasp_pe": _Strategy(True, lambda ctx: _clasp(ctx, "clasp_pe", False)),
    "clap_pe": _Strategy(True, lambda ctx: _clasp(ctx, "clap_pe", True)),
}
