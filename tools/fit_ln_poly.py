"""Fit the polynomial of the entropy kernels' logarithm (``rust/core/src/uncertainty/ln.rs``).

The logarithm reduces x to 2^k m with m in [sqrt(1/2), sqrt(2)) and f = m - 1, then forms
ln(1 + f) = f - f^2 / 2 + f^3 P(f). This script fits P of a given degree so that the relative
error of ln(1 + f) is as small as possible over the reduction's range: a weighted least-squares
fit of g(f) = (ln(1 + f) - f + f^2 / 2) / f^3 on Chebyshev nodes, weighted by f^3 / ln(1 + f),
with Lawson's iterations (each node's weight scaled by its error) driving the fit towards the
minimax one. It prints the approximation error (before any f32 rounding) and the coefficients,
highest degree first, as the shortest f32 literals::

    python tools/fit_ln_poly.py 7

Degree 7 is what the kernels use: 0.10 ulp of approximation error, and 0.892 ulp in all
once evaluated in f32 with fused multiply-adds (the exhaustive sweep over (0, 1]: ``cargo test
-p medtrust-core --release -- --ignored ln_exhaustive``). Degree 6 prints 0.53 ulp before
rounding, too little margin under the 1-ulp bound (a one-off exhaustive check outside the
repository gave 1.16-1.19 ulp); degree 8 prints 0.01 and gains nothing once rounded (Cephes'
degree-8 polynomial: 0.858 ulp) for one more multiply-add.
"""

from __future__ import annotations

import argparse

import numpy as np


def fit(degree: int, nodes: int = 4000, iterations: int = 60) -> tuple[np.ndarray, float]:
    """Coefficients of P (highest degree first, float64) and the largest relative error."""
    lo, hi = np.sqrt(0.5) - 1, np.sqrt(2) - 1
    k = np.arange(nodes)
    f = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / nodes)
    f = f[np.abs(f) > 1e-6]  # g is 1/3 - f/4 + ... there; the nodes near 0 add nothing
    ln1p = np.log1p(f)
    g = (ln1p - f + f * f / 2) / f**3
    rel = np.abs(f**3 / ln1p)  # an error in P, as a relative error of ln(1 + f)
    vander = np.vander(f, degree + 1)
    weight = np.ones_like(f)
    for _ in range(iterations):
        scale = rel * np.sqrt(weight)
        coef, *_ = np.linalg.lstsq(vander * scale[:, None], g * scale, rcond=None)
        err = np.abs((vander @ coef - g) * rel)
        weight = weight * err
        weight /= weight.sum()
    return coef, float(err.max())


def main() -> None:
    """Print the fit of the degree asked for."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("degree", type=int, nargs="?", default=7)
    args = ap.parse_args()
    coef, err = fit(args.degree)
    print(f"max relative error {err:.3g} ({err / 2.0**-24:.2f} ulp of 2^-24)")
    print(", ".join(str(np.float32(c)) for c in coef))


if __name__ == "__main__":
    main()
