"""Data side of the AL loop: dataset materialisation, split, array cache, partial labels.

Examples
--------
>>> from medtrust.active.loop.data import split_cases
>>> held, pool = split_cases([f"c{i}" for i in range(8)], 0.25, seed=0)
>>> len(held), len(pool)
(2, 6)
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._extras import require
from medtrust.active.trainers.base import CaseData
from medtrust.exceptions import DatasetError

__all__ = [
    "DatasetView",
    "dataset_shapes",
    "materialize_dataset",
    "partial_labels",
    "split_cases",
]


def _synthetic_params(cfg: Any) -> dict[str, Any]:
    from medtrust.data.nnunet_dataset import synthetic_segmentation

    defaults = synthetic_segmentation.__kwdefaults__ or {}
    params = {k: v for k, v in defaults.items() if k != "progress"}
    params.update(cfg.dataset["synthetic"])
    params["shape"] = [int(v) for v in params["shape"]]
    params["spacing"] = [float(v) for v in params["spacing"]]
    return params


def synthetic_folder_name(cfg: Any) -> str:
    """Folder name of a config's synthetic dataset (nnU-Net style, parameter hash)."""
    key = hashlib.sha256(repr(sorted(_synthetic_params(cfg).items())).encode()).hexdigest()[:8]
    return f"Dataset900_MedtrustSynthetic_{key}"


def dataset_shapes(cfg: Any, *, working: bool = False) -> dict[str, tuple[int, int, int]]:
    """Case -> spatial shape, without generating a synthetic dataset (header reads only).

    With ``working=True`` and a configured ``target_spacing``, the shapes of the working
    grid the loop selects on (:func:`medtrust.active.spacing.working_shape` of the header's
    shape and spacing); otherwise the raw shapes.
    """
    raw = _raw_shapes_and_spacings(cfg)
    target = getattr(cfg, "array_target_spacing", None)
    if not working or target is None:
        return {c: shape for c, (shape, _) in raw.items()}
    from medtrust.active.spacing import working_shape

    return {c: working_shape(shape, sp, target) for c, (shape, sp) in raw.items()}


def _raw_shapes_and_spacings(cfg: Any) -> dict[str, tuple[Any, Any]]:
    if "synthetic" in cfg.dataset:
        p = _synthetic_params(cfg)
        if int(p["n_cases"]) < 2 or len(p["shape"]) != 3 or min(p["shape"]) < 4:
            from medtrust.exceptions import ConfigError

            raise ConfigError(
                f"dataset.synthetic needs n_cases >= 2 and a 3-D shape of >= 4 "
                f"voxels per axis, got n_cases={p['n_cases']}, shape={p['shape']}"
            )
        shape = tuple(int(v) for v in reversed(p["shape"]))  # files hold the reversed axes
        sp = tuple(float(v) for v in reversed(p["spacing"]))
        return {f"synth_{i:03d}": (shape, sp) for i in range(int(p["n_cases"]))}
    require("nibabel", "io")
    import nibabel as nib

    from medtrust.io.nnunet import load_nnunet_dataset

    ds = load_nnunet_dataset(cfg.dataset_path())
    shapes = {}
    for case in ds.cases:
        try:
            hdr = nib.load(str(ds.label_file(case))).header
        except Exception as e:
            raise DatasetError(f"cannot read {ds.label_file(case)}: {e}") from e
        shape = tuple(int(v) for v in hdr.get_data_shape())
        if len(shape) != 3:
            raise DatasetError(f"{ds.label_file(case)}: the AL loop needs 3-D images, got {shape}")
        shapes[case] = (shape, tuple(float(v) for v in hdr.get_zooms()[:3]))
    return shapes


def split_cases(
    cases: Sequence[str], fraction: float, seed: int, level_separator: str | None = None
) -> tuple[list[str], list[str]]:
    """Held-out and pool cases, drawn at random: ``int(fraction * n)`` held out (nnActive).

    With ``level_separator`` the cases are grouped by the part of their id before its first
    occurrence (``patient001_frame01`` and ``patient001_frame12`` -> ``patient001`` with
    ``"_frame"``), and whole groups go to one side: ``int(fraction * n_groups)`` groups are
    held out, so no patient is in both. One group (or case) is held out at least, where nnActive
    would hold out none (an experiment without held-out images cannot be evaluated).

    Examples
    --------
    >>> held, pool = split_cases(["p1_a", "p1_b", "p2_a", "p3_a"], 0.25, 0, "_")
    >>> len({c.split("_")[0] for c in held} & {c.split("_")[0] for c in pool})
    0
    """
    cases = sorted(cases)
    groups: dict[str, list[str]] = {}
    for c in cases:
        key = c.split(level_separator, 1)[0] if level_separator else c
        groups.setdefault(key, []).append(c)
    names = sorted(groups)
    n = len(names)
    n_held = min(max(1, int(fraction * n)), n)
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(n)
    held = sorted(c for i in order[:n_held] for c in groups[names[i]])
    pool = sorted(c for i in order[n_held:] for c in groups[names[i]])
    return held, pool


def _save_npy(path: Path, arr: np.ndarray) -> None:
    from medtrust._io import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write_bytes(path, buf.getvalue())


@dataclass(frozen=True)
class DatasetView:
    """An nnU-Net dataset with its normalised-array cache, as the loop uses it."""

    dataset: Any  # NnUNetDataset
    cache: Path
    shapes: dict[str, tuple[int, int, int]]
    spacings: dict[str, tuple[float, float, float]]
    #: Shapes of the raw images when the cache holds a working grid at a target spacing
    #: (:mod:`medtrust.active.spacing`); None: the cache is on the raw grid.
    raw_shapes: dict[str, tuple[int, int, int]] | None = None
    #: The working grid's spacing (array order), configured or nnU-Net's plan; None: raw grid.
    target_spacing: tuple[float, float, float] | None = None

    @property
    def resampled(self) -> bool:
        """Whether the loop works on a resampled grid (round files then map back)."""
        return self.raw_shapes is not None

    @property
    def n_classes(self) -> int:
        """Classes incl. background."""
        return int(self.dataset.n_classes)

    @property
    def ignore_label(self) -> int:
        """Label of unlabelled voxels in partial label maps."""
        return self.n_classes

    def case(self, case: str, label: Path | None = None) -> CaseData:
        """Trainer view of one case."""
        return CaseData(
            case=case,
            image_files=tuple(self.dataset.image_files(case)),
            array=self.cache / f"{case}.img.npy",
            shape=self.shapes[case],
            spacing=self.spacings[case],
            label=label,
        )

    def ground_truth(self, case: str) -> np.ndarray:
        """Full label map on the working grid (memory-mapped)."""
        return np.load(self.cache / f"{case}.gt.npy", mmap_mode="r")

    def raw_ground_truth(self, case: str) -> np.ndarray:
        """Full label map on the raw image grid (memory-mapped; the working one if the same)."""
        f = self.cache / f"{case}.raw_gt.npy"
        return np.load(f if self.resampled else self.cache / f"{case}.gt.npy", mmap_mode="r")

    def median_spacing(self, cases: Iterable[str]) -> tuple[float, float, float]:
        """Median spacing of some cases."""
        sp = np.median(np.array([self.spacings[c] for c in cases]), axis=0)
        return tuple(float(v) for v in sp)  # type: ignore[return-value]


def materialize_dataset(cfg: Any, out: Path, *, progress: bool = False) -> DatasetView:
    """Generate the synthetic dataset if needed, and build the array cache (idempotent).

    The cache holds each image z-score normalised per channel (``CASE.img.npy``, float32
    ``[C_in, Z, Y, X]``) and each label map (``CASE.gt.npy``); files are written atomically,
    so an interrupted build resumes where it stopped. With ``cfg.target_spacing`` both are
    resampled to the working grid (:mod:`medtrust.active.spacing`: linear for the image,
    nearest centre for the labels) and the raw label map is kept as ``CASE.raw_gt.npy``. With
    the ``nnunet`` backend and no ``target_spacing`` the working grid is at nnU-Net's plan
    spacing for the whole dataset (:func:`~medtrust.active.trainers.nnunet.plan_spacing`).
    """
    from medtrust._io import atomic_write_json
    from medtrust._io import progress as bar
    from medtrust.io.nnunet import load_nnunet_dataset

    out = Path(out)
    if "synthetic" in cfg.dataset:
        from medtrust.data.nnunet_dataset import synthetic_segmentation

        ds = synthetic_segmentation(
            out / "data" / synthetic_folder_name(cfg), **_synthetic_params(cfg), progress=progress
        )
    else:
        ds = load_nnunet_dataset(cfg.dataset_path())
    target = getattr(cfg, "array_target_spacing", None)
    if target is None and getattr(cfg, "trainer", {}).get("backend") == "nnunet":
        target = _nnunet_plan_target(cfg, ds, out)
    ident = str(Path(ds.root).resolve()) + ("" if target is None else f"|spacing={list(target)}")
    key = hashlib.sha256(ident.encode()).hexdigest()[:8]
    cache = out / "cache" / f"{Path(ds.root).name}_{key}"
    meta_file = cache / "meta.json"
    if meta_file.is_file():
        import json

        meta = json.loads(meta_file.read_text())
        raw = meta.get("raw_shapes")
        return DatasetView(
            ds,
            cache,
            {k: tuple(v) for k, v in meta["shapes"].items()},
            {k: tuple(v) for k, v in meta["spacings"].items()},
            None if raw is None else {k: tuple(v) for k, v in raw.items()},
            target,
        )
    shapes, spacings, raw_shapes = {}, {}, {}
    for case in bar(ds.cases, desc="cache", enabled=progress):
        img, sp, _ = ds.read_image(case)
        lab, _lsp, _ = ds.read_label(case)
        if img.shape[1:] != lab.shape or len(lab.shape) != 3:
            raise DatasetError(
                f"{case}: image shape {img.shape[1:]} != label shape {lab.shape} "
                "(3-D images expected)"
            )
        if lab.size and int(lab.max()) >= ds.n_classes:
            raise DatasetError(
                f"{case}: label value {int(lab.max())} >= number of classes "
                f"{ds.n_classes} (ignore labels are not allowed in the ground "
                "truth of an AL simulation)"
            )
        mean = img.reshape(img.shape[0], -1).mean(1)[:, None, None, None]
        std = img.reshape(img.shape[0], -1).std(1)[:, None, None, None]
        norm = ((img - mean) / np.maximum(std, 1e-8)).astype(np.float32)
        lab = lab.astype(np.uint8)
        raw_shapes[case] = tuple(int(s) for s in lab.shape)
        if target is not None:
            from medtrust.active.spacing import resample_image, resample_labels, working_shape

            _save_npy(cache / f"{case}.raw_gt.npy", lab)
            work = working_shape(lab.shape, sp, target)
            norm, lab = resample_image(norm, work), resample_labels(lab, work)
            sp = target
        _save_npy(cache / f"{case}.img.npy", norm)
        _save_npy(cache / f"{case}.gt.npy", lab)
        shapes[case] = tuple(int(s) for s in lab.shape)
        spacings[case] = tuple(float(s) for s in sp)
    meta = {"root": str(ds.root), "shapes": shapes, "spacings": spacings}
    if target is not None:
        meta["raw_shapes"] = raw_shapes
    atomic_write_json(meta_file, meta)
    return DatasetView(
        ds,
        cache,
        shapes,  # type: ignore[arg-type]
        spacings,  # type: ignore[arg-type]
        None if target is None else raw_shapes,  # type: ignore[arg-type]
        target,
    )


def _nnunet_plan_target(cfg: Any, ds: Any, out: Path) -> tuple[float, float, float]:
    """nnU-Net's plan spacing for the whole dataset, in array order (cached under ``out``)."""
    from medtrust.active.trainers.nnunet import plan_spacing

    settings = cfg.trainer_settings()
    ident = "|".join(
        [
            str(Path(ds.root).resolve()),
            settings.planner,
            settings.plans_identifier,
            settings.configuration,
        ]
    )
    key = hashlib.sha256(ident.encode()).hexdigest()[:8]
    sp = plan_spacing(ds, settings, out / "cache" / f"nnunet_plan_{key}")
    return (float(sp[2]), float(sp[1]), float(sp[0]))  # plans order is SimpleITK's


def partial_labels(
    gt: np.ndarray, boxes: Iterable[tuple[Sequence[int], Sequence[int]]], ignore: int
) -> np.ndarray:
    """Ground truth inside the boxes ``(start, size)``, ``ignore`` elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> partial_labels(np.ones((1, 1, 4), np.uint8), [((0, 0, 1), (1, 1, 2))], 9).tolist()
    [[[9, 1, 1, 9]]]
    """
    out = np.full(gt.shape, ignore, dtype=np.uint8)
    for start, size in boxes:
        sl = tuple(slice(max(int(a), 0), int(a) + int(n)) for a, n in zip(start, size))
        out[sl] = gt[sl]
    return out
