"""Renamed keyword arguments: the old name keeps working for a while, with a DeprecationWarning.

The API contract (README, Conventions) fixes one name per concept: ``pred`` / ``target`` for
label maps, ``aggregations`` for pixel-to-image aggregations, ``patch_size`` for patch edge
lengths, ``seed_col`` for a column of seeds. Where a released signature used another name,
:func:`renamed_kwargs` keeps the old keyword as a deprecated alias, so no caller breaks
silently. This module sits at the bottom of the house (standard library only).

Examples
--------
>>> import warnings
>>> @renamed_kwargs(prediction="pred")
... def volume(pred):
...     return sum(pred)
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     volume(prediction=[1, 1])
...     print(w[0].category.__name__, str(w[0].message))
2
DeprecationWarning volume(): 'prediction' is deprecated; use 'pred'
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from medtrust.exceptions import InvalidArgumentError

__all__ = ["renamed_kwargs"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_kwargs(**old_to_new: str) -> Callable[[F], F]:
    """Accept each old keyword as an alias of its new name, with a :class:`DeprecationWarning`.

    Passing both the old and the new name is an
    :class:`~medtrust.exceptions.InvalidArgumentError`. The wrapped function keeps its
    signature (``inspect.signature`` shows the new names only).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidArgumentError(
                            f"{func.__name__}(): pass {new!r} only ({old!r} is its old name)"
                        )
                    warnings.warn(
                        f"{func.__name__}(): {old!r} is deprecated; use {new!r}",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__deprecated_kwargs__ = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
