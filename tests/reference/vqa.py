"""Plain reference implementations of the VQA token metrics and RR (test oracles only).

They work on token lists that are already normalised and use exact fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache


def ngrams(toks, n):
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def clipped_matches(pred, ref, n):
    pg, rg = ngrams(pred, n), ngrams(ref, n)
    used = [False] * len(rg)
    m = 0
    for g in pg:
        for j, h in enumerate(rg):
            if not used[j] and g == h:
                used[j] = True
                m += 1
                break
    return m


def prf(pred, ref):
    if not pred and not ref:
        return 1.0, 1.0, 1.0
    m = clipped_matches(pred, ref, 1)
    if m == 0:
        return 0.0, 0.0, 0.0
    p, r = Fraction(m, len(pred)), Fraction(m, len(ref))
    return float(p), float(r), float(2 * p * r / (p + r))


def bleu(pred, ref, max_order=4):
    """Cumulative BLEU-1..max_order: effective order, add-one smoothing for n >= 2."""
    if not pred and not ref:
        return [1.0] * max_order
    if not pred or not ref:
        return [0.0] * max_order
    precisions = []
    for n in range(1, max_order + 1):
        c = len(ngrams(pred, n))
        if c == 0:
            break
        m = clipped_matches(pred, ref, n)
        precisions.append(Fraction(m, c) if n == 1 else Fraction(m + 1, c + 1))
    if precisions[0] == 0:
        return [0.0] * max_order
    bp = 1.0 if len(pred) >= len(ref) else math.exp(1 - len(ref) / len(pred))
    out = []
    for n in range(1, max_order + 1):
        ps = precisions[:n]
        prod = 1.0
        for p in ps:
            prod *= float(p)
        out.append(bp * prod ** (1 / len(ps)))
    return out


def lcs(a, b):
    @cache
    def go(i, j):
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + go(i + 1, j + 1)
        return max(go(i + 1, j), go(i, j + 1))

    return go(0, 0)


def rouge_l(pred, ref):
    if not pred and not ref:
        return 1.0
    k = lcs(tuple(pred), tuple(ref))
    if k == 0:
        return 0.0
    p, r = Fraction(k, len(pred)), Fraction(k, len(ref))
    return float(2 * p * r / (p + r))


def relative_robustness(iid_scores, ood_scores):
    s_iid = sum(iid_scores) / len(iid_scores)
    s_ood = sum(ood_scores) / len(ood_scores)
    return s_ood / s_iid, s_iid - s_ood


def bert_score_pair(hp, ids_p, hr, ids_r, special):
    """BERTScore of one pair from per-token hidden states (lists of vectors), plain loops.

    Special tokens do not count on the averaged side but may be the best match.
    """

    def unit(v):
        n = math.sqrt(sum(x * x for x in v))
        return [x / n for x in v]

    up, ur = [unit(v) for v in hp], [unit(v) for v in hr]

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    def side(a, ids_a, b):
        vals = [max(dot(x, y) for y in b) for x, t in zip(a, ids_a) if t not in special]
        return sum(vals) / len(vals) if vals else 0.0

    p, r = side(up, ids_p, ur), side(ur, ids_r, up)
    return p, r, (0.0 if p + r <= 0 else 2 * p * r / (p + r))
