"""Ranks of methods within blocks (1 = best, ties averaged, NaN last) and rank distributions.

One ranking rule for the whole package: CSFs ranked within bootstrap resamples
(:func:`medtrust.selective.rank_csfs`) and AL strategies ranked within settings
(:func:`medtrust.active.metrics.rank_strategies`) both use :func:`rank_values`, so ties and
missing values are treated the same way everywhere.

Examples
--------
>>> import numpy as np
>>> from medtrust.analysis import rank_values
>>> rank_values(np.array([[0.9, 0.5, 0.5], [0.1, np.nan, 0.3]]), higher_is_better=True)
array([[1. , 2.5, 2.5],
       [2. , 3. , 1. ]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "as_matrix",
    "rank_distribution",
    "rank_distribution_frame",
    "rank_expr",
    "rank_values",
]


def as_matrix(values: Any, name: str = "values") -> np.ndarray:
    """A float array from a numpy array, nested sequence or wide polars DataFrame.

    A polars DataFrame is read column by column (one column per method, one row per block).

    Parameters
    ----------
    values
        Matrix ``[n_blocks, n_methods]`` (numpy array, nested sequence or wide polars DataFrame: one
        column per method).
    name
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        float64 matrix (missing values as NaN).

    Examples
    --------
    >>> import polars as pl
    >>> as_matrix(pl.DataFrame({"a": [1, 2], "b": [3.5, None]})).tolist()
    [[1.0, 3.5], [2.0, nan]]
    """
    if hasattr(values, "to_numpy") and hasattr(values, "columns"):
        values = values.to_numpy()
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{name} must be numeric: {e}") from e


def rank_values(values: Any, *, higher_is_better: bool = False, axis: int = -1) -> np.ndarray:
    """Average ranks along ``axis`` (1 = best); ties share their mean rank; NaN ranks last.

    Parameters
    ----------
    values
        Scores, e.g. ``[blocks, methods]`` (numpy, nested lists or a wide polars DataFrame).
    higher_is_better
        Rank 1 goes to the largest value (else to the smallest).
    axis
        The axis of the methods that are ranked against each other.

    Returns
    -------
    numpy.ndarray
        Float ranks of the same shape. Several NaN in one block share the mean of the last
        ranks, like tied values.

    Examples
    --------
    >>> rank_values([3.0, 1.0, 2.0])
    array([3., 1., 2.])
    """
    from scipy.stats import rankdata

    v = as_matrix(values)
    v = -v if higher_is_better else v
    # NaN becomes +inf after the sign flip so it always ranks last.
    v = np.where(np.isnan(v), np.inf, v)
    return rankdata(v, axis=axis, method="average")


def rank_distribution(ranks: Any, names: Sequence[str], *, name_col: str = "name") -> pl.DataFrame:
    """How often each method takes each rank: ``name_col, rank, frequency`` (long table).

    Parameters
    ----------
    ranks
        ``[blocks, methods]`` ranks from :func:`rank_values`; averaged (tied) ranks are rounded
        to the nearest integer rank (half to even, as :func:`numpy.round`).
    names
        The method names, in column order.
    name_col
        Name of the method column.

    Returns
    -------
    polars.DataFrame
        One row per (method, rank ``1..k``); each method's frequencies sum to 1 when no rank
        was rounded away.

    Examples
    --------
    >>> r = rank_values([[0.1, 0.2], [0.3, 0.2], [0.0, 0.5]])
    >>> rank_distribution(r, ["a", "b"]).filter(name="a")["frequency"].to_list()
    [0.6666666666666666, 0.3333333333333333]
    """
    import polars as pl

    r = np.round(as_matrix(ranks, "ranks"))
    if r.ndim != 2 or r.shape[1] != len(names):
        raise InvalidArgumentError(
            f"ranks must be [blocks, {len(names)} methods], got shape {r.shape}"
        )
    k = len(names)
    levels = np.arange(1, k + 1)
    freq = (r[:, :, None] == levels).mean(axis=0) if r.shape[0] else np.zeros((k, k))
    return pl.DataFrame(
        {
            name_col: [n for n in names for _ in levels],
            "rank": np.tile(levels, k).astype(np.int64),
            "frequency": freq.reshape(-1).astype(float),
        }
    )


def rank_expr(value: str | pl.Expr, *, over: Sequence[str], higher_is_better: bool = False):
    """:func:`rank_values` as a polars expression: the rank of ``value`` within each block.

    ``over`` names the block columns (e.g. group and resample): within a block, 1 = best, ties
    share their mean rank and NaN (or null) ranks last, as :func:`rank_values` along the
    methods of one block.

    Parameters
    ----------
    value : str or polars.Expr
        Column name or expression of the scores.
    over : sequence of str
        Columns whose values define a block.
    higher_is_better : bool, default False
        Rank 1 goes to the highest value (default: to the lowest).

    Returns
    -------
    polars.Expr
        Float ranks (``average`` method, 1 = best), named after ``value`` (``"rank"`` when
        the name cannot be determined).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"block": [0, 0, 0, 1, 1, 1], "v": [0.9, 0.5, 0.5, 0.1, None, 0.3]})
    >>> df.select(rank_expr("v", over=["block"], higher_is_better=True))["v"].to_list()
    [1.0, 2.5, 2.5, 2.0, 3.0, 1.0]
    """
    import polars as pl

    v = pl.col(value) if isinstance(value, str) else value
    v = -v if higher_is_better else v
    # NaN / null become +inf after the sign flip so that they always rank last (and tie).
    key = pl.when(v.is_null() | v.is_nan()).then(float("inf")).otherwise(v)
    name = v.meta.output_name(raise_if_undetermined=False) or "rank"
    return key.rank("average").over(list(over)).alias(name)


def rank_distribution_frame(
    ranked: pl.DataFrame | pl.LazyFrame,
    names: Sequence[str],
    *,
    by: Sequence[str] = (),
    name_col: str = "name",
    rank_col: str = "rank",
) -> pl.DataFrame:
    """:func:`rank_distribution` of every ``by`` group of a long table, in one polars query.

    ``ranked`` holds one row per (group, block, method) with the method in ``name_col`` and
    its rank in ``rank_col`` (e.g. from :func:`rank_expr`). Per group and method: how often it
    takes each rank ``1..len(names)`` over the group's blocks (ranks rounded half to even, as
    :func:`rank_distribution`). Rows come in the order of the groups' first appearance, then
    ``names``, then rank; the values equal :func:`rank_distribution` on each group.

    Parameters
    ----------
    ranked : polars.DataFrame or polars.LazyFrame
        Long table of ranks, one row per (group, block, method).
    names : sequence of str
        The methods, in output order; their number sets the ranks ``1..len(names)``.
    by : sequence of str, default ()
        Group columns; empty: the whole table is one group (no group column in the output).
    name_col : str, default "name"
        Column holding the method name.
    rank_col : str, default "rank"
        Column holding the rank (fractional ranks are rounded half to even).

    Returns
    -------
    polars.DataFrame
        Columns ``*by, name_col, rank_col, frequency``: one row per group, method in
        ``names`` and rank; ``frequency`` is the share of the method's blocks in the group
        with that rank (0.0 for a method absent from a group).

    Examples
    --------
    >>> import polars as pl
    >>> long = pl.DataFrame({"g": ["x"] * 6, "block": [0, 0, 1, 1, 2, 2],
    ...                      "name": ["a", "b"] * 3, "v": [0.1, 0.2, 0.3, 0.2, 0.0, 0.5]})
    >>> ranked = long.with_columns(rank=rank_expr("v", over=["g", "block"]))
    >>> dist = rank_distribution_frame(ranked, ["a", "b"], by=["g"])
    >>> dist.filter(name="a")["frequency"].round(4).to_list()
    [0.6667, 0.3333]
    """
    import polars as pl

    lf = ranked.lazy()
    by = list(by) or ["__all"]
    if by == ["__all"]:
        lf = lf.with_columns(__all=pl.lit(0))
    keys = [*by, name_col]
    rounded = pl.col(rank_col).round(0, mode="half_to_even").cast(pl.Int64)
    counts = (
        lf.with_columns(__blocks=pl.len().over(keys))
        .group_by([*keys, rounded.alias(rank_col)])
        .agg(pl.len().alias("__n"), pl.col("__blocks").first())
    )
    order = pl.LazyFrame({name_col: list(names), "__m": np.arange(len(names))})
    levels = pl.LazyFrame({rank_col: np.arange(1, len(names) + 1, dtype=np.int64)})
    groups = lf.select(by).unique(maintain_order=True).with_row_index("__g")
    grid = groups.join(order, how="cross").join(levels, how="cross")
    blocks = pl.col("__blocks").max().over(keys)  # the method's blocks in its group
    out = (
        grid.join(counts, on=[*keys, rank_col], how="left", nulls_equal=True)
        .with_columns(frequency=(pl.col("__n").fill_null(0) / blocks).fill_null(0.0))
        .sort("__g", "__m", rank_col)
        .select(*keys, rank_col, "frequency")
    )
    return out.collect().drop("__all", strict=False)
