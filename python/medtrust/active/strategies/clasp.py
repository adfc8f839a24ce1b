"""ClaSP PE (class-stratified power sampling of predictive entropy) and its ablations.

Per query round k (0-based) of ``query_steps`` training rounds:

1. strata: one per foreground class c with map ``U_c = H * p_bar(c)``, plus a PE stratum (H);
2. each stratum map is pooled into patch scores S;
3. power noising ``S' = log S + Gumbel(0, 1/beta_k)`` per stratum and position;
4. ``beta_k`` from the schedule (default ``exp``: 1, 3.162, 10, 31.62 for 5 steps);
5. per image the strata are visited in random order; a class stratum keeps
   ``max(floor(n_ppi * 0.66 / (n_fg + 1)), 1)`` candidates, the PE stratum
   ``max(floor(n_ppi * 0.34), 1)``, chosen greedily by S' without overlap (boxes of one stratum
   block the others in that image); a class with zero predicted probability everywhere in an
   image gives no candidates there;
6. the query of size q: ``floor(0.66 q)`` patches split evenly over the class strata (the
   remainder to randomly chosen classes), the rest to the PE stratum; inside a stratum the best
   candidates over all images by S'. A stratum that runs short is filled from the others
   (round robin), with a warning and requested / achieved counts in the log;
7. every random draw comes from streams derived from (seed, round[, image, stratum]).

Registry names: ``clasp_pe`` (schedule ``exp``; ``schedule="smooth"`` or ``"sharp"`` for the
sigmoid ones), ``clap_pe`` (constant beta = 1), ``class_pe`` (no noise).
"""

from __future__ import annotations

import math
from typing import Any

from medtrust.active._common import STRATUM_CODES, generator, image_key
from medtrust.active.grids import score_grids
from medtrust.active.schedule import SCHEDULES, beta_schedule
from medtrust.active.strategies.base import QueryContext, Strategy, take_best
from medtrust.active.strategies.uncertainty import image_candidates, noisy_keys
from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = ["ClaSPStrategy", "clasp_quotas"]

_ORDER_STREAM = 0xC1A5_0001
_COMPOSE_STREAM = 0xC1A5_0002


def clasp_quotas(
    size: int, n_fg: int, n_patch_per_image: int, *, class_fraction: float = 0.66
) -> dict[str, int]:
    """The quotas of ClaSP PE before the remainder is assigned.

    Parameters
    ----------
    size : int
        Number of patches of the query.
    n_fg : int
        Number of foreground classes (0: every patch goes to the PE stratum).
    n_patch_per_image : int
        Candidates kept per image over all strata.
    class_fraction : float, default 0.66
        Share of the query (and of the candidates per image) given to the class strata.

    Returns
    -------
    dict of str to int
        ``per_class`` (query patches per class stratum), ``remainder`` (classes that get one
        more), ``pe`` (query patches of the PE stratum), ``class_candidates`` and
        ``pe_candidates`` (per image and stratum, each at least 1).

    Examples
    --------
    >>> from medtrust.active.strategies.clasp import clasp_quotas
    >>> q = clasp_quotas(40, 3, 20)
    >>> q["per_class"], q["remainder"], q["pe"], q["class_candidates"], q["pe_candidates"]
    (8, 2, 14, 3, 6)
    """
    n_class_total = math.floor(class_fraction * size) if n_fg > 0 else 0
    return {
        "per_class": n_class_total // n_fg if n_fg else 0,
        "remainder": n_class_total % n_fg if n_fg else 0,
        "pe": size - n_class_total,
        "class_candidates": max(math.floor(n_patch_per_image * class_fraction / (n_fg + 1)), 1),
        "pe_candidates": max(math.floor(n_patch_per_image * (1.0 - class_fraction)), 1),
    }


class ClaSPStrategy(Strategy):
    """Class-stratified power sampling of PE (see the module docstring).

    Extra configuration: ``query_steps`` (default 5), ``schedule`` (``exp``, ``smooth``,
    ``sharp``, ``constant``, ``none``), ``beta`` (the constant schedule's value),
    ``class_fraction`` (0.66).
    """

    needs_uncertainty = True

    def __init__(
        self,
        *,
        query_steps: int = 5,
        schedule: str = "exp",
        beta: float = 1.0,
        class_fraction: float = 0.66,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if schedule not in SCHEDULES:
            raise InvalidArgumentError(
                f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}"
            )
        if not 0.0 < class_fraction < 1.0:
            raise InvalidArgumentError(f"class_fraction must be in (0, 1), got {class_fraction!r}")
        self.query_steps = int(query_steps)
        self.schedule = schedule
        self.schedule_beta = float(beta)
        self.class_fraction = float(class_fraction)
        beta_schedule(0, self.query_steps, schedule, beta=self.schedule_beta)  # type: ignore[arg-type]

    def _extra_config(self) -> dict[str, Any]:
        return {
            "query_steps": self.query_steps,
            "schedule": self.schedule,
            "beta": self.schedule_beta,
            "class_fraction": self.class_fraction,
        }

    def beta(self, round_index: int) -> float | None:
        """beta_k of the configured schedule (inf for ``class_pe``)."""
        return beta_schedule(
            round_index,
            self.query_steps,
            self.schedule,  # type: ignore[arg-type]
            beta=self.schedule_beta,
        )

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        beta = self.beta(ctx.round_index)
        assert beta is not None
        n_classes: int | None = None
        strata: list[str] = []
        by_stratum: dict[str, list[int]] = {}
        keys: dict[int, float] = {}
        quotas: dict[str, int] = {}
        absent: dict[str, int] = {}
        for image_id in ctx.pool.sorted_ids():
            # PE and U_c only: the source keeps no members' entropies (issue 13).
            acc = ctx.pool.accumulator(image_id, kinds=["pe", "class_pe"])
            if n_classes is None:
                n_classes = int(acc.n_classes or 0)
                n_fg = n_classes - 1
                strata = [f"class_{c}" for c in range(1, n_classes)] + ["pe"]
                by_stratum = {s: [] for s in strata}
                quotas = clasp_quotas(
                    ctx.size, n_fg, self.per_image(ctx.size), class_fraction=self.class_fraction
                )
            elif acc.n_classes != n_classes:
                raise ShapeMismatchError(
                    f"image {image_id!r} has {acc.n_classes} classes, earlier images {n_classes}"
                )
            kinds: list[tuple[str, int | None]] = [("class_pe", c) for c in range(1, n_classes)]
            kinds.append(("pe", None))
            grids, _, _ = score_grids(
                acc, kinds, patch_size=self.patch_size, stride=self.stride, clip=self.clip
            )
            del acc
            key = image_key(image_id)
            order = generator(ctx.seed, ctx.round_index, key, _ORDER_STREAM).permutation(
                len(strata)
            )
            blocked = ctx.blocked(image_id)
            for s in order:
                name = strata[s]
                if name != "pe" and not grids[s].max() > 0:
                    absent[name] = absent.get(name, 0) + 1  # class not predicted here
                    continue
                code = STRATUM_CODES["pe"] if name == "pe" else s + 1
                k = noisy_keys(grids[s], beta, ctx.seed, [ctx.round_index, key, code])
                n = quotas["pe_candidates"] if name == "pe" else quotas["class_candidates"]
                rows = image_candidates(self, ctx, image_id, grids[s], k, blocked, n, name)
                by_stratum[name] += rows
                for r in rows:
                    kv = ctx.candidates[r]["key"]
                    keys[r] = -math.inf if kv is None else float(kv)
        for name, n in absent.items():
            ctx.note(f"{name}: the class has zero predicted probability in {n} image(s)")
        return self._compose(ctx, strata, by_stratum, keys, quotas, beta, absent)

    def _compose(
        self,
        ctx: QueryContext,
        strata: list[str],
        by_stratum: dict[str, list[int]],
        keys: dict[int, float],
        quotas: dict[str, int],
        beta: float,
        absent: dict[str, int],
    ) -> tuple[list[int], dict[str, dict[str, int]]]:
        class_strata = [s for s in strata if s != "pe"]
        requested = {s: quotas["per_class"] for s in class_strata}
        requested["pe"] = quotas["pe"]
        if quotas["remainder"]:
            rng = generator(ctx.seed, ctx.round_index, _COMPOSE_STREAM)
            extra = rng.choice(len(class_strata), size=quotas["remainder"], replace=False)
            for i in sorted(int(e) for e in extra):
                requested[class_strata[i]] += 1
        # Best candidates of each stratum over all images by S' (ties: image order, then pick).
        ranked = {
            s: [
                by_stratum[s][i]
                for i in take_best([keys[r] for r in by_stratum[s]], len(by_stratum[s]))
            ]
            for s in strata
        }
        taken = {s: ranked[s][: requested[s]] for s in strata}
        chosen: list[int] = []
        for s in strata:
            chosen += taken[s]
        short = {s: requested[s] - len(taken[s]) for s in strata if len(taken[s]) < requested[s]}
        n_images = len(ctx.pool.image_ids)
        if short:
            need = sum(short.values())
            pos = {s: len(taken[s]) for s in strata}
            fill: dict[str, int] = {}
            while need > 0:
                progress = False
                for s in strata:
                    if need > 0 and pos[s] < len(ranked[s]):
                        row = ranked[s][pos[s]]
                        pos[s] += 1
                        taken[s].append(row)
                        chosen.append(row)
                        fill[s] = fill.get(s, 0) + 1
                        need -= 1
                        progress = True
                if not progress:
                    break
            if need > 0:
                # Every candidate is taken and the query is still short (e.g. a class predicted
                # nowhere): draw further PE candidates wherever an image has room.
                more = self._extend(ctx, need, beta, chosen)
                chosen += more
                taken["pe"] += more
                if more:
                    fill["pe (beyond the per-image candidates)"] = len(more)
                need -= len(more)
            if need > 0:
                ctx.shortfall_cause = (
                    "no pool image has room for another non-overlapping box on the pooling "
                    f"grid (stride {self.stride})"
                )
            ctx.note(
                "stratum shortfall: "
                + ", ".join(
                    f"{s} got {requested[s] - n} of {requested[s]} ({_why(s, absent, n_images)})"
                    for s, n in short.items()
                )
                + "; filled "
                + (", ".join(f"{n} from {s}" for s, n in fill.items()) or "nothing")
                + " from the remaining candidates",
                warn=True,
            )
        out = {s: {"requested": requested[s], "achieved": len(taken[s])} for s in strata}
        return chosen, out

    def _extend(self, ctx: QueryContext, need: int, beta: float, chosen: list[int]) -> list[int]:
        """Up to ``need`` further PE-stratum candidates, best keys over all images.

        Runs only when every per-image candidate is already in the query; the PE maps are
        pooled again (one image at a time) and the same noisy keys are used, with the query's
        boxes blocked.
        """
        in_query: dict[str, list[Any]] = {}
        for r in chosen:
            p = ctx.candidates[r]["_patch"]
            in_query.setdefault(p.image_id, []).append(p)
        rows: list[int] = []
        for image_id in ctx.pool.sorted_ids():
            acc = ctx.pool.accumulator(image_id, kinds=["pe"])
            grids, _, _ = score_grids(
                acc, [("pe", None)], patch_size=self.patch_size, stride=self.stride, clip=self.clip
            )
            del acc
            code = STRATUM_CODES["pe"]
            k = noisy_keys(grids[0], beta, ctx.seed, [ctx.round_index, image_key(image_id), code])
            blocked = ctx.blocked(image_id) + in_query.get(image_id, [])
            rows += image_candidates(self, ctx, image_id, grids[0], k, blocked, need, "pe")
        best = take_best([_key(ctx, r) for r in rows], need)
        return [rows[i] for i in best]


def _why(stratum: str, absent: dict[str, int], n_images: int) -> str:
    """The cause of a stratum's shortfall, for the log."""
    n = absent.get(stratum, 0)
    if n == n_images:
        return "the class is predicted in no image"
    if n:
        return f"the class is predicted in {n_images - n} of {n_images} images only"
    return "its per-image candidates ran out"


def _key(ctx: QueryContext, row: int) -> float:
    kv = ctx.candidates[row]["key"]
    return -math.inf if kv is None else float(kv)
