"""Synthetic 3-D segmentation cases of an ensemble, written as real NIfTI files.

Each case has a reference with two foreground classes (an ellipsoidal "organ" and a small
"lesion" inside it) and an ensemble of M members. The simulated model sees a perceived version
of the anatomy: close to the truth on i.i.d. cases, distorted under a shift ("intensity": the
boundaries move and the model is less sure; "missing": the lesion is not seen). Member softmax
maps share the model's evidence plus smooth member-specific noise that grows where the model is
unsure, so members disagree most where the model fails.

Examples
--------
>>> import tempfile
>>> from medtrust.data import synthetic_failure_cases
>>> paths = synthetic_failure_cases(tempfile.mkdtemp(), n_cases=2, shape=(16, 16, 12), seed=1)
>>> sorted(paths)
['domains', 'labels', 'pred']
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["synthetic_failure_cases"]


def _ellipsoid(shape, center, radii):
    g = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
    return sum(((x - c) / r) ** 2 for x, c, r in zip(g, center, radii)) <= 1.0


def _signed_distance(mask, spacing):
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        return np.full(mask.shape, -10.0)
    return distance_transform_edt(mask, sampling=spacing) - distance_transform_edt(
        ~mask, sampling=spacing
    )


def _smooth_noise(rng, shape, sigma):
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.normal(size=shape), sigma)
    return n / (n.std() + 1e-12)


def synthetic_failure_cases(
    out: str | Path,
    *,
    n_cases: int = 12,
    shape: tuple[int, int, int] = (32, 32, 24),
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
    n_members: int = 3,
    shifts: tuple[str, ...] = ("intensity", "missing"),
    iid_fraction: float = 0.5,
    seed: int = 0,
    probabilities: bool = True,
) -> dict[str, Path]:
    """Write ``pred/``, ``labels/`` and ``domains.json`` under ``out``; returns their paths.

    The layout is that of :mod:`medtrust.io.layout`.
    """
    from medtrust._io import atomic_write_bytes, atomic_write_text
    from medtrust.io import save_nifti

    out = Path(out)
    pred_dir, label_dir = out / "pred", out / "labels"
    label_dir.mkdir(parents=True, exist_ok=True)
    n_iid = max(1, round(n_cases * iid_fraction))
    domains: dict[str, str] = {}
    sp = np.asarray(spacing, dtype=np.float64)
    for i in range(n_cases):
        case = f"case_{i:03d}"
        domain = "iid" if i < n_iid else f"shift_{shifts[(i - n_iid) % len(shifts)]}"
        domains[case] = domain
        crng = np.random.default_rng([seed, i])
        s = np.array(shape, dtype=np.float64)
        center = s / 2 + crng.uniform(-0.08, 0.08, 3) * s
        radii = s * crng.uniform(0.26, 0.36, 3)
        organ = _ellipsoid(shape, center, radii)
        l_center = center + crng.uniform(-0.3, 0.3, 3) * radii
        l_radii = radii * crng.uniform(0.25, 0.4)
        lesion = _ellipsoid(shape, l_center, l_radii) & organ
        truth = organ.astype(np.uint8)
        truth[lesion] = 2
        save_nifti(label_dir / f"{case}.nii.gz", truth, spacing=spacing)

        # What the model perceives: a distorted anatomy, more so (and less sure) under shift.
        severity = 0.0 if domain == "iid" else crng.uniform(0.3, 1.0)
        distort = 0.04 + 0.3 * severity
        p_radii = radii * (1 + crng.normal(0, distort, 3))
        p_center = center + crng.normal(0, distort, 3) * radii
        p_organ = _ellipsoid(shape, p_center, np.maximum(p_radii, 1.0))
        p_lesion = _ellipsoid(shape, l_center + crng.normal(0, distort, 3) * l_radii, l_radii)
        if domain == "shift_missing" and crng.random() < 0.8:
            p_lesion = np.zeros_like(p_lesion)
        p_lesion &= p_organ
        regions = [~p_organ, p_organ & ~p_lesion, p_lesion]
        sharp = 3.0 * (1.0 - 0.6 * severity)
        evidence = np.stack([_signed_distance(r, sp) for r in regions])
        noise_amp = 0.4 + 2.5 * severity
        case_dir = pred_dir / case
        case_dir.mkdir(parents=True, exist_ok=True)
        for m in range(n_members):
            mrng = np.random.default_rng([seed, i, m])
            noise = np.stack([_smooth_noise(mrng, shape, 2.0) for _ in range(3)])
            logits = sharp * np.clip(evidence, -4, 4) + noise_amp * noise
            logits -= logits.max(axis=0, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=0, keepdims=True)
            labels = np.argmax(probs, axis=0).astype(np.uint8)
            save_nifti(case_dir / f"member_{m}.nii.gz", labels, spacing=spacing)
            if probabilities:
                import io

                buf = io.BytesIO()
                np.savez_compressed(buf, probabilities=probs.astype(np.float16))
                atomic_write_bytes(case_dir / f"probs_{m}.npz", buf.getvalue())
    dom_path = out / "domains.json"
    atomic_write_text(dom_path, json.dumps(domains, indent=2, sort_keys=True) + "\n")
    return {"pred": pred_dir, "labels": label_dir, "domains": dom_path}
