"""``precomputed``: replay the round files of another experiment.

Query round k returns the patches of ``loop_{k + offset:03d}.json`` in ``folder`` (offset 1
for queries, as a query after training round k writes ``loop_{k+1}``; the starting budget
``precomputed_start`` uses offset 0). Round files written by nnActive are read in its
(SimpleITK) axis order, see :mod:`medtrust.io.rounds`. A replayed box must lie inside its
image and must not overlap what is annotated already: a mismatching experiment is refused.

Examples
--------
>>> import tempfile, pathlib
>>> from medtrust.active import Patch, Pool, get_strategy, write_round
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_round(d / "loop_001.json", [Patch("a", (0, 0, 0), (2, 2, 2))])
>>> s = get_strategy("precomputed", folder=d, patch_size=2)
>>> s.query(Pool(("a",), {"a": (4, 4, 4)}), size=1, round_index=0).patches
(Patch(image_id='a', start=(0, 0, 0), size=(2, 2, 2)),)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtrust.active._common import check_count
from medtrust.active.rounds import read_round, round_file_name
from medtrust.active.strategies.base import QueryContext, Strategy
from medtrust.exceptions import DatasetError, InvalidArgumentError

__all__ = ["PrecomputedStrategy"]


class PrecomputedStrategy(Strategy):
    """Replays ``loop_XXX.json`` files of ``folder`` (see the module docstring)."""

    def __init__(self, *, folder: str | Path | None = None, offset: int = 1, **common: Any):
        if "patch_size" not in common or common["patch_size"] is None:
            common["patch_size"] = 1  # the boxes come from the files
        super().__init__(**common)
        self.folder = None if folder is None else Path(folder)
        self.offset = check_count(offset, "offset")

    def _extra_config(self) -> dict[str, Any]:
        return {"folder": None if self.folder is None else str(self.folder), "offset": self.offset}

    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        if self.folder is None:
            raise InvalidArgumentError(
                f"strategy {self.name or 'precomputed'!r} needs folder= (the run folder whose "
                "loop_XXX.json files are replayed; in a config: strategy_options)"
            )
        f = self.folder / round_file_name(ctx.round_index + self.offset)
        if not f.is_file():
            raise DatasetError(f"precomputed: no round file {f} to replay")
        shapes = ctx.pool.shapes
        patches = read_round(f, shapes=shapes)
        rows = []
        for p in patches[: ctx.size]:
            if p.image_id not in shapes:
                raise DatasetError(f"precomputed: {f} names image {p.image_id!r}, not in the pool")
            if not p.within(shapes[p.image_id]):
                raise DatasetError(f"precomputed: {p} from {f} lies outside its image")
            clash = [b for b in ctx.blocked(p.image_id) if p.overlaps(b)]
            if clash:
                raise DatasetError(
                    f"precomputed: {p} from {f} overlaps the annotated {clash[0]}; the replayed "
                    "experiment does not match this one"
                )
            ctx.annotated.setdefault(p.image_id, []).append(p)
            rows.append(ctx.add_candidate(p, "precomputed", None, None))
        if len(patches) > ctx.size:
            ctx.note(f"{f.name} holds {len(patches)} patches; the first {ctx.size} are replayed")
        if len(rows) < ctx.size:
            ctx.shortfall_cause = f"the replayed round file {f} holds only {len(patches)} patches"
        return rows, {"all": {"requested": ctx.size, "achieved": len(rows)}}
