"""Readable figures of a failure-detection evaluation with many CSFs.

With 25 CSFs one colour per curve is unreadable. Here the ``top_k`` CSFs (by AURC) are drawn in
a colourblind-safe palette (Okabe & Ito, 2008), every other CSF as a thin grey line, the legend
sits outside the axes and carries each highlighted CSF's metric value. :func:`plot_csf_intervals`
draws the metric with its bootstrap CI per CSF, coloured by the verdict of
:func:`medtrust.failure.comparison.compare_to_best`.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> from medtrust.failure.plot import plot_highlighted_risk_coverage
>>> rng = np.random.default_rng(0)
>>> risk = rng.uniform(0, 1, 50)
>>> fig, ax = plot_highlighted_risk_coverage(
...     {"a": -risk, "b": rng.random(50), "c": rng.random(50)}, risk, top_k=1)
>>> [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("a (AURC")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from medtrust._extras import require
from medtrust._figures import GREY, OKABE_ITO
from medtrust.exceptions import InvalidArgumentError

__all__ = ["OKABE_ITO", "plot_csf_intervals", "plot_highlighted_risk_coverage"]

#: Okabe-Ito colourblind-safe palette (shared by every medtrust figure: medtrust._figures).
_GREY = GREY


def plot_highlighted_risk_coverage(
    confids: Mapping[str, Any],
    residuals: Any,
    *,
    top_k: int = 3,
    ax: Any = None,
    title: str | None = None,
    check_range: bool = True,
    percent: bool = True,
):
    """Selective risk vs coverage: the ``top_k`` CSFs by AURC in colour, the rest grey.

    The legend (outside, right) names the highlighted CSFs with their AURC, then "other CSFs
    (n)", the oracle and the random reference. Highlighted CSFs with identical curves (the
    same ranking of the cases) share one line and one label, ``"a = b (AURC ...)"``.

    Returns
    -------
    (fig, ax)
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt

    from medtrust.selective import aurc
    from medtrust.selective.curve import risk_coverage_curve

    if not confids:
        raise InvalidArgumentError("confids must name at least one CSF")
    if not 1 <= top_k <= len(OKABE_ITO):
        raise InvalidArgumentError(f"top_k must lie in [1, {len(OKABE_ITO)}], got {top_k}")
    r = np.asarray(residuals, dtype=np.float64)
    scores = {n: aurc(c, r, check_range=check_range) for n, c in confids.items()}
    order = sorted(scores, key=lambda n: scores[n])
    top = order[:top_k]
    if ax is None:
        fig, ax = plt.subplots(figsize=(10.0, 4.6))
    else:
        fig = ax.figure
    scale = 100.0 if percent else 1.0
    for i, name in enumerate(order[top_k:]):
        c = risk_coverage_curve(confids[name], r, check_range=check_range)
        ax.plot(
            c.coverages * scale,
            c.selective_risks * scale,
            color=_GREY,
            lw=0.8,
            alpha=0.7,
            zorder=1,
            label=f"other CSFs ({len(order) - top_k})" if i == 0 else None,
        )
    # CSFs that rank the cases identically have identical curves: one line, joint label
    # (otherwise the last one drawn hides the others).
    groups: list[tuple[list[str], Any]] = []
    for name in top:
        c = risk_coverage_curve(confids[name], r, check_range=check_range)
        for names, other in groups:
            if np.array_equal(c.coverages, other.coverages) and np.array_equal(
                c.selective_risks, other.selective_risks
            ):
                names.append(name)
                break
        else:
            groups.append(([name], c))
    for color, (names, c) in zip(OKABE_ITO, groups):
        ax.plot(
            c.coverages * scale,
            c.selective_risks * scale,
            color=color,
            lw=2.0,
            zorder=3,
            label=f"{' = '.join(names)} (AURC {scores[names[0]]:.4f})",
        )
    o = risk_coverage_curve(-r, r, check_range=check_range)
    o_aurc = aurc(-r, r, check_range=check_range)
    ax.plot(
        o.coverages * scale,
        o.selective_risks * scale,
        "k--",
        lw=1,
        label=f"oracle (AURC {o_aurc:.4f})",
    )
    ax.axhline(
        float(r.mean()) * scale,
        color="k",
        ls=":",
        lw=1,
        label=f"random ranking (AURC {float(r.mean()):.4f})",
    )
    unit = " [%]" if percent else ""
    ax.set_xlabel(f"coverage{unit}")
    ax.set_ylabel(f"selective risk{unit}")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    # Highlighted CSFs first, in rank order, then the grey group and the references.
    refs = ("oracle", "random ranking")
    first = [i for i, lab in enumerate(labels) if " (AURC " in lab and not lab.startswith(refs)]
    rest = [i for i in range(len(labels)) if i not in first]
    idx = first + rest
    ax.legend(
        [handles[i] for i in idx],
        [labels[i] for i in idx],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title=f"{len(r)} cases; AURC per CSF",
        title_fontsize=8,
    )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig, ax


def plot_csf_intervals(
    comparison: Any,
    *,
    metric: str = "AURC",
    title: str | None = None,
):
    """Two panels from a table of :func:`compare_to_best`, best CSF on top.

    Left: the metric with its (marginal) bootstrap CI per CSF. Right: the paired difference to
    the best CSF with its CI, the quantity the verdicts are based on (marginal CIs overlap
    even where the paired test separates two CSFs). The best CSF is blue, CSFs not
    distinguishable from it orange, CSFs worse than it grey.

    Returns
    -------
    (fig, axes)
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    t = comparison
    n = t.height
    fig, axes = plt.subplots(
        1, 2, figsize=(10.0, 0.28 * n + 1.6), sharey=True, layout="constrained"
    )
    colors = {"best": OKABE_ITO[0], "not distinguishable": OKABE_ITO[1], "worse": _GREY}
    y = np.arange(n)[::-1]
    for yi, row in zip(y, t.iter_rows(named=True)):
        col = colors[row["verdict"]]
        axes[0].plot([row["low"], row["high"]], [yi, yi], color=col, lw=2)
        axes[0].plot(row["value"], yi, "o", color=col, ms=5)
        if row["verdict"] != "best":
            axes[1].plot([row["diff_low"], row["diff_high"]], [yi, yi], color=col, lw=2)
            axes[1].plot(row["diff"], yi, "o", color=col, ms=5)
        else:
            axes[1].plot(0.0, yi, "o", color=col, ms=5)
    axes[1].axvline(0.0, color="k", lw=1)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(t["csf"].to_list(), fontsize=8)
    n_text = ""
    if "n" in t.columns and t["n"].n_unique() == 1:
        n_text = f", n = {int(t['n'][0])} cases"  # what the intervals rest on
    axes[0].set_xlabel(f"{metric} [95% bootstrap CI{n_text}]")
    axes[1].set_xlabel(f"{metric} minus the best's [simultaneous paired 95% CI]")
    for a in axes:
        a.grid(axis="x", alpha=0.3)
    legend = [Line2D([], [], color=c, marker="o", lw=2, label=lab) for lab, c in colors.items()]
    axes[1].legend(
        handles=legend,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title="vs best (simultaneous\npaired 95% CIs)",
        title_fontsize=8,
    )
    if title:
        fig.suptitle(title)
    return fig, axes
