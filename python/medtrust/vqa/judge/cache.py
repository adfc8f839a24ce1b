"""SQLite cache of successful judgements.

Key: SHA-256 of ``(judge model, prompt version, question, answer, prediction)``; the prompt
version includes the rubric kind (``medtrust-judge-v1/open``). Only successful verdicts are
stored, each committed as soon as it arrives, so a run killed at any moment keeps every
judgement it finished and a rerun redoes only failures and new items. Safe to share between
the threads of one run (one connection behind a lock, WAL journal).

Examples
--------
>>> from medtrust.vqa.judge.cache import JudgeCache
>>> with JudgeCache(":memory:") as c:
...     k = c.key("m", "v1/open", "q?", "a", "b")
...     c.put(k, {"score": 5.0, "reason": "same"})
...     c.get(k)["score"]
5.0
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["JudgeCache", "default_cache_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (
    key TEXT PRIMARY KEY,
    judge_model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    prediction TEXT NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """``$MEDTRUST_CACHE_DIR/judge.sqlite`` or ``~/.cache/medtrust/judge.sqlite``."""
    import os

    base = os.environ.get("MEDTRUST_CACHE_DIR") or str(Path.home() / ".cache" / "medtrust")
    return Path(base) / "judge.sqlite"


class JudgeCache:
    """A thread-safe SQLite store of verdicts.

    Parameters
    ----------
    path
        Database file, a folder (the file ``judge.sqlite`` inside it) or ``":memory:"``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        p = str(path)
        if p != ":memory:":
            pp = Path(p)
            if pp.is_dir() or pp.suffix == "":
                pp.mkdir(parents=True, exist_ok=True)
                pp = pp / "judge.sqlite"
            pp.parent.mkdir(parents=True, exist_ok=True)
            p = str(pp)
        self.path = p
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            p, check_same_thread=False, timeout=30.0, isolation_level=None
        )
        if p != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_SCHEMA)

    @staticmethod
    def key(model: str, prompt_version: str, question: str, answer: str, prediction: str) -> str:
        """The cache key of a judgement."""
        blob = json.dumps([model, prompt_version, question, answer, prediction], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record, or None.

        Parameters
        ----------
        key
            Cache key (:meth:`JudgeCache.key`).

        Returns
        -------
        dict or None
            The stored verdict record, or None when the key is not cached.
        """
        with self._lock:
            if self._conn is None:
                return None
            row = self._conn.execute(
                "SELECT record FROM judgements WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(
        self,
        key: str,
        record: dict[str, Any],
        *,
        model: str = "",
        prompt_version: str = "",
        question: str = "",
        answer: str = "",
        prediction: str = "",
    ) -> None:
        """Store (or replace) a successful record; committed immediately.

        Parameters
        ----------
        key
            Cache key (:meth:`JudgeCache.key`).
        record
            The verdict fields to store (only successful verdicts are cached).
        model
            Judge model name (kept for inspection).
        prompt_version
            Prompt version (kept for inspection).
        question
            The question (kept for inspection).
        answer
            The reference answer (kept for inspection).
        prediction
            The model's answer (kept for inspection).
        """
        with self._lock:
            if self._conn is None:
                return
            self._conn.execute(
                "INSERT OR REPLACE INTO judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    prompt_version,
                    question,
                    answer,
                    prediction,
                    json.dumps(record, ensure_ascii=False),
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            return int(self._conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0])

    def close(self) -> None:
        """Close the connection (later puts are ignored, gets return None)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
