"""The one check of settings mappings against the fields of a dataclass.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass
... class S:
...     steps: int = 1
>>> reject_unknown({"steps": 2}, S, "trainer settings")
>>> reject_unknown({"step": 2}, S, "trainer settings")
Traceback (most recent call last):
...
medtrust.exceptions.ConfigError: unknown trainer settings ['step'] (did you mean 'steps'?); ...
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from medtrust.exceptions import ConfigError


def reject_unknown(d: Mapping[str, Any], cls: type, what: str) -> None:
    """Raise :class:`ConfigError` naming every key of ``d`` that is not a field of ``cls``."""
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(d) - set(known))
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown {what} {unknown}{hint}; known: {known}")
