"""Optional dependencies: one place that imports them and names the extra that brings them.

The core install is numpy + scipy + polars. Everything else sits behind an extra of
``pyproject.toml`` and is imported only through :func:`require` (at the call that needs it, so
``import medtrust`` and every core metric work without it) or probed with :func:`available`.
A missing package is a user's choice, not a bug: :func:`require` raises
:class:`~medtrust.exceptions.MissingExtraError` with the ``pip install`` line to run.

Examples
--------
>>> from medtrust._extras import available, require
>>> require("numpy", "core").__name__
'numpy'
>>> available("a_module_that_does_not_exist")
False
>>> try:
...     require("a_module_that_does_not_exist", "plot", purpose="this figure")
... except ImportError as e:  # MissingExtraError: a MedtrustError and an ImportError
...     print(str(e).split(": ")[-1])
pip install 'medtrust[plot]'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from medtrust.exceptions import MissingExtraError

__all__ = ["EXTRAS", "available", "require"]

#: Top-level module -> (distribution name on PyPI, extra of medtrust that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "matplotlib": ("matplotlib", "plot"),
    "nibabel": ("nibabel", "io"),
    "SimpleITK": ("SimpleITK", "io"),
    "yaml": ("pyyaml", "io"),
    "tqdm": ("tqdm", "progress"),
    "torch": ("torch", "torch"),
    "nnunetv2": ("nnunetv2", "nnunet"),
    "transformers": ("transformers", "vqa"),
    "peft": ("peft", "vqa"),
    "PIL": ("pillow", "vqa"),
    "ray": ("ray", "distributed"),
    "psutil": ("psutil", "distributed"),
}


def available(module: str) -> bool:
    """Whether ``module`` can be imported (found on the path; not imported).

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"matplotlib.pyplot"``.

    Returns
    -------
    bool
        True when the top-level package is installed.

    Examples
    --------
    >>> available("numpy")
    True
    """
    try:
        return importlib.util.find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str | None = None, *, purpose: str | None = None) -> ModuleType:
    """Import an optional module, or raise the error that says which extra to install.

    Parameters
    ----------
    module : str
        Dotted module name to import, e.g. ``"matplotlib.pyplot"``.
    extra : str, optional
        The medtrust extra that installs it; looked up in :data:`EXTRAS` when omitted.
    purpose : str, optional
        What needs it, for the message (default: the calling function, ``"module.func()"``).

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        When the module's top-level package is not installed.

    Examples
    --------
    >>> require("numpy.linalg").__name__
    'numpy.linalg'
    """
    top = module.partition(".")[0]
    dist, default_extra = EXTRAS.get(top, (top, "all"))
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        # Only the package itself missing is a missing extra; a missing module inside an
        # installed package, or one of its own dependencies, keeps its own traceback.
        if (e.name is not None and e.name.partition(".")[0] != top) or available(top):
            raise
        what = purpose or _caller()
        raise MissingExtraError(
            f"{what} needs the optional package '{dist}', which is not installed: "
            f"pip install 'medtrust[{extra or default_extra}]'"
        ) from None


def _caller() -> str:
    """``module.function()`` of the code that called :func:`require` (for the message)."""
    frame = sys._getframe(2)
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+
    return f"{frame.f_globals.get('__name__', '?')}.{name}()"
