"""The Ray engine: tasks on a Ray cluster (optional extra ``medtrust[distributed]``).

Fault tolerance is Ray's task retries plus medtrust's resumable state: a unit of work writes
its results atomically, so a task that a dying worker interrupts is simply run again (from the
files on shared storage) and a killed driver resumes from disk when the command is rerun.

Ray is imported only when the engine is first used, so ``import medtrust.engine`` stays cheap.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from medtrust._parallel import Outcome, check_resources, failed
from medtrust.engine.base import Engine, Resources
from medtrust.exceptions import EngineError, InvalidArgumentError

__all__ = ["RayEngine"]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise EngineError("the ray engine needs Ray: pip install 'medtrust[distributed]'") from e
    return ray


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def _read_token(path: str, expected: str) -> tuple[str, bool, str]:
    # Runs on one node: can it see the file the driver just wrote, with the same content?
    host = socket.gethostname()
    try:
        ok = Path(path).read_text() == expected
        return host, ok, "" if ok else "the file has other content (another folder?)"
    except OSError as e:
        return host, False, f"{type(e).__name__}: {e}"


def _train_members_remote(
    spec: Any, out: str, k: int, missing: list[int], resources: dict[str, Any], retries: int
) -> None:
    """Train a round's missing members as parallel Ray tasks (called inside a run task)."""
    ray = _import_ray()
    from medtrust.active.loop.runner import train_member

    task = ray.remote(train_member).options(max_retries=retries, **resources)
    refs = {m: task.remote(spec, out, k, m) for m in missing}
    errors = []
    for m, ref in refs.items():
        try:
            ray.get(ref)
        except Exception as e:  # every member is awaited before the run gives up
            errors.append(f"member {m}: {type(e).__name__}: {e}")
    if errors:
        raise EngineError(f"{spec.key}: round {k}: " + "; ".join(errors))


class _MemberTrainer:
    """Picklable ``MemberTrainer``: ships to the run's task and submits the member tasks."""

    def __init__(self, resources: dict[str, Any], retries: int) -> None:
        self.resources = resources
        self.retries = retries

    def __call__(self, spec: Any, out: Path, k: int, missing: list[int]) -> None:
        _train_members_remote(spec, str(out), k, missing, self.resources, self.retries)


class RayEngine(Engine):
    """Run tasks on a Ray cluster.

    Parameters
    ----------
    address
        None: start a private local Ray instance (stopped by :meth:`close`); ``"auto"``: the
        cluster this machine belongs to (``ray start --head`` / ``ray start --address``);
        ``"ray://host:10001"``: a remote cluster through Ray Client; ``"host:6379"``: a
        cluster's GCS address. An already initialised Ray in this process is used as it is.
    resources
        Default resources of every task (``num_cpus``, ``num_gpus``, ``memory``,
        ``resources``); a call's own ``resources`` override them key by key.
    num_cpus, num_gpus
        CPUs and GPUs of the private local instance (``address=None`` only).
    max_retries
        Ray retries of a task whose worker died (a killed process, a lost node). Application
        errors are not retried: they are reported in the task's outcome.
    init_kwargs
        Further keyword arguments of ``ray.init`` (e.g. ``runtime_env``).

    Examples
    --------
    >>> eng = RayEngine(address="auto", resources={"num_cpus": 2})  # nothing starts yet
    >>> eng.describe()["address"]
    'auto'
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        resources: Resources | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        max_retries: int = 3,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address):
            raise InvalidArgumentError(f"address must be a non-empty string, got {address!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        for name, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise InvalidArgumentError(f"{name} must be an integer >= 0, got {v!r}")
        if address is not None and (num_cpus is not None or num_gpus is not None):
            raise InvalidArgumentError(
                "num_cpus / num_gpus size a private local instance (address=None); a cluster "
                "has its own resources"
            )
        self.address = address
        self.resources = check_resources(resources, "resources")
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_retries = max_retries
        self.init_kwargs = dict(init_kwargs or {})
        self._owns = False

    # ------------------------------------------------------------------ connection
    def _ray(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            kw: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
                **self.init_kwargs,
            }
            if self.address is None:
                kw.update(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
            # The local engine's workers must not inherit a forked rayon pool: Ray spawns
            # fresh worker processes, and medtrust's pool is built lazily in each.
            try:
                ray.init(address=self.address, **kw)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise EngineError(f"cannot connect to Ray at {self.address!r}: {e}") from e
            self._owns = True
        return ray

    def start(self) -> RayEngine:
        """Connect to the cluster (or start the private instance) now."""
        self._ray()
        return self

    def close(self) -> None:
        """Disconnect (and stop the private local instance) if this engine started Ray."""
        if self._owns:
            import ray

            ray.shutdown()
            self._owns = False

    # ------------------------------------------------------------------ work
    def _options(self, resources: Resources | None) -> dict[str, Any]:
        return {**self.resources, **check_resources(resources, "resources")}

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        resources: Resources | None = None,
        progress: Any = None,
    ) -> list[Outcome]:
        """``fn`` over ``items`` as Ray tasks; outcomes in order, progress as tasks finish."""
        ray = self._ray()
        task = ray.remote(_call).options(max_retries=self.max_retries, **self._options(resources))
        fn_ref = ray.put(fn)  # shipped once, not once per task
        refs = [task.remote(fn_ref, item) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Outcome | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                try:
                    out[i] = Outcome(i, value=ray.get(ref))
                except ray.exceptions.RayTaskError as e:
                    cause = e.cause if isinstance(e.cause, BaseException) else e
                    out[i] = failed(i, cause)
                except ray.exceptions.RayError as e:  # worker lost after every retry, ...
                    out[i] = failed(i, EngineError(f"task {i} was lost: {e}"))
                if progress is not None:
                    progress.update(1)
        return [o for o in out if o is not None]

    def member_trainer(self, resources: Resources) -> _MemberTrainer:
        """Members of a round as parallel Ray tasks, each asking for ``resources``."""
        return _MemberTrainer(self._options(resources), self.max_retries)

    def check_storage(self, folder: str | Path) -> None:
        """Every alive node must see ``folder`` (a token file written here, read there)."""
        ray = self._ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        folder = Path(folder).resolve()
        token = folder / f".medtrust-storage-check-{uuid.uuid4().hex}"
        secret = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        token.write_text(secret)
        try:
            probe = ray.remote(_read_token)
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            refs = [
                probe.options(
                    num_cpus=0,
                    max_retries=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
                ).remote(str(token), secret)
                for n in nodes
            ]
            blind = []
            for n, (host, ok, why) in zip(nodes, ray.get(refs, timeout=120)):
                if not ok:
                    addr = n.get("NodeManagerAddress", "?")
                    blind.append(f"node {n['NodeID'][:12]} ({host}, {addr}): {why}")
        finally:
            token.unlink(missing_ok=True)
        if blind:
            raise EngineError(
                f"the experiment folder {folder} is not visible on every Ray node; it must be "
                "on storage all nodes mount at the same path (NFS, Lustre, ...):\n  "
                + "\n  ".join(blind)
            )

    @property
    def parallelism(self) -> int:
        """CPUs of the cluster (a bound on tasks running at once)."""
        ray = self._ray()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> dict[str, Any]:
        """Engine name, address and default resources."""
        return {"engine": self.name, "address": self.address, "resources": self.resources}
