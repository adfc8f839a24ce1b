"""Synthetic 3D segmentation dataset in nnU-Net v2 raw format (the embedded AL dataset).

(:func:`medtrust.data.synthetic_failure_cases` writes ensemble predictions for failure
detection; this module writes a training dataset.)

Each case is a 3D image with anisotropic spacing (thick slices first, as SimpleITK and
nnU-Net read it; the NIfTI files store the axes reversed like a scanner's, so nibabel, and
:mod:`medtrust.io`, read the slice axis last) showing

- ``organ``: a large, irregular ellipsoid (~10-20 % of the volume),
- ``lesion``: a medium blob inside the organ, darker than it (~1-2 %),
- ``vessel``: a small, rare, bright tube segment (~0.05-0.2 %, absent from about a third of
  the cases),

over a textured background with Gaussian noise. "Hard" cases have more noise, lower contrast,
a smooth bias field and blurred boundaries. Geometry is defined in millimetres, so shapes stay
round in physical space whatever the spacing.

Examples
--------
>>> import tempfile, pathlib
>>> from medtrust.data import synthetic_segmentation
>>> ds = synthetic_segmentation(pathlib.Path(tempfile.mkdtemp()) / "Dataset900_Synth",
...                             n_cases=2, shape=(8, 24, 24), seed=0)
>>> ds.class_names, len(ds.cases)
(('background', 'organ', 'lesion', 'vessel'), 2)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medtrust.exceptions import InvalidArgumentError

__all__ = ["SYNTHETIC_LABELS", "synthetic_case", "synthetic_segmentation"]

#: Class name -> label of the synthetic dataset.
SYNTHETIC_LABELS: dict[str, int] = {"background": 0, "organ": 1, "lesion": 2, "vessel": 3}


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int) -> np.ndarray:
    """Low-frequency random field in [-1, 1] (random grid, trilinearly upsampled)."""
    from scipy.ndimage import zoom

    coarse = rng.uniform(-1, 1, size=tuple(max(2, min(cells, s)) for s in shape))
    f = zoom(coarse, [s / c for s, c in zip(shape, coarse.shape)], order=1, mode="nearest")
    return f[tuple(slice(0, s) for s in shape)].astype(np.float32)


def synthetic_case(
    shape: Sequence[int],
    spacing: Sequence[float],
    rng: np.random.Generator,
    *,
    hard: bool = False,
    vessel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic case: ``(image float32, label uint8)`` of ``shape``."""
    from scipy.ndimage import gaussian_filter

    shape = tuple(int(s) for s in shape)
    sp = np.asarray(spacing, dtype=np.float64)
    extent = np.asarray(shape) * sp  # mm
    grids = np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, sp)], indexing="ij")
    label = np.zeros(shape, np.uint8)

    def blob(center: np.ndarray, radii: np.ndarray, wobble: float) -> np.ndarray:
        f = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii))
        return f - 1.0 + wobble * _smooth_field(rng, shape, 4) < 0

    organ_c = extent * rng.uniform(0.4, 0.6, 3)
    organ_r = extent * rng.uniform(0.25, 0.33, 3)
    organ = blob(organ_c, organ_r, 0.35)
    label[organ] = 1
    lesion_c = organ_c + organ_r * rng.uniform(-0.35, 0.35, 3)
    lesion_r = np.maximum(organ_r * rng.uniform(0.4, 0.55, 3), 1.5 * sp)
    lesion = blob(lesion_c, lesion_r, 0.25) & organ
    label[lesion] = 2
    if vessel:
        # A short bright tube outside the organ: a segment with a radius of ~1.5 voxels in-plane.
        a = extent * rng.uniform(0.1, 0.9, 3)
        direction = rng.normal(size=3)
        direction[0] *= 0.3  # mostly in-plane
        direction /= np.linalg.norm(direction)
        b = np.clip(a + direction * extent.max() * 0.3, 0, extent)
        ab = b - a
        t = sum((g - ai) * d for g, ai, d in zip(grids, a, ab)) / max(float(ab @ ab), 1e-9)
        t = np.clip(t, 0, 1)
        dist2 = sum((g - (ai + t * d)) ** 2 for g, ai, d in zip(grids, a, ab))
        radius = 2.2 * float(sp[1:].min())
        tube = (dist2 < radius**2) & (label == 0)
        label[tube] = 3

    contrast = 0.55 if hard else 1.0
    noise = 0.45 if hard else 0.25
    means = {0: 0.0, 1: 1.0 * contrast, 2: 0.35 * contrast, 3: 2.5}
    img = np.zeros(shape, np.float32)
    for k, m in means.items():
        img[label == k] = m
    texture = _smooth_field(rng, shape, 8) * 0.25 + _smooth_field(rng, shape, 16) * 0.15
    img += texture
    if hard:
        img = gaussian_filter(img, sigma=0.8 / sp * sp.min())
        img *= 1.0 + 0.4 * _smooth_field(rng, shape, 3)  # bias field
    img += rng.normal(0.0, noise, size=shape).astype(np.float32)
    return (img * 100.0 + 40.0).astype(np.float32), label


def synthetic_segmentation(
    out: str | Path,
    *,
    n_cases: int = 16,
    shape: Sequence[int] = (24, 64, 64),
    spacing: Sequence[float] = (3.0, 1.0, 1.0),
    seed: int = 0,
    hard_fraction: float = 0.3,
    vessel_fraction: float = 0.7,
    progress: bool = False,
) -> Any:  # NnUNetDataset
    """Write a synthetic nnU-Net v2 raw dataset to ``out`` and return it opened.

    Parameters
    ----------
    out
        Dataset folder to create (nnU-Net names it ``DatasetXXX_Name``). When it already holds a
        dataset generated with the same parameters it is reused; otherwise it must not exist.
    n_cases
        Number of cases (>= 2).
    shape, spacing
        Shape and voxel size (mm) per axis in SimpleITK array order (z, y, x: thick slices
        first by default), the order of the paper's patch sizes. The NIfTI files hold the
        reversed axes, as real scans do: :func:`medtrust.io.load_nifti` returns arrays of shape
        ``shape[::-1]`` with spacing ``spacing[::-1]``.
    seed
        Seed of everything random; the same seed gives byte-identical images.
    hard_fraction
        Fraction of hard cases (noisier, lower contrast, bias field, blur).
    vessel_fraction
        Fraction of cases showing the small rare ``vessel`` structure.
    progress
        Show a progress bar.

    Returns
    -------
    NnUNetDataset
        The dataset, opened with :func:`medtrust.io.load_nnunet_dataset`.
    """
    from medtrust._io import progress as bar
    from medtrust.io.nnunet import load_nnunet_dataset, write_dataset_json, write_nnunet_case

    shape = tuple(int(s) for s in shape)
    spacing = tuple(float(s) for s in spacing)
    if n_cases < 2:
        raise InvalidArgumentError(f"n_cases must be >= 2, got {n_cases}")
    if len(shape) != 3 or min(shape) < 4:
        raise InvalidArgumentError(f"shape must be 3 axes of >= 4 voxels, got {shape}")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise InvalidArgumentError(f"spacing must be 3 positive values, got {spacing}")
    for name, frac in (("hard_fraction", hard_fraction), ("vessel_fraction", vessel_fraction)):
        if not 0.0 <= frac <= 1.0:
            raise InvalidArgumentError(f"{name} must lie in [0, 1], got {frac}")
    params: dict[str, Any] = {
        "n_cases": n_cases,
        "shape": list(shape),
        "spacing": list(spacing),
        "seed": seed,
        "hard_fraction": hard_fraction,
        "vessel_fraction": vessel_fraction,
    }
    out = Path(out)
    if out.exists():
        ds = load_nnunet_dataset(out)
        if ds.meta.get("medtrust_synthetic", {}).get("params") == params:
            return ds
        raise InvalidArgumentError(
            f"{out} exists and was not generated with these parameters; choose another folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        root = np.random.SeedSequence(seed)
        streams = root.spawn(n_cases + 1)
        order = np.random.default_rng(streams[-1])
        hard = np.zeros(n_cases, bool)
        hard[order.permutation(n_cases)[: round(hard_fraction * n_cases)]] = True
        vessel = np.zeros(n_cases, bool)
        vessel[order.permutation(n_cases)[: round(vessel_fraction * n_cases)]] = True
        cases = [f"synth_{i:03d}" for i in range(n_cases)]
        for i in bar(range(n_cases), desc="synthetic cases", enabled=progress):
            img, lab = synthetic_case(
                shape, spacing, np.random.default_rng(streams[i]), hard=hard[i], vessel=vessel[i]
            )
            # Stored like a scan: NIfTI voxel order (i, j, k) = SimpleITK's (x, y, z).
            write_nnunet_case(tmp, cases[i], img.T, lab.T, spacing=spacing[::-1])
        write_dataset_json(
            tmp,
            labels=SYNTHETIC_LABELS,
            channel_names={"0": "synthetic"},
            num_training=n_cases,
            name=out.name,
            description="medtrust synthetic 3D segmentation dataset",
            medtrust_synthetic={
                "params": params,
                "hard": [c for c, h in zip(cases, hard) if h],
                "vessel": [c for c, v in zip(cases, vessel) if v],
            },
        )
        try:
            os.rename(tmp, out)
        except OSError:
            # Another process created it meanwhile: keep theirs if it matches.
            shutil.rmtree(tmp, ignore_errors=True)
            return synthetic_segmentation(out, **params, progress=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_nnunet_dataset(out)
