"""The unlabelled pool a strategy queries: image ids, shapes, uncertainty and (oracle) labels.

The uncertainty source is a callable ``image_id -> EnsembleAccumulator``: it streams the
image's M member softmaxes into a fresh accumulator when the strategy asks for it, so only one
image's (C + 1) x voxels state is alive at a time. :func:`probs_dir_source` builds one from a
folder of saved softmax maps; :meth:`Pool.from_arrays` from in-memory arrays.

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

import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtrust import _native
from medtrust._arrays import to_numpy
from medtrust.active._common import as_triple
from medtrust.active.patches import strip_ending
from medtrust.exceptions import (
    DatasetError,
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    ShapeMismatchError,
)
from medtrust.uncertainty import EnsembleAccumulator

__all__ = ["AccumulatorSource", "Pool", "UncertaintySource", "probs_dir_source", "score_grids"]

UncertaintySource = Callable[[str], EnsembleAccumulator]
LabelSource = Callable[[str], np.ndarray]
PROB_ENDINGS = (".npy", ".npz")


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
        """Image ids in sorted order (strategies visit images in this order)."""
        return sorted(self.image_ids)

    def accumulator(self, image_id: str, kinds: Sequence[str] | None = None) -> EnsembleAccumulator:
        """The image's accumulator from the uncertainty source, checked against its shape.

        ``kinds``: the maps the caller will read (``EnsembleAccumulator(kinds=...)``). Sources
        built by :meth:`from_arrays` and :func:`probs_dir_source` then keep only the sums those
        maps need (no members' entropies for PE / ClaSP); other sources get the image id only.
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
        """The image's integer ground-truth label map, checked against its shape."""
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
        """The image's feature map ``[F, z, y, x]`` (float), checked."""
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
            return _members(probs[image_id])

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
        self, members_of: Callable[[str], Iterable[Any]], acc_options: Mapping[str, Any]
    ) -> None:
        self.members_of = members_of
        self.acc_options = dict(acc_options)

    def __call__(self, image_id: str, kinds: Sequence[str] | None = None) -> EnsembleAccumulator:
        """The image's accumulator over all its members (only ``kinds``' sums, when given)."""
        opts = dict(self.acc_options)
        if kinds is not None:
            opts.setdefault("kinds", list(kinds))
        acc = EnsembleAccumulator(**opts)
        for m in self.members_of(image_id):
            acc.add(m)
        return acc


def _members(x: Any) -> Iterable[Any]:
    if isinstance(x, (list, tuple)):
        return x
    if getattr(x, "ndim", 0) == 5:
        return (x[m] for m in range(x.shape[0]))
    if getattr(x, "ndim", 0) == 4:
        return (x,)
    raise ShapeMismatchError(
        f"probabilities must be [M, C, Z, Y, X], [C, Z, Y, X] or a list of members, got shape "
        f"{getattr(x, 'shape', None)}"
    )


def _first_member(x: Any) -> Any:
    return next(iter(_members(x)))


# ---------------------------------------------------------------------- probability folders
def _npz_shape(path: Path) -> tuple[int, ...]:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        if not names:
            raise DatasetError(f"{path} holds no array")
        name = "probabilities.npy" if "probabilities.npy" in names else names[0]
        with z.open(name) as f:
            version = np.lib.format.read_magic(f)
            fmt = np.lib.format
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, _ = read(f)
    return tuple(shape)


def _array_shape(path: Path) -> tuple[int, ...]:
    try:
        if path.suffix == ".npy":
            return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        return _npz_shape(path)
    except DatasetError:
        raise
    except Exception as e:  # truncated / corrupt: ValueError, OSError, EOFError, BadZipFile
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _load(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            # members are read page by page, never all at once
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            key = "probabilities" if "probabilities" in z.files else z.files[0]
            return z[key]
    except Exception as e:  # truncated / corrupt: ValueError, OSError, EOFError, BadZipFile
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _prob_files(folder: Path) -> dict[str, Path]:
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in PROB_ENDINGS:
            out[strip_ending(f.name)] = f
    return out


def probs_dir_source(
    folder: str | Path, **acc_options: Any
) -> tuple[UncertaintySource, dict[str, tuple[int, int, int]]]:
    """An uncertainty source over saved softmax maps, and the images' shapes.

    Two layouts are read (arrays in [.., Z, Y, X] array-axis order):

    - one sub-folder per ensemble member, each with ``<image_id>.npy`` or ``.npz`` holding that
      member's ``[C, Z, Y, X]`` (nnU-Net's ``--save_probabilities`` output of each fold model;
      key ``probabilities`` in ``.npz``);
    - ``<image_id>.npy`` / ``.npz`` files holding ``[M, C, Z, Y, X]`` (or ``[C, Z, Y, X]``).

    ``.npy`` files are memory-mapped, so members stream from disk one at a time.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no such probabilities folder: {folder}")
    subdirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and _prob_files(d)]
    shapes: dict[str, tuple[int, int, int]] = {}
    if subdirs:
        per_member = [_prob_files(d) for d in subdirs]
        ids = sorted(set(per_member[0]))
        for files, d in zip(per_member[1:], subdirs[1:]):
            if set(files) != set(ids):
                diff = sorted(set(files) ^ set(ids))[:5]
                raise DatasetError(
                    f"member folder {d.name} does not hold the same images as "
                    f"{subdirs[0].name} (differences: {diff})"
                )
        for i in ids:
            shp = _array_shape(per_member[0][i])
            if len(shp) != 4:
                raise DatasetError(f"{per_member[0][i]} must hold [C, Z, Y, X], got {shp}")
            shapes[i] = as_triple(shp[1:], f"shape of {i}")

        def member_files(image_id: str) -> Iterable[Any]:
            return (_load(files[image_id]) for files in per_member)

        return AccumulatorSource(member_files, acc_options), shapes
    files = _prob_files(folder)
    if not files:
        raise DatasetError(f"{folder} holds no .npy/.npz probabilities and no member folders")
    for i, f in files.items():
        shp = _array_shape(f)
        if len(shp) not in (4, 5):
            raise DatasetError(f"{f} must hold [M, C, Z, Y, X] or [C, Z, Y, X], got {shp}")
        shapes[i] = as_triple(shp[-3:], f"shape of {i}")

    def flat_members(image_id: str) -> Iterable[Any]:
        return _members(_load(files[image_id]))

    return AccumulatorSource(flat_members, acc_options), shapes


# ---------------------------------------------------------------------- pooled score grids
def score_grids(
    acc: EnsembleAccumulator,
    kinds: list[tuple[str, int | None]],
    *,
    patch_size: Sequence[int],
    stride: Sequence[int],
    clip: bool = True,
) -> tuple[np.ndarray, tuple[int, int, int], tuple[int, int, int]]:
    """Patch scores ``[len(kinds), gz, gy, gx]`` (float64) of uncertainty maps of one image.

    On the Rust backend the maps are computed row by row inside the pooling kernel (no
    full-volume map); on the torch backend maps and summed-area tables are computed on the
    state's device and only the score grids come back. Returns (scores, clipped patch, dims).
    """
    shape = acc.spatial_shape
    if shape is None or len(shape) != 3:
        raise ShapeMismatchError(f"patch scores need 3D volumes, got spatial shape {shape}")
    patch = as_triple(patch_size, "patch_size")
    st = as_triple(stride, "stride")
    eff, dims = _native.patch_grid(shape, patch, st, bool(clip))
    eff_t = (int(eff[0]), int(eff[1]), int(eff[2]))
    dims_t = (int(dims[0]), int(dims[1]), int(dims[2]))
    if acc.backend == "torch":
        # One map (and its summed-area table) on the device at a time.
        grids = np.stack([_torch_pool(acc.maps([k])[0], eff_t, st, dims_t) for k in kinds])
        return grids, eff_t, dims_t
    sum_p, sum_ent = acc.state()
    grids = _native.pool_uncertainty(
        sum_p, sum_ent, int(acc.n_classes or 0), acc.n_members, shape, kinds, patch, st, bool(clip)
    )
    return grids, eff_t, dims_t


def _torch_pool(
    m: Any, eff: tuple[int, int, int], stride: tuple[int, int, int], dims: tuple[int, int, int]
) -> np.ndarray:
    """Box means on the grid via a float64 summed-area table in torch (on the map's device)."""
    import torch

    with torch.no_grad():
        z, y, x = m.shape
        sat = torch.zeros((z + 1, y + 1, x + 1), dtype=torch.float64, device=m.device)
        sat[1:, 1:, 1:] = m.double().cumsum(0).cumsum(1).cumsum(2)
        idx = [
            torch.arange(dims[a], device=m.device) * stride[a] for a in range(3)
        ]  # grid starts per axis

        def corner(dz: int, dy: int, dx: int) -> Any:
            return sat[idx[0] + dz][:, idx[1] + dy][:, :, idx[2] + dx]

        pz, py, px = eff
        total = (
            corner(pz, py, px)
            - corner(0, py, px)
            - corner(pz, 0, px)
            - corner(pz, py, 0)
            + corner(0, 0, px)
            + corner(0, py, 0)
            + corner(pz, 0, 0)
            - corner(0, 0, 0)
        )
        means = (total / float(pz * py * px)).clamp_min(0.0)
        return means.cpu().numpy()
