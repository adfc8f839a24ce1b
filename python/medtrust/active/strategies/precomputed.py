"""``precomputed``: replay the round files of another experiment.

Query round k returns the patches of ``loop_{k + offset:03d}.json`` in ``folder`` (offset 1
for queries, as a query after training round k writes ``loop_{k+1}``; the starting budget
``precomputed_start`` uses offset 0). Round files written by nnActive are read in its
(SimpleITK) axis order, see :mod:`medtrust.io.rounds`. A replayed box must lie inside its
image and must not overlap what is annotated already: a mismatching experiment is refused.

When the pool is a working grid at a target spacing (the AL loop passes ``raw_shapes`` and
``target_spacing``), the replayed run's ``working_grid_loop_XXX.json`` is used if it was
made at the same target spacing (the exact boxes); otherwise the raw-grid round file's boxes
are mapped to the working grid by :func:`medtrust.active.spacing.box_between`.

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

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medtrust.active._common import check_count
from medtrust.active.rounds import read_round, round_file_name
from medtrust.active.spacing import box_between
from medtrust.active.strategies.base import QueryContext, Strategy
from medtrust.exceptions import DatasetError, InvalidArgumentError, ShapeMismatchError

__all__ = ["PrecomputedStrategy"]


class PrecomputedStrategy(Strategy):
    """Replays ``loop_XXX.json`` files of ``folder`` (see the module docstring)."""

    def __init__(
        self,
        *,
        folder: str | Path | None = None,
        offset: int = 1,
        raw_shapes: Mapping[str, tuple[int, int, int]] | None = None,
        target_spacing: Sequence[float] | None = None,
        **common: Any,
    ):
        if "patch_size" not in common or common["patch_size"] is None:
            common["patch_size"] = 1  # the boxes come from the files
        super().__init__(**common)
        self.folder = None if folder is None else Path(folder)
        self.offset = check_count(offset, "offset")
        self.raw_shapes = None if raw_shapes is None else dict(raw_shapes)
        self.target_spacing = None if target_spacing is None else [float(v) for v in target_spacing]

    def _read(self, f: Path, shapes: Mapping[str, tuple[int, int, int]]) -> list[Any]:
        """The boxes of round file ``f`` on the pool's grid."""
        if self.raw_shapes is None:
            return read_round(f, shapes=shapes)
        work = f.with_name(f"working_grid_{f.name}")
        if work.is_file():
            meta = json.loads(work.read_text())
            if meta.get("target_spacing") == self.target_spacing:
                return read_round(work, shapes=shapes)
        out = []
        for p in read_round(f, shapes=self.raw_shapes):
            if p.image_id not in shapes or p.image_id not in self.raw_shapes:
                raise DatasetError(f"precomputed: {f} names image {p.image_id!r}, not in the pool")
            try:
                out.append(box_between(p, self.raw_shapes[p.image_id], shapes[p.image_id]))
            except ShapeMismatchError as e:
                raise DatasetError(f"precomputed: {p} from {f} lies outside its image") from e
        return out

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
        patches = self._read(f, shapes)
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
