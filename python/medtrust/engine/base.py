"""The engine interface: where independent units of work (runs, members, case batches) run.

An :class:`Engine` maps a picklable function over items and returns one
:class:`~medtrust._parallel.Outcome` per item, in the items' order; a failing item never stops
the others. Engines differ only in *where* the work runs: :class:`~medtrust.engine.LocalEngine`
on this machine, :class:`~medtrust.engine.RayEngine` on a Ray cluster. Results never depend on
the engine: every unit of work is a pure function of its arguments and of files on shared
storage, and everything it writes is written atomically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from medtrust._parallel import Outcome

__all__ = ["Engine", "Resources"]

#: Resources one task asks for, in Ray's vocabulary: ``num_cpus``, ``num_gpus``, ``memory``
#: (bytes) and ``resources`` (custom resources, e.g. ``{"fast_disk": 1}``).
Resources = Mapping[str, Any]


class Engine(ABC):
    """Runs independent tasks; see :mod:`medtrust.engine` for the two implementations."""

    name: ClassVar[str]

    @abstractmethod
    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        resources: Resources | None = None,
        progress: Any = None,
    ) -> list[Outcome]:
        """``fn`` over ``items``; one outcome per item, in order (``progress.update(1)`` each)."""

    def start(self) -> Engine:
        """Connect or start workers now (else on first use); returns the engine."""
        return self

    def check_storage(self, folder: str | Path) -> None:  # noqa: B027 - optional hook
        """Raise :class:`~medtrust.exceptions.EngineError` if a worker cannot see ``folder``."""

    def member_trainer(self, resources: Resources) -> Any:
        """A ``MemberTrainer`` that trains a round's members as parallel tasks, or None.

        None (the default) trains the members one after the other inside the run's process.
        """
        return None

    @property
    def parallelism(self) -> int:
        """How many tasks may run at once (for batching work)."""
        return 1

    def describe(self) -> dict[str, Any]:
        """What the engine is, for logs and result metadata."""
        return {"engine": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the engine started (a local Ray instance, worker processes)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
