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
    let [_, _, n2] = shape;
    let mut out = first_two_axes(features, shape, spacing);
    if n2 > 1 && !out.is_empty() {
        out.par_chunks_mut(n2).for_each_init(
            || Scratch::new(n2),
            |sc, row| {
                sc.line[..n2].copy_from_slice(row);
                let m = build(&sc.line[..n2], spacing[2], &mut sc.v, &mut sc.z, &mut sc.g);
                evaluate_all(&sc.line[..n2], spacing[2], &sc.v, &sc.z, m, row);
            },
        );
    }
    out
}

/// Squared distances to the nearest feature at the grid points `queries` (flat indices in
/// ascending order), in query order. The last axis is only processed on rows holding a query.
pub fn squared_edt_at(
    features: &[bool],
    shape: [usize; 3],
    spacing: [f64; 3],
    queries: &[usize],
) -> Vec<f64> {
    let [_, _, n2] = shape;
    let partial = first_two_axes(features, shape, spacing);
    if n2 <= 1 || partial.is_empty() {
        return queries.iter().map(|&q| partial[q]).collect();
    }
    // Group the queries by row (they are sorted, so each row is one contiguous run).
    let mut starts = Vec::new();
    let mut prev = usize::MAX;
    for (i, &q) in queries.iter().enumerate() {
        if q / n2 != prev {
            prev = q / n2;
            starts.push(i);
        }
    }
    starts.push(queries.len());
    let per_row: Vec<Vec<f64>> = starts
        .par_windows(2)
        .map_init(
            || Scratch::new(n2),
            |sc, w| {
                let qs = &queries[w[0]..w[1]];
                let row0 = (qs[0] / n2) * n2;
                let line = &partial[row0..row0 + n2];
                let m = build(line, spacing[2], &mut sc.v, &mut sc.z, &mut sc.g);
                let mut k = 0usize;
                qs.iter()
                    .map(|&q| {
                        let x = q - row0;
                        if m == 0 {
                            return INF;
                        }
                        while sc.z[k + 1] < x as f64 {
                            k += 1;
                        }
                        let p = sc.v[k];
                        let d = (x as f64 - p as f64) * spacing[2];
                        d * d + line[p]
                    })
                    .collect()
            },
        )
        .collect();
    per_row.concat()
}

/// Axis-0 sweep and axis-1 envelopes (the full grid); the last axis is left to the caller.
fn first_two_axes(features: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Vec<f64> {
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
                    let mut any = false;
                    for j in 0..n1 {
                        let x = p[j * n2 + k];
                        any |= x.is_finite();
                        sc.line[j] = x;
                    }
                    if !any {
                        continue;
                    }
                    let m = build(&sc.line[..n1], spacing[1], &mut sc.v, &mut sc.z, &mut sc.g);
                    evaluate_all(&sc.line[..n1], spacing[1], &sc.v, &sc.z, m, &mut sc.res);
                    for j in 0..n1 {
                        p[j * n2 + k] = sc.res[j];
                    }
                }
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
    g: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            line: vec![0.0; n],
            res: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
            g: vec![0.0; n],
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

/// Lower envelope of the parabolas `s^2 (x - q)^2 + f[q]` over the finite `f[q]`, in index
/// units: `v[..m]` the parabolas' positions, `z[i]` where parabola i starts to be lowest
/// (`z[0] = -inf`, `z[m] = +inf`), `g[i] = f[v[i]] + s^2 v[i]^2`. Returns m (0: no feature).
fn build(f: &[f64], s: f64, v: &mut [usize], z: &mut [f64], g: &mut [f64]) -> usize {
    let s2 = s * s;
    let half_inv = 0.5 / s2;
    let mut m = 0usize;
    for (q, &fq) in f.iter().enumerate() {
        if !fq.is_finite() {
            continue;
        }
        let qf = q as f64;
        let gq = fq + s2 * qf * qf;
        if m == 0 {
            v[0] = q;
            g[0] = gq;
            z[0] = f64::NEG_INFINITY;
            z[1] = f64::INFINITY;
            m = 1;
            continue;
        }
        loop {
            let k = m - 1;
            let sx = (gq - g[k]) * half_inv / (qf - v[k] as f64);
            if sx <= z[k] {
                // z[0] is -inf, so the first parabola is never removed.
                m -= 1;
                continue;
            }
            v[m] = q;
            g[m] = gq;
            z[m] = sx;
            z[m + 1] = f64::INFINITY;
            m += 1;
            break;
        }
    }
    m
}

/// Evaluate the envelope of [`build`] at every x into `out` (INF everywhere when m == 0).
fn evaluate_all(f: &[f64], s: f64, v: &[usize], z: &[f64], m: usize, out: &mut [f64]) {
    let n = f.len();
    if m == 0 {
        out[..n].fill(INF);
        return;
    }
    let mut k = 0usize;
    for (x, o) in out[..n].iter_mut().enumerate() {
        let xf = x as f64;
        while z[k + 1] < xf {
            k += 1;
        }
        let q = v[k];
        let d = (xf - q as f64) * s;
        *o = d * d + f[q];
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

    #[test]
    fn queries_match_the_full_map() {
        let mut rng = Rng::new(4);
        let shape = [6, 7, 9];
        let f: Vec<bool> = (0..378).map(|_| rng.next_f64() < 0.05).collect();
        let full = squared_edt(&f, shape, [0.8, 0.8, 2.5]);
        let q: Vec<usize> = (0..378).filter(|i| i % 3 != 1).collect();
        let at = squared_edt_at(&f, shape, [0.8, 0.8, 2.5], &q);
        for (k, &i) in q.iter().enumerate() {
            assert_eq!(at[k].to_bits(), full[i].to_bits());
        }
        assert!(squared_edt_at(&f, shape, [1.0; 3], &[]).is_empty());
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
