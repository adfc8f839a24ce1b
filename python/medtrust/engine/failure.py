"""Failure-detection scoring of a prediction folder on an engine (cases in parallel tasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtrust._parallel import raise_first_error
from medtrust.engine.base import Engine
from medtrust.engine.select import EngineName, get_engine
from medtrust.exceptions import InvalidArgumentError
from medtrust.failure.cases import ScoreOptions, score_case
from medtrust.segmentation.policies import Surface

__all__ = ["score_folder"]


class _ScoreBatch:
    """Picklable unit of work: score a batch of cases (rows in the batch's order)."""

    def __init__(self, options: ScoreOptions) -> None:
        self.options = options

    def __call__(self, batch: list[Any]) -> list[dict[str, Any]]:
        return [score_case(cf, self.options) for cf in batch]


def score_folder(
    pred_dir: str | Path,
    labels_dir: str | Path,
    domains: Any,
    *,
    engine: EngineName | Engine | None = "local",
    batch_size: int | None = None,
    tolerance: float = 2.0,
    percentile: float = 95.0,
    surface: Surface = "voxels",
    width: int = 4,
    patch_size: int = 10,
    progress: bool = False,
    **engine_options: Any,
) -> Any:
    """:func:`medtrust.failure.score_folder` with the cases scored as tasks of ``engine``.

    The table equals the one-process result row for row (the same case order). ``batch_size``
    cases make one task (default: the cases split evenly over about four tasks per worker);
    with a cluster the folders must be on storage every node sees (checked first). The first
    failing case's error is raised with its own type after every task has ended.
    """
    import polars as pl

    from medtrust.io import find_cases

    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise InvalidArgumentError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    cases = find_cases(pred_dir, labels_dir, domains)
    eng = get_engine(engine, **engine_options)
    try:
        for folder in {Path(pred_dir), Path(labels_dir)}:
            eng.check_storage(folder)
        size = batch_size or max(1, -(-len(cases) // (4 * eng.parallelism)))
        batches = [cases[i : i + size] for i in range(0, len(cases), size)]
        bar = None
        if progress and batches:
            from medtrust._io import progress_bar

            bar = progress_bar(total=len(batches), desc=f"case batches ({eng.name})")
        opts = ScoreOptions(tolerance, percentile, surface, width, patch_size)
        try:
            outcomes = eng.map(_ScoreBatch(opts), batches, progress=bar)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if isinstance(engine, str) or engine is None:
            eng.close()
    raise_first_error(outcomes)
    return pl.DataFrame([row for o in outcomes for row in o.value])
