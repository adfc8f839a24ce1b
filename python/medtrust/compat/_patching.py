"""Swap a peer's module attributes for the shims and put them back (``patch`` / ``unpatch``).

One registry per peer remembers the original objects, so ``unpatch`` restores exactly what
``patch`` replaced, and patching twice does not lose the originals.

Examples
--------
>>> import types, sys
>>> mod = types.ModuleType("fake_peer"); mod.f = len; sys.modules["fake_peer"] = mod
>>> apply("fake", {"f": abs}, {"f": ["fake_peer"]})
['fake_peer.f']
>>> mod.f is abs, restore("fake"), mod.f is len
(True, ['fake_peer.f'], True)
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from medtrust.exceptions import InvalidArgumentError

__all__ = ["apply", "restore", "scoped"]

# peer -> {(module, name): original object}
_ORIGINALS: dict[str, dict[tuple[str, str], Any]] = {}


def apply(peer: str, shims: dict[str, Any], targets: dict[str, list[str]]) -> list[str]:
    """Set ``module.name = shims[name]`` for every module in ``targets[name]``; report them."""
    saved = _ORIGINALS.setdefault(peer, {})
    replaced: list[str] = []
    for name, modules in targets.items():
        for modname in modules:
            try:
                mod = importlib.import_module(modname)
            except ImportError as e:
                raise InvalidArgumentError(
                    f"cannot patch {peer}: {modname} is not importable ({e})"
                ) from e
            if not hasattr(mod, name):
                continue  # this peer version does not define the name there
            saved.setdefault((modname, name), getattr(mod, name))
            setattr(mod, name, shims[name])
            replaced.append(f"{modname}.{name}")
    return replaced


def restore(peer: str) -> list[str]:
    """Put back every original :func:`apply` saved for ``peer``; report them."""
    saved = _ORIGINALS.pop(peer, {})
    restored = []
    for (modname, name), obj in saved.items():
        setattr(importlib.import_module(modname), name, obj)
        restored.append(f"{modname}.{name}")
    return restored


@contextlib.contextmanager
def scoped(
    patch: Callable[[Sequence[str] | None], list[str]],
    unpatch: Callable[[], list[str]],
    names: Sequence[str] | None,
) -> Iterator[list[str]]:
    """``patch(names)`` on entry, ``unpatch()`` on exit: every peer's ``patched()``."""
    replaced = patch(names)
    try:
        yield replaced
    finally:
        unpatch()
