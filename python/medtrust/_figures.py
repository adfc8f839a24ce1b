"""Figure conventions shared by every plot: palette, file formats, resolution.

- colours: the Okabe & Ito (2008) colourblind-safe palette (:data:`OKABE_ITO`), grey for
  context lines (:data:`GREY`);
- files: PNG at 200 dpi by default, PDF and/or SVG on request (``formats=("png", "pdf")``),
  each written atomically (:func:`save_figure`).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt, tempfile, pathlib
>>> fig, ax = plt.subplots()
>>> paths = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "f", formats=("png", "svg"))
>>> [p.suffix for p in paths]
['.png', '.svg']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medtrust._extras import require
from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "DPI",
    "FIGURE_FORMATS",
    "GREY",
    "OKABE_ITO",
    "check_formats",
    "palette_context",
    "save_figure",
]

#: Okabe-Ito colourblind-safe palette (black and yellow left out: black draws the references,
#: yellow is hard to see on white).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
)
#: Colour of context lines (CSFs not highlighted).
GREY = "#B0B0B0"
#: Resolution of raster figures.
DPI = 200
#: File formats :func:`save_figure` writes.
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")


def palette_context() -> Any:
    """A matplotlib ``rc_context`` whose colour cycle is :data:`OKABE_ITO`.

    For figures drawn with matplotlib's default colours (one line per strategy, per class):
    inside the context they come out colourblind-safe.

    Returns
    -------
    contextlib.AbstractContextManager
        ``matplotlib.rc_context`` with ``axes.prop_cycle`` set to the palette.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> with palette_context():  # axes created inside take the palette
    ...     fig, ax = plt.subplots()
    ...     line, = ax.plot([0, 1])
    >>> line.get_color() == OKABE_ITO[0]
    True
    >>> plt.close("all")
    """
    require("matplotlib", "plot")
    import matplotlib
    from cycler import cycler

    return matplotlib.rc_context({"axes.prop_cycle": cycler(color=list(OKABE_ITO))})


def check_formats(formats: Any) -> tuple[str, ...]:
    """Validate figure formats (``"png"`` or a sequence of "png", "pdf", "svg").

    Parameters
    ----------
    formats
        One format or a sequence of them.

    Returns
    -------
    tuple of str
        Lower-case, duplicates removed, order kept.

    Examples
    --------
    >>> check_formats(["PNG", "pdf", "png"])
    ('png', 'pdf')
    """
    items = [formats] if isinstance(formats, str) else list(formats or [])
    out = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in items))
    bad = [f for f in out if f not in FIGURE_FORMATS]
    if bad or not out:
        raise InvalidArgumentError(
            f"formats must be a non-empty selection of {FIGURE_FORMATS}, got {formats!r}"
        )
    return out


def save_figure(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    formats: Sequence[str] | str = ("png",),
    dpi: int = DPI,
    close: bool = False,
) -> list[Path]:
    """Write ``fig`` once per format next to ``path`` (its suffix is replaced), atomically.

    Parameters
    ----------
    fig
        A matplotlib figure.
    path
        Target path; ``risk.png`` and ``risk`` both give ``risk.png`` / ``risk.pdf`` / ...
    formats
        Any of "png", "pdf", "svg" (default: PNG only).
    dpi
        Resolution of the PNG (default 200); PDF and SVG are vector files.
    close
        Close the figure afterwards (frees its memory in long loops).

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Examples
    --------
    See the module docs.
    """
    from medtrust._io import atomic_savefig

    fmts = check_formats(formats)
    p = Path(path)
    stem = p.with_suffix("") if p.suffix.lstrip(".").lower() in FIGURE_FORMATS else p
    out = []
    try:
        for f in fmts:
            target = stem.with_name(f"{stem.name}.{f}")
            # bbox "tight": legends placed outside the axes are kept in the file.
            atomic_savefig(fig, target, format=f, dpi=dpi, bbox_inches="tight")
            out.append(target)
    finally:
        if close:
            require("matplotlib", "plot")
            import matplotlib.pyplot as plt

            plt.close(fig)
    return out
