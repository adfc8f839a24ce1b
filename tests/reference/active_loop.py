"""Plain numpy/scipy oracles for the AL metrics (tests only)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats


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
