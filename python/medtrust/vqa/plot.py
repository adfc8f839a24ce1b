"""Bar chart of relative robustness (or the score drop) per shift and run, for papers.

Each bar is one run (model / method / baseline / answer type); bars are grouped by shift and
labelled on the x-axis, so that no legend is needed to tell them apart. The colour encodes
the first hue column with several values (by default the fine-tuning method) in the
colourblind-safe Okabe-Ito palette; the legend sits outside the axes (nothing hides under
it) and names what the error bars are (+-1 sample standard deviation over seeds) and over how
many seeds. A value that is undefined (S_iid = 0, no scored item) is marked "n/a", never drawn
as 0. Save with :func:`medtrust._figures.save_figure` (PNG at 200 dpi; PDF / SVG on request).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import polars as pl
>>> from medtrust.vqa import plot_robustness
>>> summary = pl.DataFrame({"shift": ["s", "s"], "method": ["lora", "ia3"],
...     "rr_mean": [0.8, 0.9], "rr_std": [0.05, 0.02], "n_seeds": [3, 3]})
>>> fig, ax = plot_robustness(summary)
>>> [t.get_text() for t in ax.get_legend().get_texts()]
['lora', 'ia3', 'error bars: +-1 SD over seeds (n = 3)']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medtrust._extras import require
from medtrust._figures import GREY, OKABE_ITO
from medtrust.exceptions import InvalidArgumentError

__all__ = ["plot_robustness"]

_YLABEL = {"rr": "relative robustness (S_ood / S_iid)", "drop": "S_iid - S_ood"}


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _seeds_text(ns: list[int]) -> str:
    ns = sorted(set(ns))
    if not ns:
        return "seeds"
    n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
    return f"seeds (n = {n})"


def plot_robustness(
    summary: Any,
    *,
    value: str = "rr",
    answer_type: str | None = None,
    hue: Sequence[str] = ("model", "method", "baseline"),
    ax: Any = None,
    title: str | None = None,
):  # -> tuple[Figure, Axes]
    """Bars of ``value`` (``rr`` or ``drop``) per shift, one bar per run; error bars = SD.

    Parameters
    ----------
    summary
        :attr:`RobustnessResult.summary` (columns ``<value>_mean``, ``<value>_std`` and, when
        present, ``shift``, the ``hue`` columns, ``answer_type`` and ``n_seeds``).
    value
        "rr" (relative robustness, default) or "drop" (S_iid - S_ood).
    answer_type
        Keep only this answer type (``"open"`` / ``"closed"``); default: all.
    hue
        Columns whose values label the bars; the first with several values sets the colour.
    ax
        Axes to draw into (default: a new figure sized to the number of bars).
    title
        Axes title.

    Returns
    -------
    (fig, ax)
        One bar patch per defined value; the legend names the colours and the error bars.

    Examples
    --------
    See the module docs.
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt
    import numpy as np
    import polars as pl
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    df = summary
    if answer_type is not None and "answer_type" in df.columns:
        df = df.filter(pl.col("answer_type") == answer_type)
    if df.height == 0:
        raise InvalidArgumentError("nothing to plot (no rows for this answer type)")
    for c in (f"{value}_mean", f"{value}_std"):
        if c not in df.columns:
            raise InvalidArgumentError(f"summary lacks column {c!r} (value={value!r})")
    hues = [c for c in hue if c in df.columns]
    if answer_type is None and "answer_type" in df.columns:
        hues.append("answer_type")
    # Columns with one value say nothing about a bar: they go to the axis label instead.
    varying = [c for c in hues if df[c].n_unique() > 1]
    constant = [c for c in hues if c not in varying]
    colour_col = varying[0] if varying else None
    label_cols = varying[1:] if len(varying) > 1 else varying
    xcol = "shift" if "shift" in df.columns else None
    shifts = df[xcol].unique(maintain_order=True).to_list() if xcol else [None]
    colour_values = df[colour_col].unique(maintain_order=True).to_list() if colour_col else [None]
    palette = {
        v: (OKABE_ITO[i % len(OKABE_ITO)] if colour_col else OKABE_ITO[0])
        for i, v in enumerate(colour_values)
    }
    n_bars = df.height
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 0.42 * n_bars + 2.5), 4.0))
    else:
        fig = ax.figure
    pos, ticks, tick_labels, n_undefined, group_centres = 0.0, [], [], 0, []
    has_err = False
    for s in shifts:
        part = df.filter(pl.col(xcol) == s) if xcol else df
        if colour_col:
            part = part.sort(colour_col, maintain_order=True)
        start = pos
        for row in part.iter_rows(named=True):
            m, e = _num(row[f"{value}_mean"]), _num(row[f"{value}_std"])
            colour = palette[row[colour_col]] if colour_col else OKABE_ITO[0]
            if np.isnan(m):
                ax.text(
                    pos,
                    0.02,
                    "n/a",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=colour,
                    transform=ax.get_xaxis_transform(),
                )
                n_undefined += 1
            else:
                ok_err = not np.isnan(e)
                has_err |= ok_err
                ax.bar(
                    pos,
                    m,
                    0.8,
                    color=colour,
                    yerr=e if ok_err else None,
                    capsize=2,
                    error_kw={"elinewidth": 1, "ecolor": "k"},
                )
            ticks.append(pos)
            tick_labels.append("/".join(str(row[c]) for c in label_cols) if label_cols else "")
            pos += 1.0
        group_centres.append(((start + pos - 1.0) / 2.0, s))
        pos += 0.8  # gap between shifts
    if value == "rr":
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(ticks, tick_labels, rotation=45 if label_cols else 0, ha="right", fontsize=7)
    if xcol and len(shifts) > 1:
        for x, s in group_centres:
            ax.text(
                x,
                1.01,
                str(s),
                ha="center",
                va="bottom",
                fontsize=8,
                transform=ax.get_xaxis_transform(),
            )
    xlabel = []
    if xcol and len(shifts) == 1:
        xlabel.append(f"shift: {shifts[0]}")
    xlabel += [f"{c}: {df[c][0]}" for c in constant]
    if label_cols:
        xlabel.append("bars: " + " / ".join(label_cols))
    ax.set_xlabel("; ".join(xlabel), fontsize=8)
    ax.set_ylabel(_YLABEL.get(value, value))
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    handles: list[Any] = []
    if colour_col:
        handles += [Patch(color=palette[v], label=str(v)) for v in colour_values]
    ns = (
        [int(n) for n in df["n_seeds"].to_list() if n is not None]
        if "n_seeds" in df.columns
        else []
    )
    if has_err:
        handles.append(
            Line2D(
                [],
                [],
                color="k",
                marker="|",
                ls="",
                label=f"error bars: +-1 SD over {_seeds_text(ns)}",
            )
        )
    elif ns:
        handles.append(Line2D([], [], color=GREY, ls="", label=f"{_seeds_text(ns)}: no SD"))
    if n_undefined:
        handles.append(
            Line2D([], [], ls="", label=f"n/a: {value} undefined (S_iid = 0 or no scored item)")
        )
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
            title=colour_col,
            title_fontsize=8,
        )
    fig.tight_layout()
    return fig, ax
