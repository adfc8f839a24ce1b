"""Plain numpy/scipy oracles for the AL metrics (tests only)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats


def aubc_reference(dice):
    d = np.asarray(dice, float)
    n = len(d)
    if n == 1:
        return float(d[0])
    # (d0/2 + d1 + ... + d_{n-2} + d_{n-1}/2) / (n - 1)
    return float((d[0] / 2 + d[1:-1].sum() + d[-1] / 2) / (n - 1))


def ppm_reference(values, alpha=0.05):
    """values[setting][strategy] = array [budgets, seeds]; returns (names, matrix)."""
    names = sorted(next(iter(values.values())))
    k = len(names)
    m = np.zeros((k, k))
    for per in values.values():
        n_b = next(iter(per.values())).shape[0]
        for b in range(n_b):
            for i, j in itertools.permutations(range(k), 2):
                diff = per[names[i]][b] - per[names[j]][b]
                res = stats.ttest_1samp(diff, 0.0)
                if diff.mean() < 0 and res.pvalue < alpha:
                    m[i, j] += 1.0 / n_b
    return names, m


def friedman_reference(scores):
    """scipy's Friedman test (needs >= 3 methods); scores[block, method], higher better."""
    cols = [np.asarray(scores, float)[:, j] for j in range(np.shape(scores)[1])]
    res = stats.friedmanchisquare(*cols)
    return float(res.statistic), float(res.pvalue)


def dice_reference(pred, target, n_classes):
    out = []
    for c in range(n_classes):
        p, t = pred == c, target == c
        s = p.sum() + t.sum()
        out.append(np.nan if s == 0 else 2 * (p & t).sum() / s)
    return np.array(out)
