"""Helpers shared by the CLI modules: progress switches and atomic writes."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def progress_enabled(flag: bool | None = None) -> bool:
    """Progress bars: off with ``--no-progress``, ``MEDTRUST_NO_PROGRESS=1`` or a non-tty."""
    if flag is False or os.environ.get("MEDTRUST_NO_PROGRESS") == "1":
        return False
    return sys.stderr.isatty() if flag is None else flag


def progress(
    items: Iterable[T], *, desc: str, enabled: bool, total: int | None = None
) -> Iterator[T]:
    """Wrap ``items`` in a tqdm bar when enabled."""
    if not enabled:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, leave=False)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic text write (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (indented, sorted keys)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: Path, df: Any) -> None:
    """Atomic Parquet write of a polars DataFrame."""
    import io

    buf = io.BytesIO()
    df.write_parquet(buf)
    atomic_write_bytes(path, buf.getvalue())
