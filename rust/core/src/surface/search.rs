//! Exact distances from the elements of one surface to the other, searched from each element.
//!
//! Only the surface elements need a distance, and most of them lie close to the other surface,
//! so a full distance transform of the region of interest is mostly wasted. For two surfaces
//! (element masks on one grid), in both directions at once:
//!
//! 1. the number of steps along axis `a` (0 or 1, the finer-spaced one) from every grid point
//!    to the nearest element of the other surface on its line is swept slab by slab ([`SLAB`]
//!    planes in a buffer reused between calls), seeded per line by one pass over each mask;
//!    no full-size map is allocated;
//! 2. each query element then searches the plane through it perpendicular to `a`, outward from
//!    its own position, for the minimum of `(steps s_a)^2 + (db s_b)^2 + (dc s_2)^2`: rows are
//!    visited nearest first while their squared offset is below the best value found, and each
//!    row only over the offsets that can still improve it. An element near the other surface
//!    reads a few dozen points;
//! 3. a plane whose queries have read more than [`BUDGET`] times its size finishes with the
//!    separable transform instead (parabola envelopes along `b`, then along axis 2 per row), so
//!    far-apart surfaces cost at most a small multiple of the full transform.
//!
//! Both paths sum squared distances in scipy's order `((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2`.
//! The stopping bounds are partial sums of the same non-negative terms, which rounding never
//! makes larger than the full sum, so the search returns the exact minimum. Planes are
//! independent, so results do not depend on the number of threads.

use super::edt::{squares, Line, Steps, INF};
use rayon::prelude::*;

/// Points a plane's searches may read, per point of the plane, before the plane switches to
/// the separable transform.
pub const BUDGET: usize = 4;

/// On the transform path, rows with at least this many queries run a full envelope.
const ROW_ENVELOPE: usize = 8;

/// (squared distance, flat grid index of the query element).
pub type Hit = (f64, usize);

/// Geometry of the search on one grid.
struct Plan {
    grid: [usize; 3],
    /// Sweep axis (0 or 1) and the other in-plane axis.
    a: usize,
    b: usize,
    spacing: [f64; 3],
    /// `(steps s_a)^2` by step count, followed by INF (reached by clamping "no element").
    sq_a: Vec<f64>,
    sq_b: Vec<f64>,
    sq_c: Vec<f64>,
    stride: [usize; 3],
    /// Whether rows of the search run along axis 2 (outer axis b) rather than along b: the
    /// inner axis is the finer-spaced one, so rows are long and few.
    outer_b: bool,
}

impl Plan {
    fn new(grid: [usize; 3], spacing: [f64; 3]) -> Self {
        let a = match (grid[0] > 1, grid[1] > 1) {
            (true, true) if spacing[1] < spacing[0] => 1,
            (false, true) => 1,
            _ => 0,
        };
        let b = 1 - a;
        let mut sq_a = squares(grid[a], spacing[a]);
        sq_a.push(INF);
        Plan {
            grid,
            a,
            b,
            spacing,
            sq_a,
            sq_b: squares(grid[b], spacing[b]),
            sq_c: squares(grid[2], spacing[2]),
            stride: [grid[1] * grid[2], grid[2], 1],
            outer_b: spacing[b] >= spacing[2],
        }
    }

    /// (outer extent, inner extent, outer squares, inner squares, inner spacing).
    fn axes(&self) -> (usize, usize, &[f64], &[f64], f64) {
        let (nb, n2) = (self.grid[self.b], self.grid[2]);
        if self.outer_b {
            (nb, n2, &self.sq_b, &self.sq_c, self.spacing[2])
        } else {
            (n2, nb, &self.sq_c, &self.sq_b, self.spacing[self.b])
        }
    }
}

/// Squared distances from every `true` of `x` to the nearest `true` of `y` and back, as
/// (x -> y, y -> x) lists of [`Hit`]s. Both masks must hold at least one element and have
/// `grid`'s size.
pub fn both_directions(
    x: &[bool],
    y: &[bool],
    grid: [usize; 3],
    spacing: [f64; 3],
) -> (Vec<Hit>, Vec<Hit>) {
    let plan = Plan::new(grid, spacing);
    if grid[plan.a] < u32::MAX as usize {
        run::<u32>(x, y, &plan)
    } else {
        run::<u64>(x, y, &plan)
    }
}

/// Planes per slab: each task sweeps one slab of planes in a reusable buffer.
pub const SLAB: usize = 16;

/// A grid position along the sweep axis (also used for step counts); `NONE`: no element.
pub trait Position: Steps {
    /// The position `n`.
    fn of(n: usize) -> Self;
    /// Run `f` on a zeroed-or-stale buffer of `n` values, reused between calls on a thread.
    fn with_buffer<R>(n: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

thread_local! {
    static SLAB_BUFFER: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Position for u32 {
    #[inline(always)]
    fn of(n: usize) -> Self {
        n as u32
    }
    fn with_buffer<R>(n: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        SLAB_BUFFER.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.len() < n {
                    buf.resize(n, 0);
                }
                f(&mut buf[..n])
            }
            Err(_) => f(&mut vec![0; n]),
        })
    }
}

impl Position for u64 {
    #[inline(always)]
    fn of(n: usize) -> Self {
        n as u64
    }
    fn with_buffer<R>(n: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        f(&mut vec![0; n])
    }
}

/// Row `(t, b)` of `mask` (t along the sweep axis), along axis 2.
#[inline(always)]
fn mask_row<'a>(mask: &'a [bool], plan: &Plan, t: usize, b: usize) -> &'a [bool] {
    let at = t * plan.stride[plan.a] + b * plan.stride[plan.b];
    &mask[at..at + plan.grid[2]]
}

/// Per column (b, c) and slab s: the position of the last element before the slab,
/// `before[col * n_slabs + s]`, and of the first one after it, `after[...]` (NONE: none).
fn seeds<P: Position>(mask: &[bool], plan: &Plan) -> (Vec<P>, Vec<P>) {
    let (na, nb, n2) = (plan.grid[plan.a], plan.grid[plan.b], plan.grid[2]);
    let n_slabs = na.div_ceil(SLAB);
    let mut before = vec![P::NONE; nb * n2 * n_slabs];
    let mut after = vec![P::NONE; nb * n2 * n_slabs];
    let rows = (2048 / n2).max(1);
    let chunk = rows * n2 * n_slabs;
    before
        .par_chunks_mut(chunk)
        .zip(after.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(task, (bef, aft))| {
            let (b0, w) = (task * rows, bef.len() / n_slabs);
            let mut last = vec![P::NONE; w];
            for t in 0..na {
                if t % SLAB == 0 {
                    for (c, &x) in last.iter().enumerate() {
                        bef[c * n_slabs + t / SLAB] = x;
                    }
                }
                for (r, dst) in last.chunks_mut(n2).enumerate() {
                    let pos = P::of(t);
                    for (d, &x) in dst.iter_mut().zip(mask_row(mask, plan, t, b0 + r)) {
                        *d = if x { pos } else { *d };
                    }
                }
            }
            let next = &mut last;
            next.fill(P::NONE);
            for t in (0..na).rev() {
                if t + 1 == na || (t + 1) % SLAB == 0 {
                    for (c, &x) in next.iter().enumerate() {
                        aft[c * n_slabs + t / SLAB] = x;
                    }
                }
                for (r, dst) in next.chunks_mut(n2).enumerate() {
                    let pos = P::of(t);
                    for (d, &x) in dst.iter_mut().zip(mask_row(mask, plan, t, b0 + r)) {
                        *d = if x { pos } else { *d };
                    }
                }
            }
        });
    (before, after)
}

/// Steps along the sweep axis to the nearest element of `mask`, for the planes of slab `s`:
/// `out[(t - t0) * ncols + col]`.
fn slab_steps<P: Position>(
    mask: &[bool],
    plan: &Plan,
    (before, after): &(Vec<P>, Vec<P>),
    s: usize,
    out: &mut [P],
    pos: &mut Vec<P>,
) {
    let (na, nb, n2) = (plan.grid[plan.a], plan.grid[plan.b], plan.grid[2]);
    let (ncols, n_slabs) = (nb * n2, na.div_ceil(SLAB));
    let (t0, t1) = (s * SLAB, ((s + 1) * SLAB).min(na));
    pos.clear();
    pos.extend((0..ncols).map(|c| before[c * n_slabs + s]));
    for t in t0..t1 {
        let plane = &mut out[(t - t0) * ncols..(t - t0 + 1) * ncols];
        let here = P::of(t);
        for b in 0..nb {
            let row = mask_row(mask, plan, t, b);
            let (last, dst) = (
                &mut pos[b * n2..(b + 1) * n2],
                &mut plane[b * n2..(b + 1) * n2],
            );
            for ((d, l), &x) in dst.iter_mut().zip(last.iter_mut()).zip(row) {
                *l = if x { here } else { *l };
                *d = if *l == P::NONE {
                    P::NONE
                } else {
                    P::of(t - l.get())
                };
            }
        }
    }
    pos.clear();
    pos.extend((0..ncols).map(|c| after[c * n_slabs + s]));
    for t in (t0..t1).rev() {
        let plane = &mut out[(t - t0) * ncols..(t - t0 + 1) * ncols];
        let here = P::of(t);
        for b in 0..nb {
            let row = mask_row(mask, plan, t, b);
            let (next, dst) = (
                &mut pos[b * n2..(b + 1) * n2],
                &mut plane[b * n2..(b + 1) * n2],
            );
            for ((d, n), &x) in dst.iter_mut().zip(next.iter_mut()).zip(row) {
                *n = if x { here } else { *n };
                if *n != P::NONE {
                    let steps = P::of(n.get() - t);
                    *d = if steps < *d { steps } else { *d };
                }
            }
        }
    }
}

fn run<P: Position>(x: &[bool], y: &[bool], plan: &Plan) -> (Vec<Hit>, Vec<Hit>) {
    let (na, nb, n2) = (plan.grid[plan.a], plan.grid[plan.b], plan.grid[2]);
    let (sx, sy) = rayon::join(|| seeds::<P>(x, plan), || seeds::<P>(y, plan));
    let n_slabs = na.div_ceil(SLAB);
    let tasks: Vec<(bool, usize)> = [false, true]
        .iter()
        .flat_map(|&back| (0..n_slabs).map(move |s| (back, s)))
        .collect();
    let (no, ni, _, sqi, _) = plan.axes();
    // sym[k] = sqi[|k - (ni - 1)|]: inner squares as one ascending-index slice per row.
    let sym: Vec<f64> = (0..2 * ni - 1).map(|k| sqi[k.abs_diff(ni - 1)]).collect();
    let ncols = nb * n2;
    let per_slab: Vec<Vec<Hit>> = tasks
        .par_iter()
        .map_init(
            || Scratch {
                line: Line::new(no.max(ni)),
                terms: Vec::new(),
                g2: Vec::new(),
                found: Vec::new(),
                pos: Vec::new(),
            },
            |sc, &(back, s)| {
                let (queries, features, seeds) = if back { (y, x, &sx) } else { (x, y, &sy) };
                let (t0, t1) = (s * SLAB, ((s + 1) * SLAB).min(na));
                P::with_buffer((t1 - t0) * ncols, |steps| {
                    let mut pos = std::mem::take(&mut sc.pos);
                    slab_steps(features, plan, seeds, s, steps, &mut pos);
                    sc.pos = pos;
                    let mut out = Vec::new();
                    for t in t0..t1 {
                        let g = &steps[(t - t0) * ncols..(t - t0 + 1) * ncols];
                        if plan.outer_b {
                            plane::<P, true>(plan, &sym, queries, g, t, sc, &mut out);
                        } else {
                            plane::<P, false>(plan, &sym, queries, g, t, sc, &mut out);
                        }
                    }
                    out
                })
            },
        )
        .collect();
    let (fwd, bwd) = per_slab.split_at(n_slabs);
    (fwd.concat(), bwd.concat())
}

struct Scratch<P> {
    line: Line,
    /// The plane's sweep terms `(steps s_a)^2` (INF: no element), [outer][inner].
    terms: Vec<f64>,
    /// The plane's transform along b, [b][c].
    g2: Vec<f64>,
    /// Queries of the plane: (b, c).
    found: Vec<(usize, usize)>,
    /// Last / next element per column while sweeping a slab.
    pos: Vec<P>,
}

/// Distances of the queries in plane `p` (perpendicular to the sweep axis), appended to
/// `out`; `g` holds the plane's steps to the nearest element along the sweep axis, [b][c].
fn plane<P: Position, const OUTER_B: bool>(
    plan: &Plan,
    sym: &[f64],
    queries: &[bool],
    g: &[P],
    p: usize,
    sc: &mut Scratch<P>,
    out: &mut Vec<Hit>,
) {
    let (nb, n2) = (plan.grid[plan.b], plan.grid[2]);
    let base = p * plan.stride[plan.a];
    let sb = plan.stride[plan.b];
    sc.found.clear();
    for bb in 0..nb {
        let row = mask_row(queries, plan, p, bb);
        if super::row_any(row) {
            let hits = row.iter().enumerate().filter(|(_, q)| **q);
            sc.found.extend(hits.map(|(cc, _)| (bb, cc)));
        }
    }
    if sc.found.is_empty() {
        return;
    }
    // Sweep terms of the plane, laid out [outer][inner] so that rows are contiguous.
    let none = plan.sq_a.len() - 1;
    sc.terms.clear();
    sc.terms.resize(nb * n2, INF);
    for (bb, src) in g.chunks_exact(n2).enumerate() {
        for (cc, x) in src.iter().enumerate() {
            let at = if OUTER_B { bb * n2 + cc } else { cc * nb + bb };
            sc.terms[at] = plan.sq_a[x.get().min(none)];
        }
    }
    let mut budget = BUDGET * nb * n2;
    let mut first_pending = None;
    for (k, &(bb, cc)) in sc.found.iter().enumerate() {
        let q = if OUTER_B { (bb, cc) } else { (cc, bb) };
        match search::<OUTER_B>(plan, sym, &sc.terms, q, &mut budget) {
            Some(d2) => out.push((d2, base + bb * sb + cc)),
            None => {
                first_pending = Some(k);
                break;
            }
        }
    }
    if let Some(k) = first_pending {
        transform::<P, OUTER_B>(plan, base, k, out, sc);
    }
}

/// Search outward from (qo, qi) (outer, inner) over the plane's `terms`; `None` when the
/// budget runs out first.
///
/// Rows along the outer axis are visited in order of distance from the query while their
/// squared offset is below the best value found. Until a first element is found, a row is
/// read outward from the query with early exit; afterwards every point of a row whose in-plane
/// offset is below the best value at the row's start is read, without branches.
#[inline(always)]
fn search<const OUTER_B: bool>(
    plan: &Plan,
    sym: &[f64],
    terms: &[f64],
    (qo, qi): (usize, usize),
    budget: &mut usize,
) -> Option<f64> {
    let (no, ni, sqo, sqi, si) = plan.axes();
    let mut best = INF;
    let mut cost = 0usize;
    let mut reach: Option<usize> = None;
    for step in 0..no {
        let to = sqo[step];
        if to >= best {
            break;
        }
        if cost > *budget {
            return None;
        }
        for o in [qo + step, qo.wrapping_sub(step)] {
            if o >= no || (step == 0 && o != qo) {
                continue;
            }
            let row = &terms[o * ni..(o + 1) * ni];
            if !best.is_finite() {
                let mut d = 0;
                while d < ni && to + sqi[d] < best {
                    for at in [qi + d, qi.wrapping_sub(d)] {
                        if at < ni {
                            let v = triple::<OUTER_B>(row[at], to, sqi[d]);
                            best = if v < best { v } else { best };
                        }
                    }
                    d += 1;
                }
                cost += d + 1;
                continue;
            }
            // Offsets d with to + sqi[d] < best: a prefix 0..=r (the terms grow with d).
            // Rows come with growing `to` and shrinking `best`, so r only shrinks after the
            // first estimate.
            let mut r = match reach {
                Some(r) => r,
                None => {
                    let mut r = (((best - to).sqrt() / si) as usize).min(ni - 1);
                    while r + 1 < ni && to + sqi[r + 1] < best {
                        r += 1;
                    }
                    r
                }
            };
            while r > 0 && to + sqi[r] >= best {
                r -= 1;
            }
            reach = Some(r);
            let (lo, hi) = (qi.saturating_sub(r), (qi + r).min(ni - 1));
            let off = ni - 1 - qi;
            let (xs, ts) = (&row[lo..=hi], &sym[off + lo..=off + hi]);
            // Four independent minima: no loop-carried dependency on one accumulator.
            let mut m = [best; 4];
            let mut cx = xs.chunks_exact(4);
            let mut ct = ts.chunks_exact(4);
            for (x4, t4) in (&mut cx).zip(&mut ct) {
                for l in 0..4 {
                    let v = triple::<OUTER_B>(x4[l], to, t4[l]);
                    m[l] = if v < m[l] { v } else { m[l] };
                }
            }
            for (l, (&x, &t)) in cx.remainder().iter().zip(ct.remainder()).enumerate() {
                let v = triple::<OUTER_B>(x, to, t);
                m[l] = if v < m[l] { v } else { m[l] };
            }
            best = m.iter().fold(best, |b, &x| if x < b { x } else { b });
            cost += hi - lo + 2;
        }
    }
    *budget -= cost.min(*budget);
    Some(best)
}

/// The squared distance `((d_a s_a)^2 + (d_b s_b)^2) + (d_c s_c)^2` from the sweep term `ta`
/// and the outer and inner terms.
#[inline(always)]
fn triple<const OUTER_B: bool>(ta: f64, to: f64, ti: f64) -> f64 {
    if OUTER_B {
        (ta + to) + ti
    } else {
        (ta + ti) + to
    }
}

/// The separable transform of the plane for the queries `sc.found[first..]`.
fn transform<P, const OUTER_B: bool>(
    plan: &Plan,
    base: usize,
    first: usize,
    out: &mut Vec<Hit>,
    sc: &mut Scratch<P>,
) {
    let (nb, n2) = (plan.grid[plan.b], plan.grid[2]);
    let sb = plan.stride[plan.b];
    let term = |bb: usize, cc: usize| {
        if OUTER_B {
            bb * n2 + cc
        } else {
            cc * nb + bb
        }
    };
    // g2[bb * n2 + cc] = min over b' of (d_b s_b)^2 + (steps s_a)^2 (parabola envelopes).
    let g2 = &mut sc.g2;
    g2.clear();
    g2.resize(nb * n2, INF);
    for cc in 0..n2 {
        for (bb, f) in sc.line.values()[..nb].iter_mut().enumerate() {
            *f = sc.terms[term(bb, cc)];
        }
        let mut env = sc.line.envelope(nb, plan.spacing[plan.b]);
        if env.is_empty() {
            continue;
        }
        for bb in 0..nb {
            g2[bb * n2 + cc] = env.value(bb, &plan.sq_b);
        }
    }
    // Along axis 2, row by row: a full envelope for busy rows, pruned scans otherwise.
    let rest = &sc.found[first..];
    let mut i = 0;
    while i < rest.len() {
        let bb = rest[i].0;
        let end = i + rest[i..].iter().take_while(|q| q.0 == bb).count();
        let row = &g2[bb * n2..(bb + 1) * n2];
        if end - i >= ROW_ENVELOPE {
            sc.line.values()[..n2].copy_from_slice(row);
            let mut env = sc.line.envelope(n2, plan.spacing[2]);
            for &(_, cc) in &rest[i..end] {
                out.push((env.value(cc, &plan.sq_c), base + bb * sb + cc));
            }
        } else {
            for &(_, cc) in &rest[i..end] {
                let mut best = INF;
                for (dc, &t) in plan.sq_c.iter().enumerate() {
                    if t >= best {
                        break;
                    }
                    if cc + dc < n2 {
                        best = best.min(row[cc + dc] + t);
                    }
                    if dc <= cc {
                        best = best.min(row[cc - dc] + t);
                    }
                }
                out.push((best, base + bb * sb + cc));
            }
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    /// min over features of ((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2, by brute force.
    fn brute(q: usize, f: &[bool], [_, n1, n2]: [usize; 3], s: [f64; 3]) -> f64 {
        let at = |i: usize| [i / (n1 * n2), i / n2 % n1, i % n2];
        let (a, mut best) = (at(q), INF);
        for (i, _) in f.iter().enumerate().filter(|(_, x)| **x) {
            let b = at(i);
            let t = |k: usize| {
                let d = a[k].abs_diff(b[k]) as f64 * s[k];
                d * d
            };
            best = best.min((t(0) + t(1)) + t(2));
        }
        best
    }

    fn check(x: &[bool], y: &[bool], grid: [usize; 3], s: [f64; 3]) {
        let (fwd, bwd) = both_directions(x, y, grid, s);
        for (hits, q, f) in [(&fwd, x, y), (&bwd, y, x)] {
            let mut idx: Vec<usize> = hits.iter().map(|h| h.1).collect();
            idx.sort_unstable();
            let want: Vec<usize> = (0..q.len()).filter(|&i| q[i]).collect();
            assert_eq!(idx, want);
            for &(d2, at) in hits.iter() {
                let b = brute(at, f, grid, s);
                assert!((d2 - b).abs() <= 1e-12 * b, "at {at}: {d2} vs {b}");
            }
        }
    }

    fn random(rng: &mut Rng, n: usize, p: f64) -> Vec<bool> {
        let mut m: Vec<bool> = (0..n).map(|_| rng.next_f64() < p).collect();
        m[n / 2] = true;
        m
    }

    #[test]
    fn matches_the_full_transform() {
        let mut rng = Rng::new(3);
        for (grid, s) in [
            ([9, 11, 7], [0.8, 0.8, 2.5]),
            ([9, 11, 7], [2.5, 0.8, 0.8]),
            ([6, 5, 13], [1.0, 3.0, 0.5]),
            ([1, 12, 10], [1.0, 0.7, 1.1]),
            ([1, 1, 30], [1.0, 1.0, 0.3]),
            ([15, 1, 4], [0.5, 1.0, 2.0]),
        ] {
            let n = grid.iter().product();
            for p in [0.01, 0.1, 0.4] {
                let x = random(&mut rng, n, p);
                let y = random(&mut rng, n, p / 3.0);
                check(&x, &y, grid, s);
            }
        }
    }

    #[test]
    fn far_apart_surfaces_take_the_transform_path() {
        // Two single points in opposite corners: every search exceeds the budget.
        let grid = [20, 30, 25];
        let n = 20 * 30 * 25;
        let mut x = vec![false; n];
        let mut y = vec![false; n];
        for i in 0..5 {
            x[i * 31] = true;
        }
        y[n - 1] = true;
        check(&x, &y, grid, [0.8, 0.8, 2.5]);
        let mut dense = vec![false; n];
        for i in (0..n).step_by(3) {
            dense[i] = true;
        }
        check(&dense, &y, grid, [1.0, 2.0, 1.0]);
    }

    proptest! {
        #[test]
        fn search_is_exact(n0 in 1usize..7, n1 in 1usize..7, n2 in 1usize..9, seed in 0u64..1000,
                           s0 in 0.2f64..3.0, s1 in 0.2f64..3.0, s2 in 0.2f64..3.0) {
            let mut rng = Rng::new(seed);
            let n = n0 * n1 * n2;
            let x = random(&mut rng, n, 0.15);
            let y = random(&mut rng, n, 0.05);
            check(&x, &y, [n0, n1, n2], [s0, s1, s2]);
        }
    }
}
