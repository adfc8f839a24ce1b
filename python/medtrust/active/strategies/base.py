"""Strategy base class, the query context and the registry of strategy names."""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from medtrust.active._common import as_triple, check_count, check_seed
from medtrust.active.patch import Patch
from medtrust.active.pool import Pool
from medtrust.active.result import QueryLog, QueryResult
from medtrust.active.selection import Ties, check_ties
from medtrust.exceptions import DTypeError, InvalidArgumentError, QueryShortfallWarning

__all__ = [
    "QueryContext",
    "QueryShortfallWarning",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "register_strategy",
    "strategy_needs_features",
]


@dataclass
class QueryContext:
    """Everything one query call works with (built by :meth:`Strategy.query`)."""

    pool: Pool
    annotated: dict[str, list[Patch]]
    size: int
    round_index: int
    seed: int
    candidates: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: Why the query may come out short (set by the strategy; reported when it does).
    shortfall_cause: str | None = None

    def blocked(self, image_id: str) -> list[Patch]:
        """Annotated patches of ``image_id`` (a copy the caller may extend)."""
        return list(self.annotated.get(image_id, ()))

    def note(self, msg: str, *, warn: bool = False) -> None:
        """Record a message in the log (and warn when it is a shortfall)."""
        self.messages.append(msg)
        if warn:
            warnings.warn(msg, QueryShortfallWarning, stacklevel=4)

    def add_candidate(
        self, patch: Patch, stratum: str, score: float | None, key: float | None
    ) -> int:
        """Log a candidate; returns its row index."""
        self.candidates.append(
            {
                "image_id": patch.image_id,
                "stratum": stratum,
                "z": patch.start[0],
                "y": patch.start[1],
                "x": patch.start[2],
                "size_z": patch.size[0],
                "size_y": patch.size[1],
                "size_x": patch.size[2],
                "score": score,
                "key": key,
                "selected": False,
                "query_rank": None,
                "_patch": patch,
            }
        )
        return len(self.candidates) - 1


class Strategy(ABC):
    """A query strategy: ``query(pool, annotated, size=..., round_index=..., seed=...)``.

    Common configuration (keyword arguments of :func:`get_strategy`) is described below.

    Parameters
    ----------
    patch_size
        Box size (z, y, x) or one int; required.
    stride
        Pooling stride of candidate start positions (int or z, y, x); default 1.
    n_patch_per_image
        Candidates kept per image (ClaSP: per image over all strata); default 20 (nnActive's);
        ``None``: the query size (nnActive's ``n_patch_per_image=None``).
    clip
        Clip the patch to images smaller than it (default True, as nnActive); False makes that
        an error.
    ties
        Order among equal patch scores in an image: ``"first"`` (default: ascending grid
        index) or ``"nnactive"`` (nnActive's ``np.flip(np.argsort(...))`` order); see
        :func:`~medtrust.active.selection.greedy_boxes`. Across images equal keys keep the
        order of the sorted image ids and, within an image, the pick order, in both modes
        (nnActive's stable ``sorted(..., reverse=True)``).
    """

    name: str = ""
    #: Whether the strategy reads the pool's uncertainty source / ground-truth labels.
    needs_uncertainty: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    #: Whether the strategy reads the pool's model features (``kmeans_bald``).
    needs_features: ClassVar[bool] = False

    def __init__(
        self,
        *,
        patch_size: int | Sequence[int] | None = None,
        stride: int | Sequence[int] = 1,
        n_patch_per_image: int | None = 20,
        clip: bool = True,
        ties: Ties = "first",
    ) -> None:
        if patch_size is None:
            who = self.name or type(self).__name__
            raise InvalidArgumentError(f"strategy {who!r} needs patch_size=(z, y, x)")
        self.patch_size = as_triple(patch_size, "patch_size")
        self.stride = as_triple(stride, "stride")
        self.n_patch_per_image: int | None = (
            None
            if n_patch_per_image is None
            else check_count(n_patch_per_image, "n_patch_per_image", minimum=1)
        )
        self.clip = bool(clip)
        self.ties: Ties = check_ties(ties)

    def config(self) -> dict[str, Any]:
        """The full configuration (JSON-ready).

        Returns
        -------
        dict
            ``name``, ``patch_size`` and ``stride`` (lists), ``n_patch_per_image``, ``clip``,
            ``ties`` and the strategy's own options.
        """
        return {
            "name": self.name,
            "patch_size": list(self.patch_size),
            "stride": list(self.stride),
            "n_patch_per_image": self.n_patch_per_image,
            "clip": self.clip,
            "ties": self.ties,
            **self._extra_config(),
        }

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def per_image(self, size: int) -> int:
        """Candidates per image for a query of ``size`` (``n_patch_per_image`` or ``size``).

        Parameters
        ----------
        size : int
            Number of patches the query asks for.

        Returns
        -------
        int
            ``n_patch_per_image``, or ``size`` when it is None.
        """
        return size if self.n_patch_per_image is None else self.n_patch_per_image

    def beta(self, round_index: int) -> float | None:
        """Power-sampling beta of a round (None when the strategy has no noise).

        Parameters
        ----------
        round_index : int
            Index of the query round.

        Returns
        -------
        float or None
            The round's beta; the base class returns None (no noise).
        """
        return None

    def box_size(self, shape: Sequence[int]) -> tuple[int, int, int]:
        """The patch size clipped to an image (or an error when ``clip`` is off).

        Parameters
        ----------
        shape : sequence of int
            Array-order image shape ``(Z, Y, X)``.

        Returns
        -------
        tuple of int
            ``min(patch_size, shape)`` per axis.

        Raises
        ------
        InvalidArgumentError
            ``clip`` is False and the patch is larger than the image on some axis.
        """
        if not self.clip and any(p > s for p, s in zip(self.patch_size, shape)):
            raise InvalidArgumentError(
                f"patch size {self.patch_size} is larger than an image of shape {tuple(shape)}; "
                "pass clip=True to clip it to the image"
            )
        return (
            min(self.patch_size[0], shape[0]),
            min(self.patch_size[1], shape[1]),
            min(self.patch_size[2], shape[2]),
        )

    def query(
        self,
        pool: Pool,
        annotated: Iterable[Patch] = (),
        *,
        size: int,
        round_index: int = 0,
        seed: int = 0,
    ) -> QueryResult:
        """Choose ``size`` boxes to annotate.

        Parameters
        ----------
        pool
            Images, shapes and the uncertainty / label sources (:class:`~medtrust.active.Pool`).
        annotated
            Patches annotated so far (all rounds); chosen boxes never overlap them.
        size
            Query size q (>= 1).
        round_index
            0-based query round k (sets the beta schedule and the random streams).
        seed
            Experiment seed; the same (seed, round) gives the same query on any thread count.

        Returns
        -------
        QueryResult
            Patches in query order and a :class:`~medtrust.active.QueryLog`.
        """
        if not isinstance(pool, Pool):
            raise DTypeError(f"pool must be a medtrust.active.Pool, got {type(pool).__name__}")
        size = check_count(size, "size", minimum=1)
        round_index = check_count(round_index, "round_index")
        seed = check_seed(seed)
        by_image: dict[str, list[Patch]] = {}
        for p in annotated:
            if not isinstance(p, Patch):
                raise DTypeError(f"annotated must hold Patch objects, got {type(p).__name__}")
            by_image.setdefault(p.image_id, []).append(p)
        if self.needs_uncertainty and pool.uncertainty is None:
            raise InvalidArgumentError(
                f"strategy {self.name!r} needs a pool with an uncertainty source"
            )
        if self.needs_labels and pool.labels is None:
            raise InvalidArgumentError(
                f"strategy {self.name!r} places boxes from the ground truth: give the pool a "
                "label source"
            )
        if self.needs_features and pool.features is None:
            raise InvalidArgumentError(
                f"strategy {self.name!r} needs model features: give the pool a features source"
            )
        beta = self.beta(round_index)  # validates the round against the schedule early
        ctx = QueryContext(pool, by_image, size, round_index, seed)
        chosen, quotas = self._query(ctx)
        for rank, row in enumerate(chosen):
            ctx.candidates[row]["selected"] = True
            ctx.candidates[row]["query_rank"] = rank
        patches = tuple(ctx.candidates[row]["_patch"] for row in chosen)
        if len(patches) < size:
            cause = ctx.shortfall_cause or "the strategy found no further candidates"
            ctx.note(f"query got {len(patches)} of {size} requested patches: {cause}", warn=True)
        cands = tuple({k: v for k, v in c.items() if k != "_patch"} for c in ctx.candidates)
        log = QueryLog(
            strategy=self.name,
            config=self.config(),
            round_index=round_index,
            seed=seed,
            requested=size,
            beta=beta,
            quotas=quotas,
            candidates=cands,
            messages=tuple(ctx.messages),
        )
        return QueryResult(patches, log)

    @abstractmethod
    def _query(self, ctx: QueryContext) -> tuple[list[int], dict[str, dict[str, int]]]:
        """Return candidate row indices in query order and the quotas."""

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({self.name!r}, {cfg})"


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is not finite (for the log)."""
    return float(x) if math.isfinite(x) else None


def take_best(keys: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` largest keys, best first, ties by index (stable, no NaN)."""
    from medtrust import _native

    arr = np.asarray(keys, dtype=np.float64)
    return list(_native.top_k(arr, k)) if arr.size else []


# ---------------------------------------------------------------------- registry
_REGISTRY: dict[str, tuple[Callable[..., Strategy], dict[str, Any]]] = {}


def register_strategy(name: str, factory: Callable[..., Strategy], **preset: Any) -> None:
    """Register ``factory(**preset, **config)`` under ``name`` (for third-party strategies).

    Parameters
    ----------
    name : str
        Registry name (non-empty); an existing entry of that name is replaced.
    factory : callable
        Called with ``**preset, **config`` by :func:`get_strategy`; returns a
        :class:`Strategy`.
    **preset
        Keyword arguments fixed for this name (:func:`get_strategy` refuses to override them).
    """
    if not name or not isinstance(name, str):
        raise InvalidArgumentError(f"strategy name must be a non-empty string, got {name!r}")
    _REGISTRY[name] = (factory, preset)


def strategy_needs_features(name: str) -> bool:
    """Whether the registered strategy ``name`` reads model features (``kmeans_bald``).

    Examples
    --------
    >>> strategy_needs_features("kmeans_bald"), strategy_needs_features("pe")
    (True, False)
    """
    factory = _REGISTRY.get(name, (None, {}))[0]
    return bool(getattr(factory, "needs_features", False))


def list_strategies() -> list[str]:
    """Registered strategy names, sorted.

    Returns
    -------
    list of str
        The names :func:`get_strategy` accepts.
    """
    return sorted(_REGISTRY)


def get_strategy(name: str, **config: Any) -> Strategy:
    """A strategy by registry name, configured with ``config``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_strategies`).
    **config
        Keyword arguments of the strategy (see :class:`Strategy`); they may not repeat the
        registry preset of ``name``.

    Returns
    -------
    Strategy
        A new instance whose ``name`` is ``name``.

    Raises
    ------
    InvalidArgumentError
        Unknown name, a keyword fixed by the preset, or an invalid configuration.

    Examples
    --------
    >>> from medtrust.active import get_strategy
    >>> s = get_strategy("clasp_pe", patch_size=(64, 64, 64), stride=8)
    >>> s.name, round(s.beta(1), 3)
    ('clasp_pe', 3.162)
    """
    if name not in _REGISTRY:
        raise InvalidArgumentError(
            f"unknown strategy {name!r}; known strategies: {', '.join(sorted(_REGISTRY))}"
        )
    factory, preset = _REGISTRY[name]
    clash = sorted(set(preset) & set(config))
    if clash:
        raise InvalidArgumentError(
            f"strategy {name!r} fixes {clash}; choose another registry name to change them"
        )
    try:
        strategy = factory(**preset, **config)
    except InvalidArgumentError as e:
        # The instance learns its registry name only after construction: name it here.
        raise InvalidArgumentError(f"get_strategy({name!r}): {e}") from e
    strategy.name = name
    return strategy
