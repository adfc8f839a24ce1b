//! Exact squared Euclidean distance transform with anisotropic spacing.
//!
//! Separable (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions", 2012):
//! a 1-D nearest-feature sweep along axis 0, then the lower envelope of parabolas along axes 1
//! and 2, each linear in the line length and parallel over lines. The axes are processed in the
//! order 0, 1, 2 so that a squared distance is summed as `((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2`,
//! the order scipy's `distance_transform_edt` uses: distances agree to the last bit with the
//! same nearest feature.

use rayon::prelude::*;

/// Squared distance of a point without any feature.
pub const INF: f64 = f64::INFINITY;

/// Squared distance (in spacing units squared) from every point of the C-ordered grid `shape`
/// to the nearest `true` of `features`; [`INF`] everywhere when there is no feature.
///
/// Callers guarantee `features.len() == shape.iter().product()`.
pub fn squared_edt(features: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Vec<f64> {
    let [n0, n1, n2] = shape;
    let plane = n1 * n2;
    let mut out = vec![INF; features.len()];
    if features.is_empty() {
        return out;
    }
    axis0_sweep(features, &mut out, n0, plane, spacing[0]);
    if n1 > 1 {
        out.par_chunks_mut(plane).for_each_init(
            || Scratch::new(n1),
            |sc, p| {
                for k in 0..n2 {
                    for j in 0..n1 {
                        sc.line[j] = p[j * n2 + k];
                    }
                    envelope(
                        &sc.line[..n1],
                        spacing[1],
                        &mut sc.v,
                        &mut sc.z,
                        &mut sc.res,
                    );
                    for j in 0..n1 {
                        p[j * n2 + k] = sc.res[j];
                    }
                }
            },
        );
    }
    if n2 > 1 {
        out.par_chunks_mut(n2).for_each_init(
            || Scratch::new(n2),
            |sc, row| {
                sc.line[..n2].copy_from_slice(row);
                envelope(&sc.line[..n2], spacing[2], &mut sc.v, &mut sc.z, row);
            },
        );
    }
    out
}

struct Scratch {
    line: Vec<f64>,
    res: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            line: vec![0.0; n],
            res: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
        }
    }
}

/// Columns per parallel task of the axis-0 sweep.
const COLS: usize = 4096;

/// 1-D distance to the nearest feature along axis 0, squared and scaled: `(d s0)^2`.
fn axis0_sweep(features: &[bool], out: &mut [f64], n0: usize, plane: usize, s0: f64) {
    let cols: Vec<usize> = (0..plane).step_by(COLS).collect();
    // Each task owns a column range; it writes through a per-plane split of `out`.
    let results: Vec<(usize, Vec<f64>)> = cols
        .par_iter()
        .map(|&c0| {
            let w = COLS.min(plane - c0);
            let mut d = vec![INF; w * n0];
            let mut last = vec![usize::MAX; w];
            for i in 0..n0 {
                let f = &features[i * plane + c0..i * plane + c0 + w];
                let row = &mut d[i * w..(i + 1) * w];
                for c in 0..w {
                    if f[c] {
                        last[c] = i;
                    }
                    if last[c] != usize::MAX {
                        row[c] = (i - last[c]) as f64;
                    }
                }
            }
            let mut next = vec![usize::MAX; w];
            for i in (0..n0).rev() {
                let f = &features[i * plane + c0..i * plane + c0 + w];
                let row = &mut d[i * w..(i + 1) * w];
                for c in 0..w {
                    if f[c] {
                        next[c] = i;
                    }
                    if next[c] != usize::MAX {
                        let dd = (next[c] - i) as f64;
                        if dd < row[c] {
                            row[c] = dd;
                        }
                    }
                }
            }
            for x in d.iter_mut() {
                if x.is_finite() {
                    let y = *x * s0;
                    *x = y * y;
                }
            }
            (c0, d)
        })
        .collect();
    for (c0, d) in results {
        let w = COLS.min(plane - c0);
        for i in 0..n0 {
            out[i * plane + c0..i * plane + c0 + w].copy_from_slice(&d[i * w..(i + 1) * w]);
        }
    }
}

/// Lower envelope of the parabolas `((x - q) s)^2 + f[q]` evaluated at every x (into `out`).
fn envelope(f: &[f64], s: f64, v: &mut [usize], z: &mut [f64], out: &mut [f64]) {
    let n = f.len();
    let Some(first) = f.iter().position(|x| x.is_finite()) else {
        out[..n].fill(INF);
        return;
    };
    let pos = |q: usize| q as f64 * s;
    let cross = |q: usize, p: usize| {
        let (zq, zp) = (pos(q), pos(p));
        ((f[q] + zq * zq) - (f[p] + zp * zp)) / (2.0 * (zq - zp))
    };
    let mut k = 0usize;
    v[0] = first;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in first + 1..n {
        if !f[q].is_finite() {
            continue;
        }
        let mut sx = cross(q, v[k]);
        while sx <= z[k] {
            // z[0] is -inf, so k never underflows.
            k -= 1;
            sx = cross(q, v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = sx;
        z[k + 1] = f64::INFINITY;
    }
    k = 0;
    for x in 0..n {
        let px = pos(x);
        while z[k + 1] < px {
            k += 1;
        }
        let q = v[k];
        let d = (x as f64 - q as f64) * s;
        out[x] = d * d + f[q];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn brute(features: &[bool], shape: [usize; 3], s: [f64; 3]) -> Vec<f64> {
        let [n0, n1, n2] = shape;
        let idx = |i: usize, j: usize, k: usize| (i * n1 + j) * n2 + k;
        let mut out = vec![INF; features.len()];
        for i in 0..n0 {
            for j in 0..n1 {
                for k in 0..n2 {
                    for a in 0..n0 {
                        for b in 0..n1 {
                            for c in 0..n2 {
                                if features[idx(a, b, c)] {
                                    let d0 = (i as f64 - a as f64) * s[0];
                                    let d1 = (j as f64 - b as f64) * s[1];
                                    let d2 = (k as f64 - c as f64) * s[2];
                                    let d = d0 * d0 + d1 * d1 + d2 * d2;
                                    if d < out[idx(i, j, k)] {
                                        out[idx(i, j, k)] = d;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn empty_features_give_inf() {
        let out = squared_edt(&[false; 8], [2, 2, 2], [1.0; 3]);
        assert!(out.iter().all(|x| x.is_infinite()));
    }

    #[test]
    fn single_point_anisotropic() {
        let mut f = vec![false; 27];
        f[13] = true;
        let out = squared_edt(&f, [3, 3, 3], [0.8, 0.8, 2.5]);
        assert_eq!(out[13], 0.0);
        assert!((out[0] - (0.64 + 0.64 + 6.25)).abs() < 1e-12);
    }

    #[test]
    fn random_against_brute_force() {
        let mut rng = Rng::new(11);
        for shape in [[5, 6, 7], [1, 9, 8], [7, 1, 5], [4, 5, 1]] {
            let n: usize = shape.iter().product();
            let f: Vec<bool> = (0..n).map(|_| rng.next_f64() < 0.08).collect();
            let s = [0.7, 1.3, 2.1];
            let got = squared_edt(&f, shape, s);
            let want = brute(&f, shape, s);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-9 * b.max(1.0) || (a.is_infinite() && b.is_infinite()));
            }
        }
    }

    proptest! {
        #[test]
        fn matches_brute(n0 in 1usize..5, n1 in 1usize..6, n2 in 1usize..6, seed in 0u64..500,
                         s0 in 0.2f64..3.0, s1 in 0.2f64..3.0, s2 in 0.2f64..3.0) {
            let mut rng = Rng::new(seed);
            let shape = [n0, n1, n2];
            let n = n0 * n1 * n2;
            let f: Vec<bool> = (0..n).map(|_| rng.next_f64() < 0.2).collect();
            let got = squared_edt(&f, shape, [s0, s1, s2]);
            let want = brute(&f, shape, [s0, s1, s2]);
            for (a, b) in got.iter().zip(&want) {
                prop_assert!((a - b).abs() <= 1e-9 * b.max(1.0) || (a.is_infinite() && b.is_infinite()));
            }
        }
    }
}
