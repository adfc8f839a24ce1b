"""A synthetic active-learning pool: 3D label maps with blobs and M members' softmax maps.

Each image holds ellipsoid blobs of the foreground classes (class 1 large, higher classes
smaller and rarer). Member m's logits are a smoothed one-hot of the labels plus a member-specific
low-frequency field and voxel noise, so members disagree most near boundaries and in regions
where their bias fields differ, which is where PE and BALD are high.

Examples
--------
>>> from medtrust.data.al_pool import synthetic_al_pool
>>> probs, labels = synthetic_al_pool(n_images=2, shape=(16, 20, 20), seed=0)
>>> sorted(probs), probs["case_000"].shape, labels["case_000"].dtype
(['case_000', 'case_001'], (3, 3, 16, 20, 20), dtype('uint8'))
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_al_pool", "synthetic_labels", "synthetic_member"]


def synthetic_labels(
    rng: np.random.Generator, shape: tuple[int, int, int], n_classes: int
) -> np.ndarray:
    """A label map with 1-2 ellipsoid blobs per foreground class (higher classes smaller)."""
    lab = np.zeros(shape, dtype=np.uint8)
    grid = np.indices(shape, dtype=np.float32)
    size = min(shape)
    for c in range(1, n_classes):
        for _ in range(int(rng.integers(1, 3))):
            radius = size * rng.uniform(0.12, 0.25) / c**0.5
            centre = [rng.uniform(r, s - r) for s, r in zip(shape, [radius] * 3)]
            axes = radius * rng.uniform(0.7, 1.3, size=3)
            d = sum(((g - c0) / a) ** 2 for g, c0, a in zip(grid, centre, axes))
            lab[d <= 1.0] = c
    return lab


def synthetic_member(
    rng: np.random.Generator, labels: np.ndarray, n_classes: int, *, dtype: type = np.float32
) -> np.ndarray:
    """One member's softmax [C, Z, Y, X] for ``labels`` (smooth logits + member bias + noise)."""
    from scipy.ndimage import gaussian_filter

    onehot = np.stack([(labels == c).astype(np.float32) for c in range(n_classes)])
    logits = np.empty_like(onehot)
    for c in range(n_classes):
        bias = gaussian_filter(rng.normal(size=labels.shape).astype(np.float32), 3.0) * 6.0
        logits[c] = gaussian_filter(onehot[c], 1.2) * 6.0 + bias
    logits += rng.normal(scale=0.3, size=logits.shape).astype(np.float32)
    logits -= logits.max(axis=0, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=0, keepdims=True)).astype(dtype)


def synthetic_al_pool(
    n_images: int = 4,
    *,
    shape: tuple[int, int, int] = (24, 32, 32),
    n_classes: int = 3,
    n_members: int = 3,
    seed: int = 0,
    dtype: type = np.float32,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(probs, labels)``: ``probs[id]`` is [M, C, Z, Y, X], ``labels[id]`` uint8 [Z, Y, X]."""
    rng = np.random.default_rng(seed)
    probs, labels = {}, {}
    for i in range(n_images):
        image_id = f"case_{i:03d}"
        lab = synthetic_labels(rng, shape, n_classes)
        labels[image_id] = lab
        probs[image_id] = np.stack(
            [synthetic_member(rng, lab, n_classes, dtype=dtype) for _ in range(n_members)]
        )
    return probs, labels
