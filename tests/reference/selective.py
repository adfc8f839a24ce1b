"""Slow, literal oracles of the risk-coverage convention (tests only).

Written straight from the definitions in shared/spec/selective.md, one threshold at a time,
with no shared code with medtrust.
"""

from __future__ import annotations

import math

import numpy as np


def rc_points(conf, res):
    """[(coverage, selective risk, generalized risk, threshold)] in descending coverage."""
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    n = len(conf)
    pts = []
    for t in sorted(set(conf.tolist())):
        accepted = conf >= t
        k = accepted.sum()
        pts.append((k / n, res[accepted].sum() / k, res[accepted].sum() / n, t))
    pts.append((0.0, pts[-1][1], 0.0, math.inf))
    return pts


def _trapz_desc(xs, ys):
    return sum((xs[i] - xs[i + 1]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1))


def aurc(conf, res):
    p = rc_points(conf, res)
    return _trapz_desc([q[0] for q in p], [q[1] for q in p])


def augrc(conf, res):
    p = rc_points(conf, res)
    return _trapz_desc([q[0] for q in p], [q[2] for q in p])


def is_binary(res):
    r = np.asarray(res, float)
    return bool(np.all((r == 0) | (r == 1)))


def optimal(res):
    """(AURC*, AUGRC*): analytic for binary residuals, else the oracle order, one point each."""
    r = np.asarray(res, float)
    if is_binary(r):
        err = r.mean()
        return err + (1 - err) * math.log(1 - err + np.finfo(float).eps), err**2 / 2
    order = np.sort(r)
    conf = np.linspace(1, 0, len(r))
    return aurc(conf, order), augrc(conf, order)


def failure_auroc(conf, res):
    """Pairwise definition: P(conf_correct > conf_failure) + 1/2 P(equal)."""
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    pos = conf[res == 0]
    neg = conf[res == 1]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    s = 0.0
    for p in pos:
        s += np.sum(p > neg) + 0.5 * np.sum(p == neg)
    return s / (len(pos) * len(neg))


def fpr_at_tpr(conf, res, tpr=0.95):
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    P, N = np.sum(res == 0), np.sum(res == 1)
    if P == 0 or N == 0:
        return math.nan
    best = math.inf
    for t in sorted(set(conf.tolist()), reverse=True):
        acc = conf >= t
        tp = np.sum(acc & (res == 0)) / P
        fp = np.sum(acc & (res == 1)) / N
        if tp >= tpr - 0.0005:
            best = min(best, fp)
    return best


def ece_mce(conf, res, bins=20):
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    ece, mce = 0.0, 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            gap = abs((1 - res[m]).mean() - conf[m].mean())
            ece += m.mean() * gap
            mce = max(mce, gap)
    return ece, mce


def selective_risk_at_coverage(conf, res, c):
    return min(p[1] for p in rc_points(conf, res) if p[0] >= c)


def coverage_at_risk(conf, res, r):
    ok = [p[0] for p in rc_points(conf, res) if p[1] <= r]
    return max(ok) if ok else math.nan


def balanced_points(conf, res, labels):
    """[(coverage, SR_ba, GR_ba)] in descending coverage, fd-shifts' balanced convention.

    SR_ba: mean over the K classes of each class's mean residual among the accepted (0 for a
    class with none accepted); GR_ba: mean over classes of the accepted residual sum / n_k.
    """
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    labels = np.asarray(labels, float)
    classes = sorted(set(labels.tolist()))
    pts = []
    for t in sorted(set(conf.tolist())):
        accepted = conf >= t
        sr = gr = 0.0
        for c in classes:
            in_c = labels == c
            acc_c = accepted & in_c
            if acc_c.any():
                sr += res[acc_c].sum() / acc_c.sum()
            gr += res[acc_c].sum() / in_c.sum()
        pts.append((accepted.mean(), sr / len(classes), gr / len(classes)))
    pts.append((0.0, pts[-1][1], 0.0))
    return pts


def aurc_ba(conf, res, labels):
    p = balanced_points(conf, res, labels)
    return _trapz_desc([q[0] for q in p], [q[1] for q in p])


def augrc_ba(conf, res, labels):
    p = balanced_points(conf, res, labels)
    return _trapz_desc([q[0] for q in p], [q[2] for q in p])


def vectorised_metrics(conf, res, tpr=0.95, coverage=0.95, risk=0.05, bins=20):
    """The binary-residual metrics of large inputs, vectorised (the literal oracles above are
    quadratic): groups from the ends of a stable descending sort, curve points from cumulative
    sums, the same convention (tie groups, the coverage-0 end point, trapezoids)."""
    conf = np.asarray(conf, float)
    res = np.asarray(res, float)
    n = len(conf)
    order = np.argsort(-conf, kind="stable")
    c, r = conf[order], res[order]
    ends = np.flatnonzero(np.r_[c[1:] != c[:-1], True])
    cn = (ends + 1).astype(float)
    cs = np.cumsum(r)[ends]
    cov, sr, gr = cn / n, cs / cn, cs / n
    cov0, sr0, gr0 = np.r_[0.0, cov], np.r_[sr[0], sr], np.r_[0.0, gr]
    out = {
        "aurc": float(np.sum(np.diff(cov0) * (sr0[1:] + sr0[:-1]) / 2)),
        "augrc": float(np.sum(np.diff(cov0) * (gr0[1:] + gr0[:-1]) / 2)),
        "mean_risk": float(r.mean()),
    }
    neg = np.diff(np.r_[0.0, cs])
    pos = np.diff(np.r_[0.0, cn]) - neg
    p_tot, n_tot = pos.sum(), neg.sum()
    if p_tot > 0 and n_tot > 0:
        below = n_tot - np.cumsum(neg)
        out["failure_auroc"] = float(np.sum(pos * (below + 0.5 * neg)) / (p_tot * n_tot))
        reach = np.flatnonzero(np.cumsum(pos) / p_tot >= tpr - 0.0005)
        out["fpr_at_tpr"] = float(np.cumsum(neg)[reach[0]] / n_tot)
    ok = cov >= coverage
    out["selective_risk_at_coverage"] = float(sr[ok].min()) if ok.any() else math.nan
    ok = sr <= risk
    out["coverage_at_risk"] = float(cov[ok].max()) if ok.any() else math.nan
    if conf.min() >= 0 and conf.max() <= 1:
        out["ece"], out["mce"] = ece_mce(conf, res, bins)
        g = np.clip(conf, 1e-12, 1 - 1e-12)
        out["failure_nll"] = float(-np.mean((1 - res) * np.log(g) + res * np.log1p(-g)))
    return out
