"""Plain numpy oracle of the ensemble uncertainty maps (float64, all members at once)."""

from __future__ import annotations

import numpy as np


def entropy(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """-sum p log p over ``axis`` with 0 log 0 = 0 (natural log)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -t.sum(axis=axis)


def maps(members: np.ndarray) -> dict[str, np.ndarray]:
    """members [M, C, *spatial] -> dict of maps (float64)."""
    m = np.asarray(members, dtype=np.float64)
    pbar = m.mean(axis=0)
    pe = entropy(pbar, axis=0)
    ee = np.mean([entropy(x, axis=0) for x in m], axis=0)
    c = m.shape[1]
    out = {
        "mean_probs": pbar,
        "pe": pe,
        "ee": ee,
        "mi": np.maximum(pe - ee, 0.0),
        "max_prob": pbar.max(axis=0),
        "conf_msr": pbar.max(axis=0),
        "conf_pe": np.log(c) - pe,
        "conf_ee": np.log(c) - ee,
        "conf_mi": -(pe - ee),
    }
    for k in range(c):
        out[f"class_pe_{k}"] = pe * pbar[k]
    return out


def random_members(
    rng: np.random.Generator, m: int, c: int, spatial: tuple[int, ...], sharp: float = 3.0
) -> np.ndarray:
    """M random softmax maps [M, C, *spatial] (float32), some voxels exactly one-hot."""
    logits = rng.normal(size=(m, c, *spatial)) * sharp
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    flat = p.reshape(m, c, -1)
    flat[:, :, :: max(1, flat.shape[2] // 5)] = 0.0
    flat[:, 0, :: max(1, flat.shape[2] // 5)] = 1.0  # exact zeros exercise 0 log 0
    return p.astype(np.float32)
