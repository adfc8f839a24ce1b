"""The local engine: this process, or spawned worker processes on this machine (the default)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from medtrust._parallel import Outcome, map_local
from medtrust.engine.base import Engine, Resources
from medtrust.exceptions import InvalidArgumentError

__all__ = ["LocalEngine"]


class LocalEngine(Engine):
    """Run tasks on this machine: in this process (``workers=1``) or in worker processes.

    Parameters
    ----------
    workers
        Worker processes (spawned, so they share no rayon pool or CUDA context); 1 runs every
        task in this process.

    Examples
    --------
    >>> with LocalEngine() as eng:
    ...     [o.value for o in eng.map(abs, [-2, 3])]
    [2, 3]
    """

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidArgumentError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        resources: Resources | None = None,
        progress: Any = None,
    ) -> list[Outcome]:
        """``fn`` over ``items`` (``resources`` is ignored: every task gets a process)."""
        return map_local(fn, items, workers=self.workers, progress=progress)

    @property
    def parallelism(self) -> int:
        """The number of worker processes."""
        return self.workers

    def describe(self) -> dict[str, Any]:
        """Engine name and worker count."""
        return {"engine": self.name, "workers": self.workers}
