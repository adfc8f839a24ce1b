//! Exact squared Euclidean distance transform with anisotropic spacing.
//!
//! Separable (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions", 2012):
//! a 1-D nearest-feature sweep along axis 0, then the lower envelope of parabolas along axes 1
//! and 2, each linear in the line length and parallel over lines.
//!
//! The first two stages ([`Transform::new`]) keep, per grid point, the integer offsets
//! `(d0, d1)` to the nearest feature found so far, packed into a `u16` (extents up to 255), a
//! `u32` or a `u64` (extents above 65534): a quarter to a half of the memory of an `f64` map.
//! The last axis runs one row at a time where the caller needs it ([`Transform::finish_row`]),
//! so no full `f64` map has to exist. Every squared distance is summed as
//! `((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2`, the order scipy's `distance_transform_edt` uses:
//! distances agree to the last bit with the same nearest feature.

use rayon::prelude::*;

/// Squared distance of a point without any feature.
pub const INF: f64 = f64::INFINITY;

/// `(d s)^2` for every offset `d < n`: the squared length of `d` steps of spacing `s`.
pub fn squares(n: usize, s: f64) -> Vec<f64> {
    (0..n.max(1))
        .map(|d| {
            let x = d as f64 * s;
            x * x
        })
        .collect()
}

/// Two integer offsets packed into one word; [`Packed::NONE`] marks "no feature".
pub trait Packed: Copy + Send + Sync + PartialEq + 'static {
    /// No feature on the line(s) seen so far.
    const NONE: Self;
    /// Largest offset that can be stored.
    const LIMIT: usize;
    /// Pack `(d0, d1)`, both at most [`Packed::LIMIT`].
    fn pack(d0: usize, d1: usize) -> Self;
    /// First offset.
    fn d0(self) -> usize;
    /// Second offset.
    fn d1(self) -> usize;
}

/// `Packed` for an unsigned integer holding two offsets of `$half` bits each.
macro_rules! impl_packed {
    ($t:ty, $half:expr) => {
        impl Packed for $t {
            const NONE: Self = <$t>::MAX;
            const LIMIT: usize = (1usize << $half) - 2;
            #[inline(always)]
            fn pack(d0: usize, d1: usize) -> Self {
                ((d0 as $t) << $half) | d1 as $t
            }
            #[inline(always)]
            fn d0(self) -> usize {
                (self >> $half) as usize
            }
            #[inline(always)]
            fn d1(self) -> usize {
                (self & ((1 << $half) - 1)) as usize
            }
        }
    };
}

impl_packed!(u16, 8);
impl_packed!(u32, 16);
impl_packed!(u64, 32);

/// A step count along one axis; [`Steps::NONE`] (the largest value) means "no feature".
pub trait Steps: Copy + Send + Sync + Ord + 'static {
    /// No feature on the line.
    const NONE: Self;
    /// Zero steps.
    const ZERO: Self;
    /// One more step (NONE stays NONE).
    fn next(self) -> Self;
    /// The count.
    fn get(self) -> usize;
}

/// `Steps` for an unsigned integer type (saturating, so NONE stays NONE).
macro_rules! impl_steps {
    ($($t:ty),*) => {$(
        impl Steps for $t {
            const NONE: Self = <$t>::MAX;
            const ZERO: Self = 0;
            #[inline(always)]
            fn next(self) -> Self {
                self.saturating_add(1)
            }
            #[inline(always)]
            fn get(self) -> usize {
                self as usize
            }
        }
    )*};
}

impl_steps!(u16, u32, u64);

/// Columns per parallel task of a sweep.
const COLS: usize = 2048;

/// 1-D nearest-feature sweep along the middle axis of a C-ordered `[outer, n, inner]` grid:
/// `out` gets the number of steps to the nearest feature on the point's line, or `NONE`.
///
/// Callers guarantee `features.len() == out.len() == outer * n * inner` and `n < NONE`.
pub fn sweep<S: Steps>(features: &[bool], [_, n, inner]: [usize; 3], out: &mut [S]) {
    if out.is_empty() {
        return;
    }
    // Tasks own a column range of one outer block: n row segments each.
    let mut tasks: Vec<(usize, usize, Vec<&mut [S]>)> = Vec::new();
    for (o, block) in out.chunks_mut(n * inner).enumerate() {
        let first = tasks.len();
        for c0 in (0..inner).step_by(COLS) {
            tasks.push((o, c0, Vec::with_capacity(n)));
        }
        for row in block.chunks_mut(inner) {
            for (t, seg) in row.chunks_mut(COLS).enumerate() {
                tasks[first + t].2.push(seg);
            }
        }
    }
    tasks.into_par_iter().for_each(|(o, c0, mut rows)| {
        let w = rows[0].len();
        let at = |t: usize| (o * n + t) * inner + c0;
        // Branch-free running counts (vectorised): forward, then backward keeping the minimum.
        let mut count = vec![S::NONE; w];
        for (t, row) in rows.iter_mut().enumerate() {
            let f = &features[at(t)..at(t) + w];
            for ((r, c), &x) in row.iter_mut().zip(count.iter_mut()).zip(f) {
                *c = if x { S::ZERO } else { c.next() };
                *r = *c;
            }
        }
        count.fill(S::NONE);
        for (t, row) in rows.iter_mut().enumerate().rev() {
            let f = &features[at(t)..at(t) + w];
            for ((r, c), &x) in row.iter_mut().zip(count.iter_mut()).zip(f) {
                *c = if x { S::ZERO } else { c.next() };
                *r = (*r).min(*c);
            }
        }
    });
}

/// Per-line buffers of the parabola envelope.
pub struct Line {
    f: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
    g: Vec<f64>,
}

impl Line {
    /// Buffers for lines of up to `n` points.
    pub fn new(n: usize) -> Self {
        Line {
            f: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
            g: vec![0.0; n],
        }
    }

    /// The input values of the current line (length >= the line's).
    pub fn values(&mut self) -> &mut [f64] {
        &mut self.f
    }

    /// Build the lower envelope of `sq[|x - q|] + f[q]` over the first `n` values; returns an
    /// [`Envelope`] to evaluate it.
    pub fn envelope(&mut self, n: usize, s: f64) -> Envelope<'_> {
        let m = build(&self.f[..n], s, &mut self.v, &mut self.z, &mut self.g);
        Envelope {
            f: &self.f[..n],
            v: &self.v,
            z: &self.z,
            m,
            k: 0,
        }
    }
}

/// The lower envelope of one line's parabolas, evaluated at increasing x.
pub struct Envelope<'a> {
    f: &'a [f64],
    v: &'a [usize],
    z: &'a [f64],
    m: usize,
    k: usize,
}

impl Envelope<'_> {
    /// Whether the line holds no feature.
    pub fn is_empty(&self) -> bool {
        self.m == 0
    }

    /// The nearest parabola's position at `x` (x must not decrease between calls; the line
    /// must hold a feature).
    #[inline(always)]
    pub fn nearest(&mut self, x: usize) -> usize {
        let xf = x as f64;
        while self.z[self.k + 1] < xf {
            self.k += 1;
        }
        self.v[self.k]
    }

    /// `sq[|x - q|] + f[q]` at the nearest parabola q (INF on an empty line).
    #[inline(always)]
    pub fn value(&mut self, x: usize, sq: &[f64]) -> f64 {
        if self.m == 0 {
            return INF;
        }
        let q = self.nearest(x);
        sq[x.abs_diff(q)] + self.f[q]
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

/// Axes 0 and 1 of the transform: packed offsets to the nearest feature within each plane.
pub struct Partial<P> {
    shape: [usize; 3],
    spacing: [f64; 3],
    sq: [Vec<f64>; 3],
    data: Vec<P>,
}

impl<P: Packed + Steps> Partial<P> {
    fn new(features: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Self {
        let [n0, n1, n2] = shape;
        let sq = [
            squares(n0, spacing[0]),
            squares(n1, spacing[1]),
            squares(n2, spacing[2]),
        ];
        let mut data = vec![<P as Packed>::NONE; features.len()];
        // Raw step counts along axis 0 first (NONE is the same word in both readings), then
        // packed offsets once the envelope along axis 1 has run.
        sweep(features, [1, n0, n1 * n2], &mut data);
        if !data.is_empty() {
            let sq0 = &sq[0];
            data.par_chunks_mut(n1 * n2).for_each_init(
                || (Line::new(n1), vec![<P as Packed>::NONE; n1]),
                |(line, col), p| {
                    for k in 0..n2 {
                        let mut any = false;
                        for j in 0..n1 {
                            let x = p[j * n2 + k];
                            col[j] = x;
                            any |= x != <P as Packed>::NONE;
                        }
                        if !any {
                            continue;
                        }
                        for (f, x) in line.values().iter_mut().zip(col.iter()) {
                            *f = if *x == <P as Packed>::NONE {
                                INF
                            } else {
                                sq0[Steps::get(*x)]
                            };
                        }
                        let mut env = line.envelope(n1, spacing[1]);
                        for j in 0..n1 {
                            let q = env.nearest(j);
                            p[j * n2 + k] = P::pack(Steps::get(col[q]), j.abs_diff(q));
                        }
                    }
                },
            );
        }
        Partial {
            shape,
            spacing,
            sq,
            data,
        }
    }

    #[inline(always)]
    fn value(&self, x: P) -> f64 {
        if x == <P as Packed>::NONE {
            INF
        } else {
            self.sq[1][x.d1()] + self.sq[0][x.d0()]
        }
    }

    fn finish_row(&self, row: usize, out: &mut [f64], line: &mut Line) {
        let n2 = self.shape[2];
        let src = &self.data[row * n2..(row + 1) * n2];
        for (f, &x) in line.values().iter_mut().zip(src) {
            *f = self.value(x);
        }
        let mut env = line.envelope(n2, self.spacing[2]);
        for (x, o) in out[..n2].iter_mut().enumerate() {
            *o = env.value(x, &self.sq[2]);
        }
    }
}

/// Axes 0 and 1 of the transform of `features` on the C-ordered grid `shape`; rows of the
/// final squared distances come from [`Transform::finish_row`].
pub enum Transform {
    /// Offsets packed in 8 bits each (extents up to 255).
    Tiny(Partial<u16>),
    /// Offsets packed in 16 bits each.
    Narrow(Partial<u32>),
    /// Offsets packed in 32 bits each (extents above 65535).
    Wide(Partial<u64>),
}

impl Transform {
    /// Run axes 0 and 1. Callers guarantee `features.len() == shape.iter().product()`.
    pub fn new(features: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Self {
        if shape[0].max(shape[1]) <= <u16 as Packed>::LIMIT {
            Transform::Tiny(Partial::new(features, shape, spacing))
        } else if shape[0].max(shape[1]) <= <u32 as Packed>::LIMIT {
            Transform::Narrow(Partial::new(features, shape, spacing))
        } else {
            Transform::Wide(Partial::new(features, shape, spacing))
        }
    }

    /// Number of rows (lines along the last axis).
    pub fn n_rows(&self) -> usize {
        let [n0, n1, _] = self.shape();
        n0 * n1
    }

    /// The grid shape.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            Transform::Tiny(p) => p.shape,
            Transform::Narrow(p) => p.shape,
            Transform::Wide(p) => p.shape,
        }
    }

    /// Squared distances of row `row` (flat row index `i * n1 + j`) into `out[..n2]`;
    /// `line` must hold at least n2 points.
    pub fn finish_row(&self, row: usize, out: &mut [f64], line: &mut Line) {
        match self {
            Transform::Tiny(p) => p.finish_row(row, out, line),
            Transform::Narrow(p) => p.finish_row(row, out, line),
            Transform::Wide(p) => p.finish_row(row, out, line),
        }
    }
}

/// Squared distance (in spacing units squared) from every point of the C-ordered grid `shape`
/// to the nearest `true` of `features`; [`INF`] everywhere when there is no feature.
///
/// Callers guarantee `features.len() == shape.iter().product()`.
pub fn squared_edt(features: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Vec<f64> {
    let n2 = shape[2];
    let mut out = vec![INF; features.len()];
    if out.is_empty() {
        return out;
    }
    let t = Transform::new(features, shape, spacing);
    out.par_chunks_mut(n2).enumerate().for_each_init(
        || Line::new(n2),
        |line, (r, row)| t.finish_row(r, row, line),
    );
    out
}

/// Points within squared distance `r2` of a feature (`d^2 <= r2`).
///
/// Callers guarantee `features.len() == shape.iter().product()`.
pub fn within(features: &[bool], shape: [usize; 3], spacing: [f64; 3], r2: f64) -> Vec<bool> {
    let n2 = shape[2];
    let mut out = vec![false; features.len()];
    if out.is_empty() {
        return out;
    }
    let t = Transform::new(features, shape, spacing);
    out.par_chunks_mut(n2).enumerate().for_each_init(
        || (Line::new(n2), vec![0.0; n2]),
        |(line, d), (r, row)| {
            t.finish_row(r, d, line);
            for (o, &x) in row.iter_mut().zip(d.iter()) {
                *o = x <= r2;
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    pub(crate) fn brute(features: &[bool], shape: [usize; 3], s: [f64; 3]) -> Vec<f64> {
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.max(1.0) || (a.is_infinite() && b.is_infinite())
    }

    #[test]
    fn empty_features_give_inf() {
        let out = squared_edt(&[false; 8], [2, 2, 2], [1.0; 3]);
        assert!(out.iter().all(|x| x.is_infinite()));
        assert!(!within(&[false; 8], [2, 2, 2], [1.0; 3], 100.0)
            .iter()
            .any(|&b| b));
    }

    #[test]
    fn single_point_anisotropic() {
        let mut f = vec![false; 27];
        f[13] = true;
        let out = squared_edt(&f, [3, 3, 3], [0.8, 0.8, 2.5]);
        assert_eq!(out[13], 0.0);
        let (a, b) = (0.8f64 * 0.8, 2.5f64 * 2.5);
        assert_eq!(out[0], (a + a) + b);
    }

    #[test]
    fn random_against_brute_force() {
        let mut rng = Rng::new(11);
        for shape in [
            [5, 6, 7],
            [1, 9, 8],
            [7, 1, 5],
            [4, 5, 1],
            [1, 1, 9],
            [9, 1, 1],
        ] {
            let n: usize = shape.iter().product();
            let f: Vec<bool> = (0..n).map(|_| rng.next_f64() < 0.08).collect();
            let s = [0.7, 1.3, 2.1];
            let got = squared_edt(&f, shape, s);
            let want = brute(&f, shape, s);
            for (a, b) in got.iter().zip(&want) {
                assert!(close(*a, *b), "{a} vs {b}");
            }
            let band = within(&f, shape, s, 4.0);
            for (x, b) in band.iter().zip(&want) {
                assert_eq!(*x, *b <= 4.0 + 1e-9);
            }
        }
    }

    #[test]
    fn packing_round_trips() {
        let p = <u16 as Packed>::pack(0xFE, 3);
        assert_eq!((p.d0(), p.d1()), (0xFE, 3));
        for (a, b) in [(0, 0), (1, 7), (0xFFFE, 0xFFFE), (123, 0)] {
            let p = <u32 as Packed>::pack(a, b);
            assert_eq!((p.d0(), p.d1()), (a, b));
            assert_ne!(p, <u32 as Packed>::NONE);
        }
        let p = <u64 as Packed>::pack(70_000, 1 << 31);
        assert_eq!((p.d0(), p.d1()), (70_000, 1 << 31));
    }

    #[test]
    fn wide_packing_matches_narrow() {
        let mut rng = Rng::new(5);
        let shape = [6, 7, 8];
        let f: Vec<bool> = (0..336).map(|_| rng.next_f64() < 0.05).collect();
        let s = [0.8, 0.8, 2.5];
        let tiny: Partial<u16> = Partial::new(&f, shape, s);
        let narrow: Partial<u32> = Partial::new(&f, shape, s);
        let wide: Partial<u64> = Partial::new(&f, shape, s);
        let (mut a, mut b, mut c) = (vec![0.0; 8], vec![0.0; 8], vec![0.0; 8]);
        let mut line = Line::new(8);
        for r in 0..42 {
            tiny.finish_row(r, &mut a, &mut line);
            narrow.finish_row(r, &mut b, &mut line);
            wide.finish_row(r, &mut c, &mut line);
            assert_eq!(a, b);
            assert_eq!(b, c);
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
                prop_assert!(close(*a, *b));
            }
        }
    }
}
