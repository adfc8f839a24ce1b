"""The unlabelled pool a strategy queries: image ids, shapes, uncertainty and (oracle) labels.

The uncertainty source is a callable ``image_id -> EnsembleAccumulator``: it streams the
image's M member softmaxes into a fresh accumulator when the strategy asks for it, so only one
image's (C + 1) x voxels state is alive at a time. :func:`~medtrust.active.probs_dir_source`
(:mod:`medtrust.active.sources`) builds one from a folder of saved softmax maps;
:meth:`Pool.from_arrays` from in-memory arrays.

Examples
--------
>>> import numpy as np
>>> from medtrust.active import Pool
>>> probs = {"a": np.full((2, 2, 4, 4, 4), 0.5, np.float32)}  # [M, C, Z, Y, X]
>>> pool = Pool.from_arrays(probs)
>>> pool.image_ids, pool.shapes["a"], pool.uncertainty("a").n_members
(('a',), (4, 4, 4), 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medtrust._arrays import to_numpy
from medtrust.active._common import as_triple
from medtrust.exceptions import (
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    ShapeMismatchError,
)
from medtrust.uncertainty import EnsembleAccumulator

__all__ = ["AccumulatorSource", "LabelSource", "Pool", "UncertaintySource", "members"]

UncertaintySource = Callable[[str], EnsembleAccumulator]
LabelSource = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class Pool:
    """Images a strategy may query.

    Parameters
    ----------
    image_ids
        Unique image ids (file names without ending, as in round files).
    shapes
        ``image_id -> (Z, Y, X)``.
    uncertainty
        ``image_id -> EnsembleAccumulator`` with the members' softmax maps (uncertainty
        strategies only).
    labels
        ``image_id -> integer label map [Z, Y, X]``: ground truth, used only by the oracle-based
        random baselines (``random_fg*``, ``*_all_classes``).
    features
        ``image_id -> feature map [F, z, y, x]`` of the model (any resolution covering the
        image, e.g. an encoder stage), used by diversity strategies (``kmeans_bald``).
    """

    image_ids: tuple[str, ...]
    shapes: Mapping[str, tuple[int, int, int]]
    uncertainty: UncertaintySource | None = field(default=None, compare=False)
    labels: LabelSource | None = field(default=None, compare=False)
    features: Callable[[str], Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        ids = tuple(self.image_ids)
        if not ids:
            raise EmptyInputError("the pool has no images")
        if len(set(ids)) != len(ids):
            raise InvalidArgumentError("image ids in the pool must be unique")
        for i in ids:
            if not isinstance(i, str) or not i:
                raise InvalidArgumentError(f"image ids must be non-empty strings, got {i!r}")
        missing = [i for i in ids if i not in self.shapes]
        if missing:
            raise InvalidArgumentError(f"no shape given for image(s) {missing[:5]}")
        shapes = {i: as_triple(self.shapes[i], f"shape of {i}") for i in ids}
        object.__setattr__(self, "image_ids", ids)
        object.__setattr__(self, "shapes", shapes)

    def sorted_ids(self) -> list[str]:
        """Image ids in sorted order (strategies visit images in this order).

        Returns
        -------
        list of str
            The pool's image ids, sorted.
        """
        return sorted(self.image_ids)

    def accumulator(self, image_id: str, kinds: Sequence[str] | None = None) -> EnsembleAccumulator:
        """The image's accumulator from the uncertainty source, checked against its shape.

        ``kinds``: the maps the caller will read (``EnsembleAccumulator(kinds=...)``). Sources
        built by :meth:`from_arrays` and :func:`probs_dir_source` then keep only the sums those
        maps need (no members' entropies for PE / ClaSP); other sources get the image id only.

        Parameters
        ----------
        image_id : str
            Id of an image of the pool.
        kinds : sequence of str, optional
            The uncertainty maps the caller will read; None (default) keeps every sum.

        Returns
        -------
        EnsembleAccumulator
            The image's accumulator, with at least one member and the image's spatial shape.

        Raises
        ------
        InvalidArgumentError
            The pool has no uncertainty source.
        DTypeError
            The source did not return an :class:`EnsembleAccumulator`.
        EmptyInputError
            The accumulator has no member.
        ShapeMismatchError
            Its spatial shape differs from the pool's shape of the image.
        """
        if self.uncertainty is None:
            raise InvalidArgumentError("this strategy needs a pool with an uncertainty source")
        if kinds is not None and isinstance(self.uncertainty, AccumulatorSource):
            acc = self.uncertainty(image_id, kinds=kinds)
        else:
            acc = self.uncertainty(image_id)
        if not isinstance(acc, EnsembleAccumulator):
            raise DTypeError(
                f"the uncertainty source must return an EnsembleAccumulator, got "
                f"{type(acc).__name__} for {image_id!r}"
            )
        if acc.n_members == 0:
            raise EmptyInputError(f"the uncertainty source gave no member for {image_id!r}")
        if acc.spatial_shape != self.shapes[image_id]:
            raise ShapeMismatchError(
                f"probabilities of {image_id!r} have spatial shape {acc.spatial_shape}, the pool "
                f"says {self.shapes[image_id]}"
            )
        return acc

    def label_map(self, image_id: str) -> np.ndarray:
        """The image's integer ground-truth label map, checked against its shape.

        Parameters
        ----------
        image_id : str
            Id of an image of the pool.

        Returns
        -------
        numpy.ndarray
            Integer label map ``[Z, Y, X]`` with values >= 0 (booleans become uint8).

        Raises
        ------
        InvalidArgumentError
            The pool has no label source.
        DTypeError
            The labels are not integers or are negative.
        ShapeMismatchError
            Their shape differs from the pool's shape of the image.
        """
        if self.labels is None:
            raise InvalidArgumentError(
                "this strategy places boxes from the ground truth: give the pool a label source"
            )
        lab = to_numpy(self.labels(image_id), f"labels of {image_id}")
        if lab.dtype == bool:
            lab = lab.astype(np.uint8)
        if not np.issubdtype(lab.dtype, np.integer):
            raise DTypeError(f"labels of {image_id!r} must be integers, got dtype {lab.dtype}")
        if lab.shape != self.shapes[image_id]:
            raise ShapeMismatchError(
                f"labels of {image_id!r} have shape {lab.shape}, the pool says "
                f"{self.shapes[image_id]}"
            )
        if lab.size and lab.min() < 0:
            raise DTypeError(f"labels of {image_id!r} must be >= 0 (got {lab.min()})")
        return lab

    def feature_map(self, image_id: str) -> np.ndarray:
        """The image's feature map ``[F, z, y, x]`` (float), checked.

        Parameters
        ----------
        image_id : str
            Id of an image of the pool.

        Returns
        -------
        numpy.ndarray
            Float feature map ``[F, z, y, x]``.

        Raises
        ------
        InvalidArgumentError
            The pool has no features source.
        ShapeMismatchError
            The features are not a 4-d float array.
        """
        if self.features is None:
            raise InvalidArgumentError(
                "this strategy needs model features: give the pool a features source"
            )
        f = to_numpy(self.features(image_id), f"features of {image_id}")
        if f.ndim != 4 or not np.issubdtype(f.dtype, np.floating):
            raise ShapeMismatchError(
                f"features of {image_id!r} must be a float [F, z, y, x] array, got "
                f"{f.dtype} {f.shape}"
            )
        return f

    @classmethod
    def from_arrays(
        cls,
        probs: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, Any] | None = None,
        shapes: Mapping[str, Sequence[int]] | None = None,
        features: Mapping[str, Any] | None = None,
        **acc_options: Any,
    ) -> Pool:
        """A pool over in-memory arrays.

        ``probs[image_id]`` is ``[M, C, Z, Y, X]`` or a sequence of M ``[C, Z, Y, X]`` members
        (numpy or torch, CUDA tensors accumulate on their device); ``labels[image_id]`` an
        integer map; ``features[image_id]`` a ``[F, z, y, x]`` feature map. Shapes come from the
        arrays unless given.
        """
        if probs is None and labels is None and shapes is None:
            raise EmptyInputError("give probs, labels or shapes")
        src = probs if probs is not None else (labels if labels is not None else shapes)
        assert src is not None
        ids = tuple(src)
        shp: dict[str, tuple[int, int, int]] = {}
        for i in ids:
            if shapes is not None and i in shapes:
                shp[i] = as_triple(shapes[i], f"shape of {i}")
            elif probs is not None:
                shp[i] = as_triple(tuple(_first_member(probs[i]).shape[1:]), f"shape of {i}")
            elif labels is not None:
                shp[i] = as_triple(tuple(np.shape(labels[i])), f"shape of {i}")

        def members_of(image_id: str) -> Iterable[Any]:
            assert probs is not None
            return members(probs[image_id])

        unc = AccumulatorSource(members_of, acc_options)

        def lab(image_id: str) -> np.ndarray:
            assert labels is not None
            return labels[image_id]

        return cls(
            ids,
            shp,
            uncertainty=unc if probs is not None else None,
            labels=lab if labels is not None else None,
            features=features.__getitem__ if features is not None else None,
        )


class AccumulatorSource:
    """An uncertainty source that streams an image's members into a new accumulator.

    Called as ``source(image_id)``, or ``source(image_id, kinds=[...])`` by
    :meth:`Pool.accumulator`, which then keeps only the sums those maps need (unless
    ``acc_options`` fix ``kinds`` themselves).

    With ``reuse_buffers`` (default) the state buffers of the previous image's accumulator
    serve the next one: an accumulator dropped while nothing else refers to its buffers leaves
    them to the next accumulator of that size (see
    :meth:`EnsembleAccumulator.release_buffers`), so a query over the pool allocates and
    page-faults its (C + 1) x voxels state once, not once per image. That happens only once
    the previous accumulator and every array from its :meth:`~EnsembleAccumulator.state` were
    dropped (as strategies do after scoring an image); otherwise new buffers are allocated, so
    an accumulator still in use is never overwritten.

    Parameters
    ----------
    members_of
        Image id -> iterable of its members' probabilities ``[C, Z, Y, X]``.
    acc_options
        Keyword arguments of :class:`medtrust.uncertainty.EnsembleAccumulator`.
    reuse_buffers
        Let the previous image's state buffers serve the next image (see above); False gives
        each image's accumulator fresh buffers.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.full((2, 2, 1, 1, 1), 0.5, np.float32)  # [M, C, Z, Y, X]
    >>> source = AccumulatorSource(lambda image_id: p, {})
    >>> acc = source("a", kinds=["pe"])
    >>> acc.n_members, acc.keeps_member_entropy
    (2, False)
    """

    def __init__(
        self,
        members_of: Callable[[str], Iterable[Any]],
        acc_options: Mapping[str, Any],
        *,
        reuse_buffers: bool = True,
    ) -> None:
        self.members_of = members_of
        self.acc_options = dict(acc_options)
        self.reuse_buffers = bool(reuse_buffers)

    def __call__(self, image_id: str, kinds: Sequence[str] | None = None) -> EnsembleAccumulator:
        """The image's accumulator over all its members (only ``kinds``' sums, when given).

        Parameters
        ----------
        image_id
            The pool image.
        kinds
            Maps the caller will read (None: every sum is kept, unless ``acc_options`` say).

        Returns
        -------
        EnsembleAccumulator
            The image's accumulator over all its members.
        """
        opts = dict(self.acc_options)
        if kinds is not None:
            opts.setdefault("kinds", list(kinds))
        acc = EnsembleAccumulator(**opts)
        if not self.reuse_buffers:
            EnsembleAccumulator.release_buffers()  # no dropped accumulator's pair: fresh pages
        # A stacked [M, C, ...] array goes through the accumulator's one-pass stack add.
        acc.add_members(self.members_of(image_id))
        return acc


def members(x: Any) -> Iterable[Any]:
    """The ensemble members ``[C, Z, Y, X]`` of ``[M, C, ...]``, one member or a list of them.

    Examples
    --------
    >>> import numpy as np
    >>> len(list(members(np.zeros((3, 2, 4, 4, 4)))))
    3
    """
    if isinstance(x, (list, tuple)):
        return x
    if getattr(x, "ndim", 0) == 5:
        return x  # iterates over its members; kept whole for the one-pass stack add
    if getattr(x, "ndim", 0) == 4:
        return (x,)
    raise ShapeMismatchError(
        f"probabilities must be [M, C, Z, Y, X], [C, Z, Y, X] or a list of members, got shape "
        f"{getattr(x, 'shape', None)}"
    )


def _first_member(x: Any) -> Any:
    return next(iter(members(x)))
