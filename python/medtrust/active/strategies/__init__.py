"""Query strategies by registry name (see :func:`medtrust.active.get_strategy`)."""

from medtrust.active.strategies.base import (
    QueryContext,
    QueryShortfallWarning,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = [
    "QueryContext",
    "QueryShortfallWarning",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "register_strategy",
]
