"""Every public function describes each parameter and its returned value (numpydoc sections).

The public surface is the one of ``tests/package/test_api_surface.py`` (``_public()``): every
function, constructor and public method of the job packages. A constructor's parameters are
described in its class docstring (``Parameters``, or ``Attributes`` for a dataclass whose
fields are its parameters). A function whose return annotation is not ``None`` has a
``Returns`` (or ``Yields``) section.
"""

import importlib
import inspect
import warnings

import pytest
from test_api_surface import PUBLIC

docscrape = pytest.importorskip("numpydoc.docscrape", reason="numpydoc is in the dev extra")


def _owner(qual):
    """The class of a constructor ``pkg.Class`` (its docstring documents the parameters)."""
    pkg, _, name = qual.rpartition(".")
    try:
        return getattr(importlib.import_module(pkg), name)
    except (ImportError, AttributeError):
        return None


def _sections(doc):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc warns on unknown sections; not our check
        return docscrape.NumpyDocString(doc or "")


def problems(qual, f):
    """What the docstring of ``f`` (public as ``qual``) lacks, as short strings."""
    is_init = f.__name__ == "__init__"
    docs = [inspect.getdoc(f) or ""]
    if is_init:
        owner = _owner(qual)
        docs.insert(0, (inspect.getdoc(owner) if owner is not None else "") or "")
    described, has_returns = {}, False
    for doc in docs:
        d = _sections(doc)
        entries = d["Parameters"] + d["Other Parameters"]
        if is_init:
            entries = entries + d["Attributes"]
        for p in entries:
            for name in p.name.split(","):
                text = " ".join(p.desc).strip()
                described[name.strip().lstrip("*").split(":")[0].strip()] = text
        has_returns = has_returns or bool(d["Returns"] or d["Yields"])
    sig = inspect.signature(f)
    out = [
        f"parameter {p.name}"
        for p in sig.parameters.values()
        if p.name not in ("self", "cls")
        and not p.name.startswith("_")
        and not described.get(p.name)
    ]
    returns_none = sig.return_annotation in (None, "None")
    if not is_init and not returns_none and not has_returns:
        out.append("Returns")
    return out


def _missing():
    return {qual: problems(qual, f) for qual, f in PUBLIC if problems(qual, f)}


MISSING = _missing()


def test_the_checker_sees_missing_and_present_sections():
    def documented(a: int, b: str = "x") -> int:
        """Do it.

        Parameters
        ----------
        a
            The first.
        b : str
            The second.

        Returns
        -------
        int
            A number.
        """
        return a

    def undocumented(a: int, *, b: int = 0) -> int:
        """Do it with ``a`` and ``b``."""
        return a

    def grouped(a: int, b: int) -> None:
        """Do it.

        Parameters
        ----------
        a, b
            Both.
        """

    assert problems("x.documented", documented) == []
    assert problems("x.undocumented", undocumented) == ["parameter a", "parameter b", "Returns"]
    assert problems("x.grouped", grouped) == []


def test_every_public_function_has_parameters_and_returns_sections():
    assert MISSING == {}, "describe these parameters / returned values:\n" + "\n".join(
        f"{q}: {', '.join(p)}" for q, p in sorted(MISSING.items())
    )
