r"""One reader for configuration files: JSON, YAML and TOML, each into a plain dict.

Experiment configs (AL loop), harness settings and shift definitions all go through
:func:`read_config`, so a syntax error reads the same everywhere: a
:class:`~medtrust.exceptions.ConfigError` naming the file. TOML uses the standard library's
``tomllib`` from Python 3.11 and the ``tomli`` backport (a core dependency there) below it.

Examples
--------
>>> import tempfile, pathlib
>>> from medtrust.io import read_config
>>> p = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
>>> _ = p.write_text('name = "demo"\n[trainer]\nepochs = 2\n')
>>> read_config(p)
{'name': 'demo', 'trainer': {'epochs': 2}}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from medtrust._extras import require
from medtrust.exceptions import ConfigError

__all__ = ["CONFIG_SUFFIXES", "ConfigFormat", "read_config"]

#: A config format read by :func:`read_config`.
ConfigFormat = Literal["json", "yaml", "toml"]

#: File suffix -> config format.
CONFIG_SUFFIXES: dict[str, ConfigFormat] = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
}


def _parse(text: str, fmt: ConfigFormat) -> Any:
    if fmt == "json":
        return json.loads(text)
    if fmt == "yaml":
        require("yaml", "io")
        import yaml

        return yaml.safe_load(text)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib.loads(text)


def read_config(
    path: str | Path,
    *,
    formats: Sequence[ConfigFormat] | None = None,
    what: str = "config",
) -> dict[str, Any]:
    r"""Read a JSON (``.json``), YAML (``.yaml`` / ``.yml``) or TOML (``.toml``) mapping.

    Parameters
    ----------
    path
        The file; its suffix picks the parser.
    formats
        The formats the caller accepts (default: all three); another suffix is an error.
    what
        What the file is, for error messages (e.g. ``"shift"``).

    Returns
    -------
    dict
        The top-level mapping, as parsed (no keys checked: the caller validates them).

    Raises
    ------
    ConfigError
        Missing file, a suffix outside ``formats``, a syntax error (the parser's message is
        kept), an empty file, or a top level that is not a mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "shift.yaml"
    >>> _ = p.write_text("name: sex\nattribute: sex\n")
    >>> read_config(p, formats=("json", "yaml"))
    {'name': 'sex', 'attribute': 'sex'}
    """
    p = Path(path)
    allowed = tuple(formats) if formats is not None else ("json", "yaml", "toml")
    fmt = CONFIG_SUFFIXES.get(p.suffix.lower())
    if fmt is None or fmt not in allowed:
        names = sorted(s for s, f in CONFIG_SUFFIXES.items() if f in allowed)
        raise ConfigError(f"{what} files are {', '.join(names)}; got {p.name}")
    if not p.is_file():
        raise ConfigError(f"{what} file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what} file {p}: {e}") from e
    try:
        raw = _parse(text, fmt)
    except Exception as e:  # json / yaml / toml syntax errors: one error type for all three
        raise ConfigError(f"cannot parse {p} as {fmt}: {e}") from e
    if raw is None:
        raise ConfigError(f"{what} file {p} is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the {what} must be a mapping, got {type(raw).__name__}")
    return raw
