"""Results of a query: the patches plus a log of candidates, quotas and messages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtrust.active.patch import Patch
from medtrust.active.rounds import write_round

__all__ = ["CANDIDATE_COLUMNS", "QueryLog", "QueryResult"]

#: Columns of :attr:`QueryLog.candidates` (one row per candidate patch).
CANDIDATE_COLUMNS: dict[str, str] = {
    "image_id": "image of the candidate",
    "stratum": "stratum / map it was picked for (pe, mi, class_1, ..., random, class, border)",
    "z": "start z",
    "y": "start y",
    "x": "start x",
    "size_z": "box size z",
    "size_y": "box size y",
    "size_x": "box size x",
    "score": "pooled score S (mean of the voxel map in the box); null for random baselines",
    "key": "ranking key: log S plus Gumbel noise (power), -log(rank) + noise (softrank), ...",
    "selected": "whether the candidate is in the query",
    "query_rank": "position in the query (0 = first), null if not selected",
}


@dataclass(frozen=True)
class QueryLog:
    """What a strategy considered and why.

    Attributes
    ----------
    strategy, config
        Registry name and full configuration.
    round_index, seed, requested
        The query's round, seed and size.
    beta
        Power-sampling beta of the round (None for strategies without noise; inf = no noise).
    quotas
        ``stratum -> {"requested": n, "achieved": n}`` (one ``all`` entry for unstratified
        strategies).
    candidates
        One dict per candidate patch (columns in :data:`CANDIDATE_COLUMNS`);
        :meth:`to_frame` gives them as a polars DataFrame.
    messages
        Human-readable notes: shortfalls, redistributions, images given up on.
    """

    strategy: str
    config: dict[str, Any]
    round_index: int
    seed: int
    requested: int
    beta: float | None
    quotas: dict[str, dict[str, int]]
    candidates: tuple[dict[str, Any], ...] = field(repr=False)
    messages: tuple[str, ...] = ()

    def to_frame(self) -> Any:
        """Candidates as a polars DataFrame (columns of :data:`CANDIDATE_COLUMNS`).

        Returns
        -------
        polars.DataFrame
            One row per candidate, in log order; missing values are null (an empty frame
            with the same schema when there is no candidate).
        """
        import polars as pl

        schema = {
            "image_id": pl.Utf8,
            "stratum": pl.Utf8,
            "z": pl.Int64,
            "y": pl.Int64,
            "x": pl.Int64,
            "size_z": pl.Int64,
            "size_y": pl.Int64,
            "size_x": pl.Int64,
            "score": pl.Float64,
            "key": pl.Float64,
            "selected": pl.Boolean,
            "query_rank": pl.Int64,
        }
        rows = [{k: r.get(k) for k in schema} for r in self.candidates]
        return pl.DataFrame(rows, schema=schema, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (candidates counted, not listed).

        Returns
        -------
        dict
            ``strategy``, ``config``, ``round_index``, ``seed``, ``requested``, ``beta``
            (``"inf"`` for infinity, None when unset), ``quotas``, ``n_candidates`` and
            ``messages``.
        """
        beta = self.beta
        return {
            "strategy": self.strategy,
            "config": self.config,
            "round_index": self.round_index,
            "seed": self.seed,
            "requested": self.requested,
            "beta": None if beta is None else ("inf" if math.isinf(beta) else beta),
            "quotas": self.quotas,
            "n_candidates": len(self.candidates),
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class QueryResult:
    """The boxes to annotate, in query order, and the :class:`QueryLog`.

    Attributes
    ----------
    patches : tuple of Patch
        The selected boxes, in query order (``len(result)`` is their number).
    log : QueryLog
        What the strategy considered and why.
    """

    patches: tuple[Patch, ...]
    log: QueryLog

    def __len__(self) -> int:
        return len(self.patches)

    def to_dict(self) -> dict[str, Any]:
        """Patches (as round-file records without file ending) and the log summary.

        Returns
        -------
        dict
            ``{"patches": [{"image_id", "start", "size"}, ...], "log": QueryLog.to_dict()}``
            with array-order ``start`` / ``size`` lists.
        """
        return {
            "patches": [
                {"image_id": p.image_id, "start": list(p.start), "size": list(p.size)}
                for p in self.patches
            ],
            "log": self.log.to_dict(),
        }

    def to_frame(self) -> Any:
        """The selected patches as a polars DataFrame.

        Returns
        -------
        polars.DataFrame
            The selected rows of :meth:`QueryLog.to_frame`, sorted by ``query_rank``.
        """
        return self.log.to_frame().filter("selected").sort("query_rank")

    def write_round(self, path: str | Path, *, file_ending: str = ".nii.gz") -> Path:
        """Write an nnActive-compatible round file (``loop_XXX.json``) with the log summary.

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write (written atomically).
        file_ending : str, default ".nii.gz"
            Appended to each image id to name its label file.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        from medtrust import __version__

        extra = {"medtrust": {"version": __version__, **self.log.to_dict()}}
        return write_round(path, self.patches, file_ending=file_ending, extra=extra)
