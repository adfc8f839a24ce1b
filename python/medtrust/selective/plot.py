"""Risk-coverage plots (matplotlib), in percent, with oracle and random reference curves.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from medtrust.selective import plot_risk_coverage
>>> fig, ax = plot_risk_coverage({"msr": [0.9, 0.8, 0.8, 0.3]}, [0, 1, 0, 1])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from medtrust._arrays import as_float_1d, check_choice
from medtrust._extras import require
from medtrust.exceptions import InvalidArgumentError
from medtrust.selective.curve import risk_coverage_curve

__all__ = ["plot_risk_coverage"]

#: Which curve(s) :func:`plot_risk_coverage` draws.
RiskCurveKind = Literal["selective", "generalized", "both"]


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
):
    """Draw selective and/or generalized risk vs coverage of one or several CSFs.

    Parameters
    ----------
    confids
        A mapping CSF name -> confidences, or one array.
    risk
        "selective", "generalized" or "both" (two panels; then ``ax`` may be a pair of axes).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    (fig, ax)
        ``ax`` is an array of two axes when ``risk="both"``.
    """
    require("matplotlib", "plot")
    import matplotlib.pyplot as plt

    check_choice(risk, "risk", ("selective", "generalized", "both"))
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
    refs: dict[str, Any] = {}
    if oracle:
        refs["oracle"] = -r
    for kind, a in zip(kinds, axes):
        for name, c in {**confids, **refs}.items():
            curve = risk_coverage_curve(c, r, check_range=check_range)
            y = curve.selective_risks if kind == "selective" else curve.generalized_risks
            style = {"color": "black", "ls": "--", "lw": 1} if name == "oracle" else {}
            a.plot(curve.coverages * scale, y * scale, label=name, **style)
        if random:
            cov = np.linspace(0, 1, 50)
            err = float(np.mean(r))
            y = np.full_like(cov, err) if kind == "selective" else cov * err
            a.plot(cov * scale, y * scale, color="grey", ls=":", lw=1, label="random")
        unit = " [%]" if percent else ""
        a.set_xlabel(f"coverage{unit}")
        a.set_ylabel(f"{kind} risk{unit}")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
        if title:
            a.set_title(title)
    fig.tight_layout()
    return fig, (axes if risk == "both" else axes[0])
