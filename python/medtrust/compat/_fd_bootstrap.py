"""fd-shifts' bootstrap CIs of the risk-coverage areas (``RiskCoverageStats.evaluate_ci``).

fd-shifts' protocol, reproduced: ``n_bs`` (default 10 000) resamples of the N samples with
replacement, drawn from numpy's *global* random state one resample after the other
(``np.random.choice(N, N)``; with ``stratified=True`` and binary residuals, scikit-learn's
``resample(..., stratify=residuals)``, also on the global state); on each resample the
risk-coverage curve of the chosen risk and its plain trapezoid area x1000 (the linear rule for
every risk, including the balanced ones); the CI is ``np.percentile(areas, [2.5, 97.5])``. NaN
in the original inputs gives ``[nan, nan]``. So after ``np.random.seed(s)`` the shim returns the
very numbers fd-shifts returns after the same seed.

What differs is the cost: fd-shifts sorts and walks every resample in Python; here the samples
are sorted once, each resample is reduced to per-tie-group counts and residual sums
(``np.bincount``), and every curve area of a chunk of resamples comes from cumulative sums at
once. A tie group a resample leaves empty adds a zero-width segment, so the area is the one of
the resample's own curve. (The balanced-accuracy risks evaluate each resample's curve with
:class:`~medtrust.compat.fd_shifts.RiskCoverageStats`.)

Examples
--------
>>> import numpy as np
>>> _ = np.random.seed(0)
>>> lo, hi = bootstrap_areas_ci(np.array([0.9, 0.8, 0.7, 0.3]), np.array([0.0, 1, 0, 1]),
...                             "selective-risk", n_bs=200)
>>> bool(0 <= lo <= hi <= 1000)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from medtrust.exceptions import InvalidArgumentError

__all__ = ["bootstrap_areas_ci", "draw_indices"]

# Resamples per vectorised chunk: bounds the (chunk x N) index and (chunk x groups) count arrays.
_CHUNK_ELEMENTS = 1 << 22


def draw_indices(
    n: int, n_bs: int, residuals: np.ndarray, stratified: bool
) -> Iterator[np.ndarray]:
    """Resample index arrays ``[m, n]`` in fd-shifts' order on numpy's global random state.

    Parameters
    ----------
    n
        Number of samples.
    n_bs
        Number of resamples.
    residuals
        Residuals (the strata of ``stratified``).
    stratified
        Stratify by residual (binary residuals only, as fd-shifts; needs scikit-learn).

    Returns
    -------
    iterator of numpy.ndarray
        Chunks of resample indices, in draw order.

    Examples
    --------
    >>> _ = np.random.seed(1)
    >>> [c.shape for c in draw_indices(3, 4, np.zeros(3), False)]
    [(4, 3)]
    """
    binary = bool(np.all((residuals == 0) | (residuals == 1)))
    if stratified and binary:
        try:
            from sklearn.utils import resample
        except ImportError as e:  # pragma: no cover - scikit-learn is installed with the extras
            raise InvalidArgumentError(
                "stratified=True draws with scikit-learn's resample, as fd-shifts does; "
                "install scikit-learn"
            ) from e
        for _ in range(n_bs):
            yield np.asarray(resample(np.arange(n), n_samples=n, stratify=residuals))[None]
        return
    rows = max(1, _CHUNK_ELEMENTS // max(n, 1))
    done = 0
    while done < n_bs:
        m = min(rows, n_bs - done)
        # fd-shifts draws from numpy's global state; one (m, n) draw consumes that stream
        # exactly as m draws of n (one word each).
        yield np.random.choice(np.arange(n), size=(m, n), replace=True)  # noqa: NPY002
        done += m


def _group_areas(
    gid: np.ndarray, n_groups: int, res: np.ndarray, idx: np.ndarray, risk: str
) -> np.ndarray:
    """Trapezoid areas (x1) of the curves of a chunk of resamples ``idx`` ``[m, n]``."""
    m, n = idx.shape
    flat = (np.arange(m)[:, None] * n_groups + gid[idx]).ravel()
    counts = np.bincount(flat, minlength=m * n_groups).reshape(m, n_groups).astype(np.float64)
    errs = np.bincount(flat, weights=res[idx].ravel(), minlength=m * n_groups)
    errs = errs.reshape(m, n_groups)
    # Accepted samples / residual sum once groups 0..j (lowest confidences) are rejected.
    acc = n - np.cumsum(counts, axis=1)[:, :-1]
    rem = errs.sum(axis=1, keepdims=True) - np.cumsum(errs, axis=1)[:, :-1]
    total = errs.sum(axis=1, keepdims=True)
    cov = np.concatenate([np.ones((m, 1)), acc / n, np.zeros((m, 1))], axis=1)
    if risk == "generalized-risk":
        rsk = np.concatenate([total / n, rem / n, np.zeros((m, 1))], axis=1)
    else:
        inner = np.concatenate([total / n, rem / np.where(acc > 0, acc, 1)], axis=1)
        # Points with nothing accepted repeat the last defined risk (the top group's).
        col = np.where(np.concatenate([np.ones((m, 1)), acc], axis=1) > 0, np.arange(n_groups), 0)
        inner = np.take_along_axis(inner, np.maximum.accumulate(col, axis=1), axis=1)
        rsk = np.concatenate([inner, inner[:, -1:]], axis=1)
    return np.sum((cov[:, :-1] - cov[:, 1:]) * (rsk[:, :-1] + rsk[:, 1:]) / 2, axis=1)


def bootstrap_areas_ci(
    confids: np.ndarray,
    residuals: np.ndarray,
    risk: str,
    *,
    n_bs: int = 10000,
    stratified: bool = False,
    scale: float = 1000.0,
    per_resample: Callable[[np.ndarray], float] | None = None,
) -> np.ndarray:
    """fd-shifts' percentile CI ``[2.5 %, 97.5 %]`` of a curve area (x ``scale``).

    Parameters
    ----------
    confids, residuals
        1-D arrays of one length (no NaN: the caller returns NaN for those).
    risk
        "selective-risk" or "generalized-risk" (vectorised); any other risk needs
        ``per_resample``.
    n_bs
        Number of resamples (fd-shifts' default 10 000).
    stratified
        Stratified resampling by residual (binary residuals), as fd-shifts.
    scale
        Display scale of the areas (fd-shifts: 1000).
    per_resample
        Area (already scaled) of one resample's index array, for the other risks.

    Returns
    -------
    numpy.ndarray
        ``[low, high]``.

    Examples
    --------
    >>> _ = np.random.seed(0)
    >>> bootstrap_areas_ci(np.array([0.5, 0.5]), np.array([0.0, 0.0]), "selective-risk", n_bs=10)
    array([0., 0.])
    """
    if isinstance(n_bs, bool) or not isinstance(n_bs, (int, np.integer)) or n_bs < 1:
        raise InvalidArgumentError(f"n_bs must be a positive integer, got {n_bs!r}")
    n = confids.size
    if n == 0:
        raise InvalidArgumentError("confids must hold at least one sample")
    order = np.argsort(confids, kind="stable")
    c = confids[order]
    new = np.concatenate([[True], c[1:] != c[:-1]])
    gid_sorted = np.cumsum(new) - 1
    gid = np.empty(n, np.int64)
    gid[order] = gid_sorted
    n_groups = int(gid_sorted[-1]) + 1
    areas = []
    for idx in draw_indices(n, n_bs, residuals, stratified):
        if risk in ("selective-risk", "generalized-risk"):
            areas.append(_group_areas(gid, n_groups, residuals, idx, risk) * scale)
        elif per_resample is not None:
            areas.append(np.array([per_resample(row) for row in idx]))
        else:
            raise InvalidArgumentError(f"risk {risk!r} needs a per-resample evaluator")
    return np.percentile(np.concatenate(areas), [2.5, 97.5])
