"""Risk-coverage plots (matplotlib), in percent, with oracle and random reference curves.

Readable defaults for papers: one legend for the whole figure (below the panels, so that no
curve hides under it and no entry appears twice), each CSF's AURC and AUGRC in its legend
entry, the colourblind-safe Okabe-Ito palette (more than six CSFs cycle it with a second line
style), the references in black: the oracle (its AURC is the lowest reachable) and the
expected curve of a random ranking (selective risk = the error rate at every coverage).
Save with :func:`medtrust._figures.save_figure` (PNG at 200 dpi; PDF / SVG on request).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from medtrust.selective import plot_risk_coverage
>>> fig, ax = plot_risk_coverage({"msr": [0.9, 0.8, 0.8, 0.3]}, [0, 1, 0, 1])
>>> [t.get_text() for t in fig.legends[0].get_texts()][0]
'msr (AURC 0.1875, AUGRC 0.1562)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from medtrust._arrays import as_float_1d, check_choice
from medtrust._extras import require
from medtrust._figures import OKABE_ITO
from medtrust.exceptions import InvalidArgumentError
from medtrust.selective.curve import risk_coverage_curve

__all__ = ["plot_risk_coverage"]

#: Which curve(s) :func:`plot_risk_coverage` draws.
RiskCurveKind = Literal["selective", "generalized", "both"]

#: Label of the random-ranking reference (one entry, whatever the CSFs are called).
RANDOM_LABEL = "random ranking (expected)"


def plot_risk_coverage(
    confids: Mapping[str, Any] | Any,
    residuals: Any,
    *,
    risk: RiskCurveKind = "both",
    ax: Any = None,
    percent: bool = True,
    oracle: bool = True,
    random: bool = True,
    title: str | None = None,
    check_range: bool = True,
    legend: Literal["below", "right", "none"] = "below",
):
    """Draw selective and/or generalized risk vs coverage of one or several CSFs.

    Parameters
    ----------
    confids
        A mapping CSF name -> confidences (higher = more confident), or one array.
    residuals
        Residual per sample (0/1 failure or a loss in [0, 1]).
    risk
        "selective", "generalized" or "both" (two panels; then ``ax`` may be a pair of axes).
    ax
        Axes to draw on; a new figure when None.
    percent
        Axes in percent (default) or as fractions.
    oracle, random
        Draw the oracle curve and the expected curve of a random ranking.
    title
        Figure title.
    check_range
        Refuse residuals outside [0, 1] (turn off for unbounded losses).
    legend
        "below" (default: one figure legend under the panels), "right" (outside, right of
        the panels) or "none".

    Returns
    -------
    (fig, ax)
        ``ax`` is an array of two axes when ``risk="both"``. Legend entries: each CSF with its
        AURC and AUGRC, "oracle (AURC ...)" and "random ranking (expected)".

    Examples
    --------
    See the module docs.
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt

    from medtrust.selective.metrics import metrics as risk_metrics

    check_choice(risk, "risk", ("selective", "generalized", "both"))
    check_choice(legend, "legend", ("below", "right", "none"))
    if not isinstance(confids, Mapping):
        confids = {"csf": confids}
    if not confids:
        raise InvalidArgumentError("confids must be one array or a non-empty mapping name -> array")
    kinds = ["selective", "generalized"] if risk == "both" else [risk]
    if ax is None:
        fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.2), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    scale = 100.0 if percent else 1.0
    r = as_float_1d(residuals, "residuals")
    curves = {n: risk_coverage_curve(c, r, check_range=check_range) for n, c in confids.items()}
    labels = {}
    for n, c in confids.items():
        m = risk_metrics(c, r, check_range=check_range)
        labels[n] = f"{n} (AURC {m.aurc:.4f}, AUGRC {m.augrc:.4f})"
    ref = risk_coverage_curve(-r, r, check_range=check_range) if oracle else None
    oracle_label = ""
    if oracle:
        oracle_label = f"oracle (AURC {risk_metrics(-r, r, check_range=check_range).aurc:.4f})"
    err = float(np.mean(r))
    for kind, a in zip(kinds, axes):
        for i, (name, curve) in enumerate(curves.items()):
            y = curve.selective_risks if kind == "selective" else curve.generalized_risks
            style = "-" if i < len(OKABE_ITO) else "-."
            a.plot(
                curve.coverages * scale,
                y * scale,
                color=OKABE_ITO[i % len(OKABE_ITO)],
                ls=style,
                lw=1.6,
                label=labels[name],
            )
        if ref is not None:
            y = ref.selective_risks if kind == "selective" else ref.generalized_risks
            a.plot(ref.coverages * scale, y * scale, "k--", lw=1, label=oracle_label)
        if random:
            cov = np.linspace(0, 1, 50)
            y = np.full_like(cov, err) if kind == "selective" else cov * err
            a.plot(cov * scale, y * scale, color="k", ls=":", lw=1, label=RANDOM_LABEL)
        unit = " [%]" if percent else ""
        a.set_xlabel(f"coverage{unit}")
        a.set_ylabel(f"{kind} risk{unit}")
        a.grid(alpha=0.3)
        if title:
            a.set_title(title)
    fig.tight_layout()
    if legend != "none":
        # One legend for all panels (the same curves in each): no entry twice.
        handles, texts = axes[0].get_legend_handles_labels()
        if legend == "below":
            fig.legend(
                handles,
                texts,
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
                ncols=min(3, len(texts)),
                fontsize=8,
                frameon=False,
            )
        else:
            fig.legend(
                handles,
                texts,
                loc="upper left",
                bbox_to_anchor=(1.0, 0.95),
                fontsize=8,
                frameon=False,
            )
    return fig, (axes if risk == "both" else axes[0])
