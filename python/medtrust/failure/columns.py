"""Which columns of a case table are CSFs, and warnings raised by several groups at once.

The CSF columns are always named by the caller (:func:`csf_names`): a list, a polars
selector / expression, or a prefix; "every numeric column" once turned ``patient_age`` into a
CSF. :func:`score_table_csfs` names the CSF columns of a :func:`medtrust.failure.score_folder`
table (everything but the case, domain and risk columns it writes).

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"case": ["a"], "dice": [0.9], "csf_x": [0.1], "age": [40]})
>>> csf_names(df, None, "csf_", ["case", "dice"])
['csf_x']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medtrust.exceptions import DTypeError, InvalidArgumentError

__all__ = ["SCORE_COLUMNS", "csf_names", "score_table_csfs"]

#: Columns of a :func:`medtrust.failure.score_folder` table that are not CSFs.
SCORE_COLUMNS: tuple[str, ...] = ("case", "domain", "dice", "nsd", "hd95")


def score_table_csfs(table: Any) -> list[str]:
    """The CSF columns of a :func:`medtrust.failure.score_folder` table, in table order.

    Parameters
    ----------
    table
        The polars DataFrame returned by ``score_folder``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import polars as pl
    >>> score_table_csfs(pl.DataFrame({"case": ["a"], "domain": ["iid"], "dice": [0.9],
    ...     "nsd": [0.8], "hd95": [2.0], "msr_mean": [0.7], "pairwise_dice": [0.9]}))
    ['msr_mean', 'pairwise_dice']
    """
    return [c for c in table.columns if c not in SCORE_COLUMNS]


def csf_names(df: Any, csfs: Any, csf_prefix: str | None, taken: Sequence[str]) -> list[str]:
    """The CSF columns the caller named (a list, a polars selector / expression, or a prefix).

    Parameters
    ----------
    df
        The case table (polars).
    csfs
        Column names, or a polars selector / expression; None when ``csf_prefix`` is given.
    csf_prefix
        Every column starting with it (outside ``taken``) is a CSF.
    taken
        Case, group, risk and derived columns, never CSFs.

    Returns
    -------
    list of str
        The CSF columns; numeric, checked before any work.
    """
    import polars as pl

    if csfs is not None and csf_prefix is not None:
        raise InvalidArgumentError("give csfs or csf_prefix, not both")
    if csfs is None and csf_prefix is None:
        numeric = [c for c, t in df.schema.items() if t.is_numeric() and c not in taken]
        raise InvalidArgumentError(
            "name the CSF columns: csfs=[...], a polars selector (csfs=cs.starts_with('csf_')) "
            f"or csf_prefix='...'; numeric columns here: {numeric}"
        )
    if csf_prefix is not None:
        if not isinstance(csf_prefix, str) or not csf_prefix:
            raise InvalidArgumentError(f"csf_prefix must be a non-empty string, got {csf_prefix!r}")
        names = [c for c in df.columns if c.startswith(csf_prefix) and c not in taken]
        if not names:
            raise InvalidArgumentError(
                f"no column starts with csf_prefix {csf_prefix!r}; have {df.columns}"
            )
        return names
    if isinstance(csfs, str):
        csfs = [csfs]
    if isinstance(csfs, pl.Expr) or type(csfs).__module__.startswith("polars.selectors"):
        try:
            names = df.select(csfs).columns
        except pl.exceptions.PolarsError as e:
            raise InvalidArgumentError(f"csfs selector does not apply to the cases: {e}") from e
    else:
        names = [str(c) for c in csfs]
    unknown = [c for c in names if c not in df.columns]
    if unknown or not names:
        raise InvalidArgumentError(f"CSF columns {unknown or names} not usable; have {df.columns}")
    clash = [c for c in names if c in taken]
    if clash:
        raise InvalidArgumentError(
            f"CSF columns {clash} are the case / group / risk column or a derived column"
        )
    wrong = [f"{c} ({df.schema[c]})" for c in names if not df.schema[c].is_numeric()]
    if wrong:
        raise DTypeError(f"CSF columns must be numeric; not numeric: {wrong}")
    return names
