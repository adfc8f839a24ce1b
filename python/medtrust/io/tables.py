r"""One reader for tables: CSV / TSV, Parquet, JSON Lines and JSON, each into a polars DataFrame.

Every job that reads a table from disk (prediction files, ratings, domain maps, score tables,
result folders) goes through :func:`read_table`, so that one file type is read the same way
everywhere and a corrupt file gives one clear :class:`~medtrust.exceptions.DatasetError`
naming the file, never a raw polars / pyarrow / json exception. :func:`read_records` gives the
rows of a JSON / JSON Lines file as plain dicts (for layouts whose records are nested).

Examples
--------
>>> import tempfile, pathlib
>>> from medtrust.io import read_table
>>> p = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
>>> _ = p.write_text("qid,score\n1,0.5\n2,1.0\n")
>>> read_table(p).rows()
[(1, 0.5), (2, 1.0)]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import DatasetError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["TABLE_SUFFIXES", "TableFormat", "read_records", "read_table", "table_format"]

#: A table format read by :func:`read_table`.
TableFormat = Literal["csv", "tsv", "parquet", "jsonl", "json"]

#: File suffix -> table format (``.ndjson`` is JSON Lines under another name).
TABLE_SUFFIXES: dict[str, TableFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}


def table_format(path: str | Path, formats: Sequence[TableFormat] | None = None) -> TableFormat:
    """The table format of ``path`` from its suffix.

    Parameters
    ----------
    path
        A file name.
    formats
        The formats the caller accepts (default: all of :data:`TABLE_SUFFIXES`).

    Returns
    -------
    str
        One of ``"csv"``, ``"tsv"``, ``"parquet"``, ``"jsonl"``, ``"json"``.

    Raises
    ------
    DatasetError
        The suffix is not one of the accepted formats.

    Examples
    --------
    >>> table_format("runs/scores.parquet")
    'parquet'
    """
    p = Path(path)
    allowed = (
        tuple(formats) if formats is not None else tuple(dict.fromkeys(TABLE_SUFFIXES.values()))
    )
    fmt = TABLE_SUFFIXES.get(p.suffix.lower())
    if fmt is None or fmt not in allowed:
        raise DatasetError(
            f"{p.name}: expected a table file ({', '.join('.' + f for f in allowed)}), "
            f"got {p.suffix or 'no suffix'!r}"
        )
    return fmt


def _existing(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"no such {what} file: {p}")
    return p


def read_records(path: str | Path, *, what: str = "table") -> list[dict[str, Any]]:
    r"""The records of a JSON Lines file or of a JSON list (or ``{"data": [...]}``) file.

    Parameters
    ----------
    path
        A ``.jsonl`` / ``.ndjson`` file (one JSON object a line; blank lines skipped) or a
        ``.json`` file holding a list of objects, or an object whose ``data``, ``samples`` or
        ``questions`` key holds that list (the shape several VQA releases use).
    what
        What the file is, for error messages (e.g. ``"prediction"``).

    Returns
    -------
    list of dict
        The records in file order.

    Raises
    ------
    DatasetError
        Missing file, invalid JSON (the message names the line of a JSON Lines file), or JSON
        that holds no list of objects.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
    >>> _ = p.write_text('{"qid": 1}\n\n{"qid": 2}\n')
    >>> read_records(p)
    [{'qid': 1}, {'qid': 2}]
    """
    p = _existing(path, what)
    fmt = table_format(p, ("jsonl", "json"))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read {p}: {e}") from e
    if fmt == "jsonl":
        rows: list[Any] = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    # The file's line (json's own "line 1" is the line within the one line).
                    raise DatasetError(
                        f"{p}:{i}: invalid JSON: {e.msg} (column {e.colno})"
                    ) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DatasetError(
                f"{p}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})"
            ) from None
        if isinstance(data, dict):
            data = next(
                (
                    data[k]
                    for k in ("data", "samples", "questions")
                    if isinstance(data.get(k), list)
                ),
                data,
            )
        if not isinstance(data, list):
            raise DatasetError(f"{p}: expected a JSON list of records, got {type(data).__name__}")
        rows = data
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise DatasetError(f"{p}: record {bad} is a {type(rows[bad]).__name__}, not an object")
    return rows


def read_table(
    path: str | Path,
    *,
    formats: Sequence[TableFormat] | None = None,
    what: str = "table",
) -> pl.DataFrame:
    r"""Read a CSV / TSV, Parquet, JSON Lines or JSON table into a polars DataFrame.

    The format follows the suffix (:data:`TABLE_SUFFIXES`). CSV and JSON column types are
    inferred from every row (a column whose first rows look like integers but later hold text
    stays text). A ``.json`` file holds a list of records (see :func:`read_records`).

    Parameters
    ----------
    path
        The file.
    formats
        The formats the caller accepts (default: all); another suffix is an error.
    what
        What the file is, for error messages (e.g. ``"ratings"``).

    Returns
    -------
    polars.DataFrame

    Raises
    ------
    DatasetError
        Missing file, a suffix outside ``formats``, or a file polars cannot parse (corrupt
        Parquet, malformed CSV or JSON); the message names the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
    >>> _ = p.write_text('{"qid": "a", "x": 1}\n{"qid": "b", "x": 2}\n')
    >>> read_table(p)["x"].to_list()
    [1, 2]
    """
    import polars as pl

    p = _existing(path, what)
    fmt = table_format(p, formats)
    if fmt in ("jsonl", "json"):
        rows = read_records(p, what=what)
        try:
            return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()
        except Exception as e:  # mixed types polars cannot unify
            raise DatasetError(f"{p}: cannot build a table from its records: {e}") from e
    try:
        if fmt == "parquet":
            return pl.read_parquet(p)
        return pl.read_csv(p, separator="\t" if fmt == "tsv" else ",", infer_schema_length=None)
    except Exception as e:  # polars raises ComputeError / OSError / ... on corrupt files
        raise DatasetError(f"cannot read {what} file {p} as {fmt}: {e}") from e
