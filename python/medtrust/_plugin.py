"""Calling medtrust's polars plugin (the expression functions in ``medtrust._native``).

A low layer shared by the jobs that build their tables with polars expressions
(``selective.evaluate``, ``failure.evaluate_failure_detection``) and by the public
``medtrust.polars`` namespace above them. See :mod:`medtrust.polars` for the rules.

Examples
--------
>>> import polars as pl
>>> from medtrust import _plugin
>>> e = _plugin.call("risk_metric", [pl.col("c"), pl.col("r")],
...                  _plugin.kwargs("raise", True, metric="augrc"))
>>> pl.DataFrame({"c": [0.9, 0.3], "r": [0.0, 1.0]}).select(e).item()
0.125
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from polars.plugins import register_plugin_function

from medtrust import _native, exceptions
from medtrust._arrays import NAN_POLICIES, check_choice
from medtrust.exceptions import InvalidArgumentError, PolarsPluginError

__all__ = [
    "METRICS",
    "POLARS_TESTED",
    "call",
    "call_columns",
    "kwargs",
    "medtrust_errors",
    "progress",
]

#: Metric names the plugin computes (the ``selective_metrics`` struct fields but n, n_dropped).
METRICS: tuple[str, ...] = tuple(n for n in _native.RISK_METRIC_NAMES if n != "n")

#: The polars versions the plugin is built (Rust polars 0.55 via pyo3-polars 0.28) and tested for.
POLARS_TESTED = ">=2.1,<2.2"

_LIB = Path(_native.__file__)
_ERROR = re.compile(r"medtrust\[(\w+)\]: ([^\n]*)")


def call(function: str, args: list[pl.Expr], options: dict[str, Any]) -> pl.Expr:
    """The aggregation expression of plugin function ``function`` (checks the plugin once).

    ``args`` are the function's input expressions (confidence, residual and optional label).
    They travel as one struct, imploded: in ``group_by(...).agg(...)`` (and ``.over(...)``)
    that is one list per group, and the elementwise plugin function receives all of them in a
    single call and computes the groups in parallel in Rust (polars would call a
    non-elementwise aggregation once per group, ~100 us each). In a ``select`` the one list
    holds every row. The result is named after the first expression.
    """
    check()
    packed = pl.struct(*(a.alias(f"_{i}") for i, a in enumerate(args))).implode()
    expr = register_plugin_function(
        plugin_path=_LIB,
        function_name=function,
        args=[packed],
        kwargs=options,
        is_elementwise=True,
    )
    try:
        return expr.alias(args[0].meta.output_name())
    except pl.exceptions.ComputeError:  # no single output name (e.g. a literal)
        return expr.alias("confids")


def call_columns(function: str, args: list[pl.Expr], options: dict[str, Any]) -> pl.Expr:
    """Plugin function ``function`` on whole columns in a ``select``, one output row per group.

    For ``evaluate_groups`` with ``run_lengths`` in ``options`` (the lengths of the runs of
    ``pl.struct(by)``): each run of rows is one group, so polars neither hashes the keys nor
    gathers the rows of each group (see ``rust/python/src/polars_expr_eval.rs``).
    """
    check()
    packed = pl.struct(*(a.alias(f"_{i}") for i, a in enumerate(args)))
    return register_plugin_function(
        plugin_path=_LIB,
        function_name=function,
        args=[packed],
        kwargs=options,
        is_elementwise=False,
        changes_length=True,
    )


_TOKENS = itertools.count(1)


@contextlib.contextmanager
def progress(total: int, desc: str, enabled: bool) -> Iterator[int]:
    """A progress bar moved by the plugin's bootstrap work while a query runs; yields its token.

    Pass the token as the ``progress`` kwarg: the plugin counts each finished unit (one group's
    bootstrap of one CSF) under it, and a thread polls the count every 0.1 s (the query runs
    in polars with the GIL released, so the plugin cannot call back into Python). Yields 0, and
    shows nothing, when the bar is disabled.

    Examples
    --------
    >>> from medtrust import _plugin
    >>> with _plugin.progress(10, "bootstrap", enabled=False) as token:
    ...     token
    0
    """
    from medtrust._io import progress_bar

    bar = progress_bar(total=total, desc=desc, enabled=enabled, leave=False)
    if bar is None:
        yield 0
        return
    token = next(_TOKENS)
    stop = threading.Event()
    shown = [0]

    def show(count: int) -> None:
        bar.update(count - shown[0])
        shown[0] = count

    def poll() -> None:
        while not stop.wait(0.1):
            show(_native._plugin_progress(token))

    thread = threading.Thread(target=poll, name="medtrust-progress", daemon=True)
    thread.start()
    try:
        yield token
    finally:
        stop.set()
        thread.join()
        show(_native._plugin_progress(token, clear=True))
        bar.refresh()  # the final count, even when the query ended within tqdm's mininterval
        bar.close()


@functools.cache
def check() -> None:
    """Run one tiny expression once; a plugin polars cannot load becomes a clear error."""
    probe = register_plugin_function(
        plugin_path=_LIB,
        function_name="risk_metric",
        args=[pl.col("c"), pl.col("r")],
        kwargs=kwargs("raise", True, metric="augrc"),
        is_elementwise=False,
        returns_scalar=True,
    )
    try:
        got = pl.DataFrame({"c": [0.9, 0.3], "r": [0.0, 1.0]}).select(probe).item()
    except Exception as e:
        raise PolarsPluginError(
            f"the medtrust polars plugin cannot run in the installed polars {pl.__version__} "
            f"(built and tested for polars {POLARS_TESTED}): {e}"
        ) from e
    if got != 0.125:  # pragma: no cover - would mean a broken ABI, not bad input
        raise PolarsPluginError(f"the medtrust polars plugin returned {got} for a known 0.125")


def kwargs(
    nan_policy: str,
    check_range: bool,
    *,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
    **extra: Any,
) -> dict[str, Any]:
    """Validated keyword arguments of a plugin function (raises before any query runs)."""
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    if not isinstance(bins, int) or bins < 1:
        raise InvalidArgumentError(f"bins must be an integer >= 1, got {bins!r}")
    return dict(
        nan_policy=nan_policy,
        check_range=bool(check_range),
        tpr=float(tpr),
        coverage=float(coverage),
        risk=float(risk),
        bins=bins,
        **extra,
    )


@contextlib.contextmanager
def medtrust_errors() -> Iterator[None]:
    """Re-raise a medtrust error raised inside a polars query as its medtrust exception class.

    Examples
    --------
    >>> import polars as pl, medtrust.polars as mt
    >>> from medtrust import _plugin
    >>> from medtrust.exceptions import NaNInputError
    >>> df = pl.DataFrame({"c": [0.9, None], "f": [0, 1]})
    >>> try:
    ...     with _plugin.medtrust_errors():
    ...         df.select(mt.aurc("c", "f"))
    ... except NaNInputError:
    ...     print("null confidence")
    null confidence
    """
    try:
        yield
    except pl.exceptions.PolarsError as e:
        found = _ERROR.search(str(e))
        cls = getattr(exceptions, found.group(1), None) if found else None
        known = (exceptions.MedtrustError, exceptions.InternalError)
        if found is None or not (isinstance(cls, type) and issubclass(cls, known)):
            raise
        raise cls(found.group(2).strip()) from e
