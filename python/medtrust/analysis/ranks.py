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

__all__ = ["as_matrix", "rank_distribution", "rank_values"]


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
