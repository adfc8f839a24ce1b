"""Pairwise penalty matrix (PPM) of AL strategies from seed-paired t-tests per budget level.

Examples
--------
>>> import polars as pl
>>> from medtrust.active.metrics import pairwise_penalty_matrix
>>> t = pl.DataFrame({"strategy": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
...                   "round": [0] * 6, "dice_mean": [.5, .6, .7, .6, .75, .82]})
>>> pairwise_penalty_matrix(t).matrix.tolist()
[[0.0, 1.0], [0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medtrust._arrays import check_choice
from medtrust._deprecation import renamed_kwargs
from medtrust._extras import require
from medtrust.active.metrics.budget import _finite
from medtrust.analysis import holm, paired_t
from medtrust.exceptions import InvalidArgumentError

__all__ = ["PairwisePenaltyMatrix", "pairwise_penalty_matrix"]


@dataclass(frozen=True)
class PairwisePenaltyMatrix:
    """Result of :func:`pairwise_penalty_matrix`.

    ``matrix[i, j]`` sums, over settings, the fraction of budget levels at which strategy
    ``i`` is significantly worse than strategy ``j``; its maximum is ``n_settings``. The
    column means (``matrix.sum(0) / (n - 1)``) say how often a strategy beats the others, the
    row means how often it loses.

    Attributes
    ----------
    strategies : tuple of str
        Strategy names, in the order of the matrix rows and columns.
    matrix : numpy.ndarray
        Float ``[n, n]`` penalties (zero diagonal), each in ``[0, n_settings]``.
    n_settings : int
        Number of settings summed over.
    alpha : float
        Significance level of the tests.
    correction : str or None
        ``"holm"``, ``"holm_per_budget"`` or None (no multiple-testing correction).
    n_tests : int
        Number of paired t-tests run (one per unordered pair, budget level and setting).
    n_skipped : int
        Number of pairs and budget levels skipped for fewer than two common seeds.
    """

    strategies: tuple[str, ...]
    matrix: np.ndarray
    n_settings: int
    alpha: float
    correction: str | None
    n_tests: int
    n_skipped: int

    def to_frame(self) -> Any:
        """Long polars table: ``worse``, ``better``, ``penalty``.

        Returns
        -------
        polars.DataFrame
            One row per ordered pair of distinct strategies (``n * (n - 1)`` rows), with
            ``penalty = matrix[worse, better]``.
        """
        import polars as pl

        rows = [
            {"worse": a, "better": b, "penalty": float(self.matrix[i, j])}
            for i, a in enumerate(self.strategies)
            for j, b in enumerate(self.strategies)
            if i != j
        ]
        return pl.DataFrame(
            rows, schema={"worse": pl.Utf8, "better": pl.Utf8, "penalty": pl.Float64}
        )

    @property
    def mean_row(self) -> np.ndarray:
        """The mean row of nnActive's display (column means, diagonal excluded).

        Per column strategy ``j``, the mean of ``M[i, j]`` over ``i != j``: how often ``j`` is
        significantly better than the others (higher = better).
        """
        n = len(self.strategies)
        return self.matrix.sum(0) / max(n - 1, 1)

    def summary_frame(self) -> Any:
        """Per strategy: ``mean_better`` (:attr:`mean_row`) and ``mean_worse`` (row mean).

        Returns
        -------
        polars.DataFrame
            Columns ``strategy``, ``mean_better`` and ``mean_worse`` (means over the other
            strategies), one row per strategy in :attr:`strategies` order.
        """
        import polars as pl

        n = max(len(self.strategies) - 1, 1)
        return pl.DataFrame(
            {
                "strategy": list(self.strategies),
                "mean_better": self.mean_row.tolist(),
                "mean_worse": (self.matrix.sum(1) / n).tolist(),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (nested matrix).

        Returns
        -------
        dict
            Every field by name; ``strategies`` and ``matrix`` as (nested) lists.
        """
        return {
            "strategies": list(self.strategies),
            "matrix": self.matrix.tolist(),
            "n_settings": self.n_settings,
            "alpha": self.alpha,
            "correction": self.correction,
            "n_tests": self.n_tests,
            "n_skipped": self.n_skipped,
        }

    def plot(self, ax: Any = None, *, title: str | None = None) -> tuple[Any, Any]:
        """Heatmap: rows significantly worse than columns, nnActive's mean row at the bottom.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; None (default) creates a new figure.
        title : str, optional
            Axes title; None gives "Pairwise penalty matrix (n setting(s), correction)".

        Returns
        -------
        tuple
            ``(fig, ax)``: the matplotlib figure and axes; the bottom row is :attr:`mean_row`.

        Raises
        ------
        MissingExtraError
            matplotlib is not installed.
        """
        require("matplotlib", "plot")
        import matplotlib.pyplot as plt

        n = len(self.strategies)
        if ax is None:
            fig, ax = plt.subplots(figsize=(1.2 * n + 3.0, 1.0 * n + 2.8))
        else:
            fig = ax.figure
        m = self.matrix.astype(float).copy()
        np.fill_diagonal(m, np.nan)
        shown = np.vstack([m, self.mean_row[None, :]])
        top = max(self.n_settings, 1)
        im = ax.imshow(shown, vmin=0, vmax=top, cmap="viridis")
        ax.axhline(n - 0.5, color="w", lw=3)
        ax.set_xticks(list(range(n)), self.strategies, rotation=30, ha="right")
        ax.set_yticks(list(range(n + 1)), [*self.strategies, "mean"])
        for i in range(n + 1):
            for j in range(n):
                if i != j:
                    v = shown[i, j]
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}",
                        ha="center",
                        va="center",
                        color="w" if v < 0.6 * top else "k",
                    )
        ax.set_ylabel("row: significantly WORSE than column")
        ax.set_xlabel("column: significantly BETTER than row  (mean row: higher = better)")
        corr = f", {self.correction}" if self.correction else ""
        ax.set_title(title or f"Pairwise penalty matrix ({self.n_settings} setting(s){corr})")
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        return fig, ax


@renamed_kwargs(seed="seed_col")
def pairwise_penalty_matrix(
    table: Any,
    *,
    value: str = "dice_mean",
    strategy: str = "strategy",
    budget: str = "round",
    seed_col: str = "seed",
    setting: str | None = "setting",
    alpha: float = 0.05,
    correction: Literal["holm", "holm_per_budget"] | None = None,
    strategies: Sequence[str] | None = None,
) -> PairwisePenaltyMatrix:
    """Pairwise penalty matrix (PPM) of AL strategies.

    For every setting, budget level and ordered pair ``(i, j)``: a two-sided one-sample t-test
    on the seed-paired differences ``value_i - value_j`` (seeds present for both); when the
    mean difference is negative and ``p < alpha``, ``1 / n_budgets`` is added to ``M[i, j]``
    ("i significantly worse than j"). Matrices are summed over settings.

    Parameters
    ----------
    table
        Polars (or pandas) table with one row per (setting, strategy, seed, budget).
    value, strategy, budget, seed_col, setting
        Column names; ``setting=None`` (or a missing column) means one setting. ``seed=`` is
        the deprecated old name of ``seed_col``.
    alpha
        Significance level.
    correction
        ``None`` (default, nnActive's main tables): no correction. ``"holm"``: Holm-adjust the
        p-values of all strategy pairs and budget levels of one setting together (nnActive's
        family) before comparing with ``alpha``. ``"holm_per_budget"``: one family per budget
        level of a setting (medtrust before 0.x; less conservative).
    strategies
        Order of the strategies (default: sorted).

    Returns
    -------
    PairwisePenaltyMatrix
        Pairs with fewer than two common seeds are skipped (counted in ``n_skipped``).

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"strategy": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
    ...                   "round": [0] * 6, "dice_mean": [.5, .6, .7, .6, .75, .82]})
    >>> pairwise_penalty_matrix(t).matrix.tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    import polars as pl

    if correction is not None:
        check_choice(correction, "correction", ["holm", "holm_per_budget"])
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    cols = [value, strategy, budget, seed_col]
    if setting is not None and setting in df.columns:
        cols.append(setting)
    else:
        setting = None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"table lacks the column(s) {missing}; has {df.columns}")
    if df.height == 0:
        raise InvalidArgumentError("table is empty")
    names = (
        tuple(strategies)
        if strategies is not None
        else tuple(sorted(df[strategy].unique().to_list()))
    )
    index = {s: i for i, s in enumerate(names)}
    k = len(names)
    matrix = np.zeros((k, k))
    n_tests = n_skipped = 0
    groups = [("", df)] if setting is None else df.partition_by(setting, as_dict=True).items()
    n_settings = 0
    for _, sdf in groups:
        n_settings += 1
        levels = sorted(sdf[budget].unique().to_list())
        setting_tests: list[tuple[int, int, float, float]] = []
        for level in levels:
            ldf = sdf.filter(pl.col(budget) == level)
            vals = {
                s: dict(zip(g[seed_col].to_list(), g[value].to_list()))
                for (s,), g in ldf.partition_by(strategy, as_dict=True).items()
                if s in index
            }
            tests: list[tuple[int, int, float, float]] = []
            for a in range(k):
                for b in range(a + 1, k):
                    va, vb = vals.get(names[a], {}), vals.get(names[b], {})
                    common = sorted(set(va) & set(vb))
                    if len(common) < 2:
                        n_skipped += 1
                        continue
                    diff = np.array([va[s] - vb[s] for s in common], dtype=float)
                    _finite(diff, value)
                    tests.append((a, b, float(diff.mean()), paired_t(diff).pvalue))
            if correction == "holm_per_budget" and tests:
                adjusted = holm(np.array([t[3] for t in tests]))
                tests = [(a, b, m, float(p)) for (a, b, m, _), p in zip(tests, adjusted)]
            setting_tests += tests
        if not setting_tests:
            continue
        pvals = np.array([t[3] for t in setting_tests])
        if correction == "holm":  # one family: every pair at every budget of the setting
            pvals = holm(pvals)
        n_tests += len(setting_tests)
        for (a, b, mean, _), p in zip(setting_tests, pvals):
            if p < alpha and mean != 0:
                worse, better = (a, b) if mean < 0 else (b, a)
                matrix[worse, better] += 1.0 / len(levels)
    return PairwisePenaltyMatrix(names, matrix, n_settings, alpha, correction, n_tests, n_skipped)
