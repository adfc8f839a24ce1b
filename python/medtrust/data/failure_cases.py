"""Synthetic failure-detection data on disk: cases of a simulated ensemble, as NIfTI files.

:func:`synthetic_failure_cases` writes the folder layout of :mod:`medtrust.io.layout` (member
label maps, softmax ``.npz`` files, reference labels, ``domains.json``) for cases drawn from
the ensemble model of :mod:`medtrust.data.ensemble_model` (logits from signed distances,
member temperature and boundary jitter, disagreement where the prediction is wrong,
benchmark-like shifts including confident failures), plus ``generator.json`` with the model's
parameters and each case's ground truth.

Examples
--------
>>> import tempfile
>>> from medtrust.data import synthetic_failure_cases
>>> paths = synthetic_failure_cases(tempfile.mkdtemp(), n_cases=2, shape=(16, 16, 12), seed=1)
>>> sorted(paths)
['domains', 'labels', 'pred']
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np

from medtrust.data.ensemble_model import (
    SHIFT_EFFECTS,
    EnsembleModel,
    ShiftEffect,
    SyntheticCase,
    simulate_failure_case,
)
from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "SHIFT_EFFECTS",
    "EnsembleModel",
    "ShiftEffect",
    "SyntheticCase",
    "simulate_failure_case",
    "synthetic_failure_cases",
]


def synthetic_failure_cases(
    out: str | Path,
    *,
    n_cases: int = 12,
    shape: tuple[int, int, int] = (32, 32, 24),
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
    n_members: int = 3,
    shifts: Sequence[str] = ("intensity", "noise", "blur", "resolution", "missing", "extra"),
    iid_fraction: float = 0.4,
    severity_range: tuple[float, float] = (0.2, 1.0),
    model: EnsembleModel | None = None,
    effects: Mapping[str, ShiftEffect] | None = None,
    seed: int = 0,
    probabilities: bool = True,
    probability_dtype: Literal["float16", "float32"] = "float16",
) -> dict[str, Path]:
    """Write ``pred/``, ``labels/`` and ``domains.json`` under ``out``; returns their paths.

    ``generator.json`` beside them records the model, the shift effects and, per case, its
    domain, severity and :meth:`SyntheticCase.statistics` (the ground truth of the simulation,
    not something an evaluation may use).

    The layout is that of :mod:`medtrust.io.layout`. Case i is i.i.d. for the first
    ``round(n_cases * iid_fraction)`` cases, then the shifts in turn, each with a severity
    drawn uniformly from ``severity_range``; every case is simulated by
    :func:`simulate_failure_case` with the seed ``(seed, i)``. Softmax files are stored as
    ``probability_dtype`` (float16 as nnU-Net exports them, or float32).

    Parameters
    ----------
    out
        Output folder.
    n_cases
        Number of cases.
    shape
        Volume shape (array-axis order).
    spacing
        Voxel spacing in mm (array-axis order).
    n_members
        Ensemble size.
    shifts
        Shift names (of ``effects``) used in turn after the i.i.d. cases.
    iid_fraction
        Fraction of i.i.d. cases.
    severity_range
        Range of the uniformly drawn shift severities.
    model
        The ensemble's parameters (default :class:`EnsembleModel()`).
    effects
        Shift name -> :class:`ShiftEffect` (default :data:`SHIFT_EFFECTS`).
    seed
        Seed; case i uses ``(seed, i)``.
    probabilities
        Also write the members' softmax ``.npz`` files.
    probability_dtype
        ``"float16"`` (as nnU-Net) or ``"float32"``.

    Returns
    -------
    dict of str to pathlib.Path
        ``pred``, ``labels`` and ``domains``.
    """
    from medtrust._io import atomic_write_bytes, atomic_write_text
    from medtrust.io import save_nifti

    effects = SHIFT_EFFECTS if effects is None else effects
    unknown = [s for s in shifts if s not in effects]
    if unknown or (iid_fraction < 1 and not shifts):
        raise InvalidArgumentError(f"shifts must be names of {sorted(effects)}, got {list(shifts)}")
    if not 0.0 <= iid_fraction <= 1.0:
        raise InvalidArgumentError(f"iid_fraction must lie in [0, 1], got {iid_fraction}")
    lo, hi = severity_range
    if not 0.0 <= lo <= hi <= 1.0:
        raise InvalidArgumentError(f"severity_range must satisfy 0 <= low <= high <= 1: {lo, hi}")
    if probability_dtype not in ("float16", "float32"):
        raise InvalidArgumentError(
            f"probability_dtype must be 'float16' or 'float32', got {probability_dtype!r}"
        )
    if n_cases < 1:
        raise InvalidArgumentError(f"n_cases must be >= 1, got {n_cases}")
    out = Path(out)
    pred_dir, label_dir = out / "pred", out / "labels"
    label_dir.mkdir(parents=True, exist_ok=True)
    n_iid = round(n_cases * iid_fraction)
    domains: dict[str, str] = {}
    manifest: dict[str, dict[str, Any]] = {}
    for i in range(n_cases):
        case_id = f"case_{i:03d}"
        shift = None if i < n_iid else shifts[(i - n_iid) % len(shifts)]
        sev = float(np.random.default_rng([seed, i, 7]).uniform(lo, hi))
        case = simulate_failure_case(
            shape,
            spacing=spacing,
            n_members=n_members,
            shift=shift,
            severity=sev,
            model=model,
            effects=effects,
            seed=[seed, i],
        )
        domains[case_id] = case.domain
        manifest[case_id] = {"domain": case.domain, "severity": sev, **case.statistics()}
        save_nifti(label_dir / f"{case_id}.nii.gz", case.truth, spacing=spacing)
        case_dir = pred_dir / case_id
        case_dir.mkdir(parents=True, exist_ok=True)
        for m, probs in enumerate(case.probabilities):
            labels = np.argmax(probs, axis=0).astype(np.uint8)
            save_nifti(case_dir / f"member_{m}.nii.gz", labels, spacing=spacing)
            if probabilities:
                buf = io.BytesIO()
                np.savez_compressed(buf, probabilities=probs.astype(probability_dtype))
                atomic_write_bytes(case_dir / f"probs_{m}.npz", buf.getvalue())
    dom_path = out / "domains.json"
    atomic_write_text(dom_path, json.dumps(domains, indent=2, sort_keys=True) + "\n")
    info = {
        "model": asdict(model or EnsembleModel()),
        "effects": {k: asdict(v) for k, v in effects.items() if k in shifts},
        "cases": manifest,
    }
    atomic_write_text(out / "generator.json", json.dumps(info, indent=1, sort_keys=True) + "\n")
    return {"pred": pred_dir, "labels": label_dir, "domains": dom_path}
