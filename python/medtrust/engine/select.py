"""``get_engine``: an engine from its name (``"local"``, ``"ray"``) or an instance."""

from __future__ import annotations

from typing import Any, Literal

from medtrust.engine.base import Engine
from medtrust.engine.local import LocalEngine
from medtrust.engine.ray import RayEngine
from medtrust.exceptions import InvalidArgumentError

__all__ = ["EngineName", "get_engine"]

EngineName = Literal["local", "ray"]


def get_engine(engine: EngineName | Engine | None = None, **options: Any) -> Engine:
    """The engine named ``engine`` built with ``options`` (an :class:`Engine` passes through).

    Examples
    --------
    >>> get_engine("local", workers=2).describe()
    {'engine': 'local', 'workers': 2}
    >>> get_engine("spark")
    Traceback (most recent call last):
    ...
    medtrust.exceptions.InvalidArgumentError: unknown engine 'spark'; known: local, ray
    """
    if isinstance(engine, Engine):
        if options:
            raise InvalidArgumentError("engine options apply to an engine name, not an instance")
        return engine
    if engine is None or engine == "local":
        return LocalEngine(**options)
    if engine == "ray":
        return RayEngine(**options)
    raise InvalidArgumentError(f"unknown engine {engine!r}; known: local, ray")
