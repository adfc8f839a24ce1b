"""Plain-Python oracle of fd-shifts' documented risk-coverage conventions (one sample at a time).

Written from the definitions (Traub et al. 2024; spec/selective.md): samples leave in ascending
confidence; after each sample, an RC point is recorded only when the next confidence differs
(a tie group leaves together); the curve starts at coverage 1 and ends at coverage 0 (selective
risk repeated, generalized risk 0). Used as the oracle of the tests and the "plain way" of the
benches.
"""

import numpy as np


def rc_points(confids, residuals, generalized=False, numpy_elements=False):
    """(coverages, risks, thresholds, working_point_mask) the slow, obvious way.

    ``numpy_elements=True`` reads the sorted numpy arrays element by element, as fd-shifts'
    loop does (the benches' baseline); otherwise Python lists (faster, for the tests).
    """
    confids = np.asarray(confids, float)
    residuals = np.asarray(residuals, float)
    order = np.argsort(confids)
    c, r = confids[order], residuals[order]
    if not numpy_elements:
        c, r = c.tolist(), r.tolist()
    n = len(r)
    err = sum(r)
    covs, risks, thr, mask = [1.0], [err / n], [c[0]], [True]
    best = risks[0]
    for i in range(n - 1):
        err -= r[i]
        if c[i] != c[i + 1]:
            risk = err / n if generalized else err / (n - 1 - i)
            mask.append(risk < best)
            best = min(best, risk)
            covs.append((n - 1 - i) / n)
            risks.append(risk)
            thr.append(c[i + 1])
    mask.append(risks[-1] > 0 if generalized else False)
    covs.append(0.0)
    risks.append(0.0 if generalized else risks[-1])
    return covs, risks, thr, mask


def trapezoid_area(covs, risks):
    """Area under the points by the trapezoid rule (coverage descending), x1000."""
    area = 0.0
    for k in range(len(covs) - 1):
        area += (covs[k] - covs[k + 1]) * (risks[k] + risks[k + 1]) / 2
    return area * 1000
