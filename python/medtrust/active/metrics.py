"""Active-learning evaluation metrics: AUBC, final Dice, FG-Eff, PPM, rankings.

Definitions follow the nnActive benchmark (spec "AL evaluation metrics"):

- AUBC: trapezoid area under the mean-Dice-per-round curve, x axis normalised to [0, 1];
- final Dice: the last round's mean foreground Dice;
- FG-Eff: ``b`` of the fit ``Dice(x) = -a exp(-b (x - x0)) + c`` with ``x`` the fraction of the
  pool's foreground voxels inside annotated patches, ``c`` the full-data Dice, ``x0`` the
  smallest ``x`` and ``a = c - Dice(x0)``;
- PPM: pairwise penalty matrix from seed-paired t-tests per budget level;
- rankings across settings with a Friedman test and the Nemenyi post-hoc test.

Examples
--------
>>> from medtrust.active.metrics import aubc, final_dice
>>> aubc([0.2, 0.4, 0.5, 0.6, 0.6])
0.475
>>> final_dice([0.2, 0.4, 0.5, 0.6, 0.6])
0.6
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from medtrust._arrays import as_float_1d, check_choice, check_nonempty, check_same_length
from medtrust.exceptions import (
    InvalidArgumentError,
    NaNInputError,
    UndefinedMetricWarning,
)

__all__ = [
    "FGEfficiency",
    "PairwisePenaltyMatrix",
    "StrategyRanking",
    "aubc",
    "fg_efficiency",
    "final_dice",
    "friedman_test",
    "nemenyi_test",
    "pairwise_penalty_matrix",
    "rank_strategies",
    "run_metrics",
]


def _finite(a: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(a)):
        raise NaNInputError(f"{name} has NaN or inf values")


def aubc(dice: Any, x: Any = None) -> float:
    """Area under the budget curve (trapezoid rule, x axis normalised to [0, 1]).

    Parameters
    ----------
    dice
        Mean Dice per round, in round order (one seed).
    x
        Budget per round (e.g. annotated voxels). Default: equally spaced rounds, so with five
        rounds AUBC = ``(d0/2 + d1 + d2 + d3 + d4/2) / 4``. Given budgets are min-max scaled.

    Returns
    -------
    float
        The area; a single round gives its Dice.

    Examples
    --------
    >>> aubc([0.5, 0.7, 0.9])
    0.7
    """
    d = as_float_1d(dice, "dice")
    check_nonempty(d, "dice")
    _finite(d, "dice")
    if len(d) == 1:
        return float(d[0])
    if x is None:
        xs = np.linspace(0.0, 1.0, len(d))
    else:
        xs = as_float_1d(x, "x")
        check_same_length(dice=d, x=xs)
        _finite(xs, "x")
        if np.any(np.diff(xs) < 0):
            raise InvalidArgumentError("x (budgets) must be non-decreasing")
        span = xs[-1] - xs[0]
        if span <= 0:
            raise InvalidArgumentError("x (budgets) must not be constant")
        xs = (xs - xs[0]) / span
    return float(np.sum((xs[1:] - xs[:-1]) * (d[1:] + d[:-1]) / 2.0))


def final_dice(dice: Any) -> float:
    """Mean Dice of the last round.

    Examples
    --------
    >>> final_dice([0.3, 0.5])
    0.5
    """
    d = as_float_1d(dice, "dice")
    check_nonempty(d, "dice")
    return float(d[-1])


@dataclass(frozen=True)
class FGEfficiency:
    """Result of :func:`fg_efficiency`.

    Attributes
    ----------
    b
        The fitted rate (FG-Eff); NaN when undefined.
    b_std
        Standard error of ``b`` from the fit's covariance.
    a, c, x0, dice_x0
        The fixed curve parameters.
    n_points
        Number of (x, Dice) points used.
    status
        ``"ok"``, ``"too_few_points"``, ``"no_gap"`` (``a <= 0``: Dice(x0) already reaches
        the full-data Dice) or ``"fit_failed"``.
    """

    b: float
    b_std: float
    a: float
    c: float
    x0: float
    dice_x0: float
    n_points: int
    status: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)

    def curve(self, x: Any) -> np.ndarray:
        """The fitted curve at ``x``."""
        xs = np.asarray(x, dtype=float)
        return -self.a * np.exp(-self.b * (xs - self.x0)) + self.c


def fg_efficiency(
    x: Any,
    dice: Any,
    *,
    full_dice: float,
    x0: float | None = None,
    dice_x0: float | None = None,
) -> FGEfficiency:
    """Foreground efficiency: rate ``b`` of ``Dice(x) = -a exp(-b (x - x0)) + c``.

    Parameters
    ----------
    x
        Fraction of the pool's foreground voxels inside annotated patches, per point (all
        rounds and seeds of one strategy may be pooled).
    dice
        Mean foreground Dice per point.
    full_dice
        ``c``: the Dice of a model trained on the fully labelled pool.
    x0, dice_x0
        Start of the curve; default ``x0 = min(x)`` and ``dice_x0`` the mean Dice of the points
        at ``x0``. Pass the values shared by all strategies of a setting (the starting budget)
        so their ``b`` are comparable.

    Returns
    -------
    FGEfficiency
        ``b`` (higher = Dice approaches full-data Dice with less foreground); NaN with an
        :class:`~medtrust.exceptions.UndefinedMetricWarning` when fewer than two distinct ``x``
        or when ``dice_x0 >= full_dice``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0]); d = np.array([0.5, 1 - 0.5 * np.exp(-2.0)])
    >>> round(fg_efficiency(x, d, full_dice=1.0).b, 6)
    2.0
    """
    from scipy.optimize import curve_fit

    xs = as_float_1d(x, "x")
    ds = as_float_1d(dice, "dice")
    check_same_length(x=xs, dice=ds)
    check_nonempty(xs, "x")
    _finite(xs, "x")
    _finite(ds, "dice")
    c = float(full_dice)
    if not math.isfinite(c):
        raise NaNInputError("full_dice must be finite")
    x0v = float(xs.min()) if x0 is None else float(x0)
    d0 = float(ds[xs == xs.min()].mean()) if dice_x0 is None else float(dice_x0)
    a = c - d0

    def result(b: float, b_std: float, status: str) -> FGEfficiency:
        return FGEfficiency(b, b_std, a, c, x0v, d0, len(xs), status)

    if len(np.unique(xs)) < 2:
        warnings.warn(
            "fg_efficiency needs >= 2 distinct x values; returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "too_few_points")
    if a <= 0:
        warnings.warn(
            f"fg_efficiency undefined: Dice at x0 ({d0:.4g}) >= full-data Dice ({c:.4g}); "
            "returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "no_gap")
    # Data-driven start: b from the point farthest from x0 (log-linearised model).
    gaps = np.clip((c - ds) / a, 1e-6, None)
    far = int(np.argmax(xs - x0v))
    b_start = max(-math.log(gaps[far]) / max(xs[far] - x0v, 1e-12), 1e-3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, pcov = curve_fit(
                lambda xx, b: -a * np.exp(-b * (xx - x0v)) + c, xs, ds, p0=[b_start], maxfev=10_000
            )
    except (RuntimeError, ValueError):
        warnings.warn(
            "fg_efficiency: curve fit did not converge; returns NaN",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return result(math.nan, math.nan, "fit_failed")
    var = float(pcov[0, 0])
    return result(
        float(popt[0]), math.sqrt(var) if math.isfinite(var) and var >= 0 else math.nan, "ok"
    )


# ----------------------------------------------------------------------------- PPM


def _paired_t_pvalue(diff: np.ndarray) -> float:
    """Two-sided one-sample t-test p-value of ``diff`` against 0.

    Constant differences: p = 1 when they are all 0, p = 0 otherwise (scipy returns NaN or a
    precision warning there).
    """
    from scipy import stats

    n = len(diff)
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    if sd <= 1e-15 * max(1.0, abs(mean)):
        return 1.0 if mean == 0.0 else 0.0
    t = mean / (sd / math.sqrt(n))
    return float(2.0 * stats.t.sf(abs(t), df=n - 1))


@dataclass(frozen=True)
class PairwisePenaltyMatrix:
    """Result of :func:`pairwise_penalty_matrix`.

    ``matrix[i, j]`` sums, over settings, the fraction of budget levels at which strategy
    ``i`` is significantly worse than strategy ``j``; its maximum is ``n_settings``. The
    column means (``matrix.sum(0) / (n - 1)``) say how often a strategy beats the others, the
    row means how often it loses.
    """

    strategies: tuple[str, ...]
    matrix: np.ndarray
    n_settings: int
    alpha: float
    correction: str | None
    n_tests: int
    n_skipped: int

    def to_frame(self) -> Any:
        """Long polars table: ``worse``, ``better``, ``penalty``."""
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
        """Per strategy: ``mean_better`` (:attr:`mean_row`) and ``mean_worse`` (row mean)."""
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
        """Plain dict (nested matrix)."""
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

        Returns ``(fig, ax)``; the bottom row is :attr:`mean_row`.
        """
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


def pairwise_penalty_matrix(
    table: Any,
    *,
    value: str = "dice_mean",
    strategy: str = "strategy",
    budget: str = "round",
    seed: str = "seed",
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
    value, strategy, budget, seed, setting
        Column names; ``setting=None`` (or a missing column) means one setting.
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

    from medtrust.selective.ranking import holm

    if correction is not None:
        check_choice(correction, "correction", ["holm", "holm_per_budget"])
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    cols = [value, strategy, budget, seed]
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
                s: dict(zip(g[seed].to_list(), g[value].to_list()))
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
                    tests.append((a, b, float(diff.mean()), _paired_t_pvalue(diff)))
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


# ----------------------------------------------------------------------------- rankings


def _block_ranks(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Average ranks (1 = best) within each row; NaN ranks last."""
    from scipy.stats import rankdata

    v = -scores if higher_is_better else scores.copy()
    v = np.where(np.isnan(v), np.inf, v)
    return rankdata(v, axis=1, method="average")


def friedman_test(scores: Any, *, higher_is_better: bool = True) -> tuple[float, float]:
    """Friedman chi-square test over ``scores[block, method]``; returns ``(statistic, p)``.

    Uses the tie-corrected statistic (equal to :func:`scipy.stats.friedmanchisquare`, which
    needs at least three methods; this works from two).

    Examples
    --------
    >>> s, p = friedman_test([[1, 2, 3], [1, 2, 3], [1, 3, 2], [1, 2, 3]])
    >>> round(s, 3), round(p, 4)
    (6.5, 0.0388)
    """
    from scipy import stats

    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise InvalidArgumentError(
            f"scores must be [blocks >= 2, methods >= 2], got shape {x.shape}"
        )
    n, k = x.shape
    r = _block_ranks(x, higher_is_better)
    rbar = r.mean(0)
    ssb = n * np.sum((rbar - (k + 1) / 2) ** 2)
    # Tie correction: total variance of ranks inside blocks.
    denom = np.sum((r - (k + 1) / 2) ** 2) / (n * (k - 1))
    if denom <= 0:
        return 0.0, 1.0
    stat = float(ssb / denom)
    return stat, float(stats.chi2.sf(stat, k - 1))


def nemenyi_test(
    mean_ranks: Any, n_blocks: int, *, alpha: float = 0.05
) -> tuple[np.ndarray, float]:
    """Nemenyi post-hoc test: pairwise p-values and the critical difference of mean ranks.

    ``CD = q_alpha sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentised-range quantile
    divided by sqrt(2) (Demšar, 2006).

    Examples
    --------
    >>> _, cd = nemenyi_test([1, 2, 3, 4], 14)
    >>> round(cd, 3)
    1.254
    """
    from scipy.stats import studentized_range

    r = as_float_1d(mean_ranks, "mean_ranks")
    k = len(r)
    if k < 2 or n_blocks < 1:
        raise InvalidArgumentError("need >= 2 methods and >= 1 block")
    se = math.sqrt(k * (k + 1) / (6.0 * n_blocks))
    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    z = np.abs(r[:, None] - r[None, :]) / se
    p = studentized_range.sf(z * math.sqrt(2), k, np.inf)
    p = np.where(np.eye(k, dtype=bool), 1.0, np.clip(p, 0.0, 1.0))
    return p, q * se


@dataclass(frozen=True)
class StrategyRanking:
    """Result of :func:`rank_strategies`.

    Attributes
    ----------
    metric
        The ranked metric.
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
        """Plain dict."""
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
        """The mean-rank table."""
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
    r = _block_ranks(scores, higher_is_better)
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


# ----------------------------------------------------------------------------- per-run table


def run_metrics(
    table: Any,
    *,
    value: str = "dice_mean",
    fg_fraction: str = "fg_fraction",
    full_dice: dict[Any, float] | float | None = None,
    setting: str = "setting",
    strategy: str = "strategy",
    seed: str = "seed",
    budget: str = "round",
) -> Any:
    """AUBC, final Dice and FG-Eff per (setting, strategy, seed) of a per-round table.

    ``full_dice`` (``c`` of FG-Eff) is one number or a mapping setting -> number; without it
    ``fg_eff`` is NaN. FG-Eff is fitted per seed with ``x0`` and ``Dice(x0)`` shared by the
    whole setting (mean over the round-0 rows, the common starting budget).

    Returns
    -------
    polars.DataFrame
        ``setting, strategy, seed, n_rounds, aubc, final_dice, fg_eff, fg_eff_status``.
    """
    import polars as pl

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if setting not in df.columns:
        df = df.with_columns(pl.lit("default").alias(setting))
    rows = []
    for (st,), sdf in sorted(
        df.partition_by(setting, as_dict=True).items(), key=lambda kv: str(kv[0])
    ):
        first = sdf.filter(pl.col(budget) == sdf[budget].min())
        x0 = float(sdf[fg_fraction].min()) if fg_fraction in sdf.columns else math.nan
        d0 = float(first[value].mean())
        c = full_dice.get(st) if isinstance(full_dice, dict) else full_dice
        for (sg, sd), g in sorted(sdf.partition_by([strategy, seed], as_dict=True).items()):
            g = g.sort(budget)
            d = g[value].to_numpy()
            fg = math.nan
            status = "no_full_dice"
            if c is not None and fg_fraction in g.columns:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UndefinedMetricWarning)
                    res = fg_efficiency(
                        g[fg_fraction].to_numpy(), d, full_dice=float(c), x0=x0, dice_x0=d0
                    )
                fg, status = res.b, res.status
            rows.append(
                {
                    setting: st,
                    strategy: sg,
                    seed: sd,
                    "n_rounds": len(d),
                    "aubc": aubc(d),
                    "final_dice": final_dice(d),
                    "fg_eff": fg,
                    "fg_eff_status": status,
                }
            )
    return pl.DataFrame(rows)
