"""Plain numpy / scipy oracles of the segmentation metrics and confidence aggregations.

Slow and obvious on purpose: per-class boolean masks, scipy's ``binary_erosion`` and
``distance_transform_edt`` over the whole image, per-pair loops.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# --- overlap ---------------------------------------------------------------------------------


def confusion(pred, target, n_classes, ignore=None):
    """(tp, fp, fn) per class by boolean masks."""
    keep = np.ones(pred.shape, bool) if ignore is None else target != ignore
    tp, fp, fn = [], [], []
    for c in range(n_classes):
        p = (pred == c) & keep
        t = (target == c) & keep
        tp.append(int(np.sum(p & t)))
        fp.append(int(np.sum(p & ~t)))
        fn.append(int(np.sum(~p & t)))
    return np.array(tp), np.array(fp), np.array(fn)


def dice_per_class(pred, target, n_classes, ignore=None, empty=np.nan):
    tp, fp, fn = confusion(pred, target, n_classes, ignore)
    out = []
    for c in range(n_classes):
        den = 2 * tp[c] + fp[c] + fn[c]
        out.append(empty if den == 0 else 2 * tp[c] / den)
    return np.array(out, dtype=float)


def pairwise_dice(members, classes, empty=1.0):
    """Mean over pairs per class, one pass per pair and class (the slow way)."""
    m = len(members)
    per_class = {}
    for c in classes:
        vals = []
        for a in range(m):
            for b in range(a + 1, m):
                x, y = members[a] == c, members[b] == c
                den = x.sum() + y.sum()
                vals.append(empty if den == 0 else 2 * np.sum(x & y) / den)
        per_class[c] = float(np.nanmean(vals))
    return per_class


# --- surfaces --------------------------------------------------------------------------------


def border_voxels(mask):
    """Foreground voxels with a face neighbour in the background (outside = background)."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def _area_table_3d(spacing):
    """Area per 2x2x2 code from scikit-image's marching cubes (complement rule)."""
    from skimage.measure import marching_cubes

    s = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]])
    table = np.zeros(256)
    for code in range(1, 255):
        c = code if bin(code).count("1") <= 4 else 255 - code
        cube = np.zeros((2, 2, 2))
        for i in range(2):
            for j in range(2):
                for k in range(2):
                    if c & (1 << (7 - (4 * i + 2 * j + k))):
                        cube[i, j, k] = 1.0
        v, f, _, _ = marching_cubes(cube, 0.5, method="lorensen")
        t = v[f]
        n = 0.5 * np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        table[code] = np.linalg.norm(n * s, axis=1).sum()
    return table


def _length_table_2d(spacing):
    first, second = spacing
    diag = 0.5 * np.hypot(first, second)
    table = np.full(16, diag)
    table[[0, 15]] = 0
    table[[0b0011, 0b1100]] = second
    table[[0b0101, 0b1010]] = first
    table[[0b0110, 0b1001]] = 2 * diag
    return table


def surfels(mask, spacing):
    """(border mask on the corner grid, code map) of a mask padded by one voxel each side."""
    nd = mask.ndim
    padded = np.pad(mask.astype(np.int64), 1)
    code = np.zeros(tuple(n - 1 for n in padded.shape), np.int64)
    offsets = np.array(np.meshgrid(*[[0, 1]] * nd, indexing="ij")).reshape(nd, -1).T
    for p, off in enumerate(offsets):
        sl = tuple(slice(o, o + n - 1) for o, n in zip(off, padded.shape))
        code |= padded[sl] << (2**nd - 1 - p)
    full = 2 ** (2**nd) - 1
    return (code != 0) & (code != full), code


def surface_distances(pred, target, spacing, surface="voxels"):
    """(d_pred_to_target, w_pred, d_target_to_pred, w_target) over the whole image."""
    spacing = tuple(float(s) for s in spacing)
    if surface == "voxels":
        bp, bt = border_voxels(pred), border_voxels(target)
        wp, wt = np.ones(bp.sum()), np.ones(bt.sum())
    else:
        bp, cp = surfels(pred, spacing)
        bt, ct = surfels(target, spacing)
        table = _area_table_3d(spacing) if pred.ndim == 3 else _length_table_2d(spacing)
        wp, wt = table[cp[bp]], table[ct[bt]]
    dp = (
        ndimage.distance_transform_edt(~bt, sampling=spacing)[bp]
        if bt.any()
        else np.full(bp.sum(), np.inf)
    )
    dt = (
        ndimage.distance_transform_edt(~bp, sampling=spacing)[bt]
        if bp.any()
        else np.full(bt.sum(), np.inf)
    )
    return dp, wp, dt, wt


def hd95_voxels(dp, dt, q=95):
    return max(np.percentile(dp, q), np.percentile(dt, q))


def hd95_surfels(dp, wp, dt, wt, q=95):
    out = []
    for d, w in ((dp, wp), (dt, wt)):
        order = np.lexsort((w, d))
        d, w = d[order], w[order]
        cum = np.cumsum(w) / np.sum(w)
        out.append(d[min(np.searchsorted(cum, q / 100), len(d) - 1)])
    return max(out)


def nsd(dp, wp, dt, wt, tol):
    return (wp[dp <= tol].sum() + wt[dt <= tol].sum()) / (wp.sum() + wt.sum())


def assd(dp, wp, dt, wt):
    return (np.sum(dp * wp) + np.sum(dt * wt)) / (wp.sum() + wt.sum())


def blob(shape, center, radii, rng, wobble=0.15):
    """A smooth random 3-D (or 2-D) blob: an ellipsoid with a low-frequency radial wobble."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r2 = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii))
    phase = sum(
        np.sin(g / n * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))
        for g, n in zip(grids, shape)
    )
    return r2 <= (1 + wobble * phase / len(shape)) ** 2


# --- aggregation -----------------------------------------------------------------------------


def boundary(labels):
    """skimage ``find_boundaries`` (thick mode, connectivity 1) on a label map."""
    from skimage.segmentation import find_boundaries

    return find_boundaries(labels, connectivity=1, mode="thick")


def band(labels, width):
    """Boundary expanded by (width - 2) / 2 voxels, like the benchmark's BoundaryAggregator."""
    b = boundary(labels)
    r = (width - 2) // 2
    if r == 0:
        return b
    return ndimage.distance_transform_edt(~b) <= r


def aggregates(conf, labels, width=4, patch=10, spacing=None, saturate=4.0):
    conf = conf.astype(np.float64)
    bd = band(labels, width)
    mean = conf.mean()
    nb = conf[~bd].mean() if (~bd).any() else mean
    fgm = (labels != 0) & ~bd
    fg = conf[fgm].mean() if fgm.any() else mean
    size = np.minimum(patch, conf.shape)
    from scipy.signal import convolve

    win = convolve(conf, np.ones(size), mode="valid") / np.prod(size)
    b = boundary(labels)
    if b.any():
        dist = ndimage.distance_transform_edt(~b, sampling=spacing)
    else:
        dist = np.full(conf.shape, np.inf)
    w = np.minimum(dist, saturate)
    dw = (w * conf).sum() / w.sum() if w.sum() > 0 else mean
    nfg = int((labels != 0).sum())
    return {
        "mean": mean,
        "non_boundary_mean": nb,
        "foreground_mean": fg,
        "patch_min": float(win.min()),
        "distance_weighted_mean": dw,
        "volume_weighted_mean": mean / max(nfg, 1),
    }
