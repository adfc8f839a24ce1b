"""Low-level file output shared by every job: atomic writes, completion markers, progress bars.

This module sits below every job package and the CLI (layers only look down): it imports
nothing from medtrust but :mod:`medtrust.exceptions` and :mod:`medtrust._extras`. Every result
file medtrust writes goes through :func:`atomic_write_bytes` (temporary file in the same folder,
fsync, rename), so an interrupted run never leaves a half-written file; files get the mode an
ordinary ``open`` would give them under the current umask (``mkstemp`` alone would make them
0600).

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "table.json"
>>> atomic_write_json(out, {"aurc": 0.25})
>>> out.read_text().strip().splitlines()[1]
'  "aurc": 0.25'
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from medtrust._extras import available

T = TypeVar("T")

__all__ = [
    "COMPLETE_MARKER",
    "atomic_dir",
    "atomic_savefig",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_parquet",
    "atomic_write_text",
    "begin_results",
    "is_complete",
    "mark_complete",
    "progress",
    "progress_bar",
    "progress_enabled",
]

#: Name of the file that marks a result folder as complete (written last, atomically).
COMPLETE_MARKER = "_COMPLETE"

_UMASK_LOCK = threading.Lock()


def _mode(base: int = 0o666) -> int:
    # The mode open()/mkdir() would give under the current umask. os.umask can only be read by
    # setting it; the lock keeps two threads from racing on it.
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return base & ~mask


def progress_enabled(flag: bool | None = None) -> bool:
    """Progress bars: off with ``--no-progress``, ``MEDTRUST_NO_PROGRESS=1`` or a non-tty.

    Also off when tqdm (the ``[progress]`` extra) is not installed: a bar is a convenience,
    so its absence is logged once, not raised.
    """
    if flag is False or os.environ.get("MEDTRUST_NO_PROGRESS") == "1":
        return False
    wanted = sys.stderr.isatty() if flag is None else flag
    return wanted and _have_tqdm()


def _have_tqdm() -> bool:
    global _TQDM_NOTED
    if available("tqdm"):
        return True
    if not _TQDM_NOTED:
        _TQDM_NOTED = True
        import logging

        logging.getLogger("medtrust").info(
            "no progress bars: tqdm is not installed (pip install 'medtrust[progress]')"
        )
    return False


_TQDM_NOTED = False


def progress(
    items: Iterable[T], *, desc: str, enabled: bool, total: int | None = None
) -> Iterator[T]:
    """Wrap ``items`` in a tqdm bar when enabled (tqdm is imported only then)."""
    bar = progress_bar(total=total, desc=desc, enabled=enabled, leave=False)
    if bar is None:
        yield from items
        return
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


def progress_bar(
    *, total: int | None, desc: str, enabled: bool = True, leave: bool = True
) -> Any | None:
    """A tqdm bar to ``update()`` by hand, or None when disabled or tqdm is not installed.

    Examples
    --------
    >>> progress_bar(total=3, desc="cases", enabled=False) is None
    True
    """
    if not (enabled and _have_tqdm()):
        return None
    from tqdm.auto import tqdm  # via _have_tqdm: medtrust._extras.available("tqdm")

    return tqdm(total=total, desc=desc, leave=leave)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomic text write (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomic JSON write (indented, sorted keys)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: str | os.PathLike[str], df: Any) -> None:
    """Atomic Parquet write of a polars DataFrame."""
    buf = io.BytesIO()
    df.write_parquet(buf)
    atomic_write_bytes(path, buf.getvalue())


def atomic_savefig(fig: Any, path: str | os.PathLike[str], **savefig_kwargs: Any) -> None:
    """Atomic ``fig.savefig``: the figure is rendered in memory, then written in one rename.

    The format follows the file suffix (``.png``, ``.pdf``, ``.svg``) unless ``format=`` is given.
    """
    path = Path(path)
    buf = io.BytesIO()
    savefig_kwargs.setdefault("format", path.suffix.lstrip(".") or "png")
    fig.savefig(buf, **savefig_kwargs)
    atomic_write_bytes(path, buf.getvalue())


def mark_complete(folder: str | os.PathLike[str], info: dict[str, Any] | None = None) -> None:
    """Write the completion marker of a result folder (call after every other file)."""
    atomic_write_json(Path(folder) / COMPLETE_MARKER, info or {})


def begin_results(folder: str | os.PathLike[str]) -> Path:
    """Create a result folder (or reuse one) and withdraw its completion marker.

    Call before writing the first file; :func:`mark_complete` after the last. A rerun into a
    finished folder thereby never shows a mix of old and new files as complete. Temporary
    files of atomic writes left by a killed run (``.name.*.tmp``) are removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = begin_results(pathlib.Path(tempfile.mkdtemp()) / "run")
    >>> is_complete(out)
    False
    >>> mark_complete(out); is_complete(out)
    True
    >>> is_complete(begin_results(out))
    False
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / COMPLETE_MARKER).unlink(missing_ok=True)
    # Temporary files of atomic writes that a killed run left behind (never read by anyone).
    for stale in path.glob(".*.tmp"):
        if stale.is_file():
            stale.unlink(missing_ok=True)
    return path


def is_complete(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` carries the completion marker written by :func:`mark_complete`."""
    return (Path(folder) / COMPLETE_MARKER).is_file()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place when the block succeeds.

    An existing folder at ``path`` is replaced only after the new one is complete; when the
    block raises (or the process dies), ``path`` is untouched and the temporary folder is removed
    (or left as a hidden ``.name.*.tmp`` folder that the next run removes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_dir(root / "run") as tmp:
    ...     atomic_write_text(tmp / "a.txt", "x")
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['a.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, _mode(0o777))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old.tmp")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
