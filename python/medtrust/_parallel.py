"""Local parallel map: in this process, or in spawned worker processes.

The one implementation of "run these independent tasks on this machine" that the jobs (the AL
grid's ``workers=``) and :class:`medtrust.engine.LocalEngine` share. A failing task does not
stop the others: every task ends as an :class:`Outcome` holding its value or its error.

Examples
--------
>>> outs = map_local(abs, [-1, 2, -3])
>>> [o.value for o in outs]
[1, 2, 3]
>>> map_local(int, ["1", "x"])[1].error
"ValueError: invalid literal for int() with base 10: 'x'"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "RESOURCE_KEYS",
    "Outcome",
    "check_resources",
    "failed",
    "map_local",
    "raise_first_error",
]

#: Keys of a task's resource request (Ray's vocabulary; the local engine ignores them).
RESOURCE_KEYS = frozenset({"num_cpus", "num_gpus", "memory", "resources"})


@dataclass(frozen=True)
class Outcome:
    """The end of one task: ``value`` when it succeeded, else ``error`` (type and message)."""

    index: int
    value: Any = None
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the task succeeded."""
        return self.error is None


def failed(index: int, e: BaseException) -> Outcome:
    """The outcome of a task that raised ``e``."""
    return Outcome(index, error=f"{type(e).__name__}: {e}", exception=e)


def raise_first_error(outcomes: Iterable[Outcome]) -> None:
    """Re-raise the first failed task's exception (its own type, so callers can catch it)."""
    for o in outcomes:
        if not o.ok:
            if o.exception is not None:
                raise o.exception
            raise RuntimeError(o.error)


def map_local(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int = 1,
    progress: Any = None,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> list[Outcome]:
    """``fn`` over ``items``; outcomes in the order of ``items``.

    Parameters
    ----------
    fn
        A picklable (module-level) function when ``workers > 1``.
    items
        Task arguments, one per task.
    workers
        1: run in this process, one after the other; more: that many spawned processes
        (``spawn``, so the workers never inherit a forked rayon pool or CUDA context).
    progress
        An object with ``update(n)`` (a tqdm bar), advanced as tasks finish.
    catch
        Exceptions recorded as a task's error (others propagate, e.g. KeyboardInterrupt).
    """
    todo: Sequence[Any] = list(items)
    out: list[Outcome | None] = [None] * len(todo)
    if workers <= 1 or len(todo) <= 1:
        for i, item in enumerate(todo):
            try:
                out[i] = Outcome(i, value=fn(item))
            except catch as e:
                out[i] = failed(i, e)
            if progress is not None:
                progress.update(1)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(todo)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        out[i] = Outcome(i, value=fut.result())
                    except catch as e:
                        out[i] = failed(i, e)
                    if progress is not None:
                        progress.update(1)
    return [o for o in out if o is not None]


def check_resources(res: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """Validate a task's resource request (Ray's keys); returns a plain dict."""
    if res is None:
        return {}
    if not isinstance(res, Mapping):
        raise InvalidArgumentError(f"{what} must be a mapping of Ray resources, got {res!r}")
    unknown = sorted(set(res) - RESOURCE_KEYS)
    if unknown:
        raise InvalidArgumentError(
            f"{what}: unknown resource key(s) {unknown}; known: {sorted(RESOURCE_KEYS)}"
        )
    for k, v in res.items():
        if k == "resources":
            if not isinstance(v, Mapping) or not all(
                isinstance(x, (int, float)) and x >= 0 for x in v.values()
            ):
                raise InvalidArgumentError(f"{what}.resources must map names to numbers >= 0")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise InvalidArgumentError(f"{what}.{k} must be a number >= 0, got {v!r}")
    return dict(res)
