"""Plain numpy / Python oracles of the active-learning query kernels."""

from __future__ import annotations

import itertools

import numpy as np


def box_means(m: np.ndarray, patch, stride) -> np.ndarray:
    """Brute-force mean of ``m`` in every valid box on the strided grid (float64)."""
    m = np.asarray(m, dtype=np.float64)
    p = [min(a, b) for a, b in zip(patch, m.shape)]
    dims = [(s - q) // t + 1 for s, q, t in zip(m.shape, p, stride)]
    out = np.empty(dims)
    for i, j, k in itertools.product(*(range(d) for d in dims)):
        z, y, x = i * stride[0], j * stride[1], k * stride[2]
        out[i, j, k] = m[z : z + p[0], y : y + p[1], x : x + p[2]].mean()
    return out


def overlaps(a_start, a_size, b_start, b_size) -> bool:
    return all(a < c + d and c < a + b for a, b, c, d in zip(a_start, a_size, b_start, b_size))


def greedy(scores: np.ndarray, patch, stride, blocked, n) -> list[tuple[int, int, int]]:
    """Greedy non-overlapping selection: best score first, ties by flat grid index."""
    flat = scores.reshape(-1)
    order = sorted(range(flat.size), key=lambda i: (-flat[i], i))
    taken = [(tuple(b[:3]), tuple(b[3:])) for b in blocked]
    out = []
    for i in order:
        if len(out) >= n:
            break
        idx = np.unravel_index(i, scores.shape)
        start = tuple(int(v) * s for v, s in zip(idx, stride))
        if not any(overlaps(start, patch, s, z) for s, z in taken):
            taken.append((start, tuple(patch)))
            out.append(start)
    return out


def sigmoid_schedule(k: int, steps: int, temperature: float) -> float:
    """nnActive's sigmoid beta schedule: beta at query step ``k`` of ``steps`` (1 ... 100)."""
    x = np.linspace(-6, 6, steps) / temperature
    s = 1 / (1 + np.exp(-x))
    return float(1 + 99 * (s[k] - s.min()) / (s.max() - s.min()))


def plackett_luce_first_two(w: np.ndarray) -> np.ndarray:
    """P(index i is among the first two draws without replacement, P proportional to w)."""
    w = np.asarray(w, dtype=np.float64)
    tot = w.sum()
    p = np.zeros(len(w))
    for i in range(len(w)):
        p[i] += w[i] / tot
        for j in range(len(w)):
            if j != i:
                p[i] += w[j] / tot * w[i] / (tot - w[j])
    return p
