"""Rankings of AL strategies across settings: mean ranks, Friedman test, Nemenyi post-hoc test.

The tests themselves live in :mod:`medtrust.analysis` (re-exported here as before).

Examples
--------
>>> import polars as pl
>>> from medtrust.active.metrics import rank_strategies
>>> t = pl.DataFrame({"setting": ["s1", "s1", "s2", "s2"], "strategy": ["a", "b"] * 2,
...                   "aubc": [0.6, 0.5, 0.7, 0.4]})
>>> rank_strategies(t).mean_rank["strategy"].to_list()
['a', 'b']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtrust.analysis import friedman_test, nemenyi_test, rank_values
from medtrust.exceptions import InvalidArgumentError, UndefinedMetricWarning

__all__ = ["StrategyRanking", "friedman_test", "nemenyi_test", "rank_strategies"]


@dataclass(frozen=True)
class StrategyRanking:
    """Result of :func:`rank_strategies`.

    Attributes
    ----------
    metric
        The ranked metric.
    strategies
        Strategy names, sorted (the order of ``nemenyi_pvalues``).
    mean_rank
        Polars table ``strategy, mean_rank, mean_value`` sorted by rank (1 = best).
    ranks
        Polars table ``block, strategy, value, rank``.
    friedman_statistic, friedman_pvalue
        Friedman test (NaN with fewer than two blocks).
    nemenyi_pvalues
        ``[k, k]`` pairwise p-values (order of ``strategies``).
    critical_difference
        Nemenyi CD of mean ranks at ``alpha``.
    alpha
        Level of the critical difference.
    n_blocks
        Number of blocks (settings) ranked.
    n_nan
        Number of NaN scores (ranked last in their block).
    """

    metric: str
    strategies: tuple[str, ...]
    mean_rank: Any
    ranks: Any
    friedman_statistic: float
    friedman_pvalue: float
    nemenyi_pvalues: np.ndarray
    critical_difference: float
    alpha: float
    n_blocks: int
    n_nan: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict.

        Returns
        -------
        dict
            Every field but ``ranks``; ``mean_rank`` as a list of row dicts and
            ``nemenyi_pvalues`` as nested lists.
        """
        return {
            "metric": self.metric,
            "strategies": list(self.strategies),
            "mean_rank": self.mean_rank.to_dicts(),
            "friedman_statistic": self.friedman_statistic,
            "friedman_pvalue": self.friedman_pvalue,
            "nemenyi_pvalues": self.nemenyi_pvalues.tolist(),
            "critical_difference": self.critical_difference,
            "alpha": self.alpha,
            "n_blocks": self.n_blocks,
            "n_nan": self.n_nan,
        }

    def to_frame(self) -> Any:
        """The mean-rank table.

        Returns
        -------
        polars.DataFrame
            :attr:`mean_rank`: ``strategy, mean_rank, mean_value`` sorted by rank (1 = best).
        """
        return self.mean_rank


def rank_strategies(
    table: Any,
    *,
    metric: str = "aubc",
    strategy: str = "strategy",
    block: str | Sequence[str] = "setting",
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> StrategyRanking:
    """Rank strategies within blocks (settings) by ``metric``; Friedman + Nemenyi.

    Parameters
    ----------
    table
        One row per (block, strategy) -- or several (e.g. seeds), which are averaged.
    metric
        Column to rank by (``aubc``, ``final_dice``, ``fg_eff``, ...).
    strategy
        Column naming the strategy.
    block
        Column(s) defining the blocks (settings). With one setting, ``block="seed"`` ranks
        within seeds.
    higher_is_better
        Rank 1 goes to the highest value.
    alpha
        Level of the Nemenyi critical difference.

    Returns
    -------
    StrategyRanking
        Strategies missing from a block get NaN there (ranked last, counted in ``n_nan``).

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"setting": ["s1", "s1", "s2", "s2"], "strategy": ["a", "b"] * 2,
    ...                   "aubc": [0.6, 0.5, 0.7, 0.4]})
    >>> rank_strategies(t).mean_rank["strategy"].to_list()
    ['a', 'b']
    """
    import polars as pl

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    blocks = [block] if isinstance(block, str) else list(block)
    missing = [c for c in [metric, strategy, *blocks] if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"table lacks the column(s) {missing}; has {df.columns}")
    if df.height == 0:
        raise InvalidArgumentError("table is empty")
    agg = df.group_by([*blocks, strategy]).agg(pl.col(metric).cast(pl.Float64).mean())
    names = tuple(sorted(agg[strategy].unique().to_list()))
    keys = agg.select(blocks).unique(maintain_order=False).sort(blocks)
    wide = keys.join(agg.pivot(on=strategy, index=blocks, values=metric), on=blocks, how="left")
    for s in names:
        if s not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(s))
    scores = wide.select(list(names)).to_numpy().astype(float)
    n, k = scores.shape
    n_nan = int(np.isnan(scores).sum())
    if n_nan:
        warnings.warn(
            f"rank_strategies: {n_nan} missing/NaN {metric} value(s) ranked last",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    r = rank_values(scores, higher_is_better=higher_is_better, axis=1)
    mean_r = r.mean(0)
    if n >= 2 and k >= 2:
        stat, p = friedman_test(scores, higher_is_better=higher_is_better)
    else:
        stat, p = math.nan, math.nan
    if k >= 2:
        nem, cd = nemenyi_test(mean_r, n, alpha=alpha)
    else:
        nem, cd = np.ones((k, k)), math.nan
    block_id = [" / ".join(str(v) for v in row) for row in keys.iter_rows()]
    ranks = pl.DataFrame(
        {
            "block": [b for b in block_id for _ in names],
            "strategy": [s for _ in block_id for s in names],
            "value": scores.reshape(-1),
            "rank": r.reshape(-1),
        }
    )
    mean_table = pl.DataFrame(
        {
            "strategy": list(names),
            "mean_rank": mean_r,
            "mean_value": np.nanmean(np.where(np.isnan(scores), np.nan, scores), axis=0)
            if n
            else np.full(k, np.nan),
        }
    ).sort(["mean_rank", "strategy"])
    return StrategyRanking(
        metric, names, mean_table, ranks, stat, p, nem, float(cd), alpha, n, n_nan
    )
