//! The streaming pass behind [`super::aggregate_many`] and [`super::patch_min`].
//!
//! Maps come from a [`MapSource`] a few rows at a time and never exist whole. Planes are
//! processed in batches; within a batch:
//!
//! - phase A, parallel over (plane, block of rows): fill the rows of every map, add them to the
//!   region sums (band, foreground, distance weights from the last axis of the boundary
//!   distance transform, computed row by row), and take window sums along axis 2;
//! - phase B, parallel over (map, block of columns): window sums along axis 1, then along axis
//!   0 from running prefix sums over the planes seen so far, and the running minimum.
//!
//! The window sums are the prefix differences of the former whole-volume summed-area tables,
//! in the same order, so values do not change; sums are merged in a fixed order (planes, then
//! row blocks), so results do not depend on the number of threads.

use super::MapSource;
use crate::label::Label;
use crate::surface::edt::{Line, Transform};
use rayon::prelude::*;

/// Voxels per phase-A task (whole rows).
const TASK_VOXELS: usize = 8192;
/// Voxels per batch of planes (bounds the buffer of axis-2 window sums).
const BATCH_VOXELS: usize = 1 << 16;
/// Columns per phase-B task.
const COLUMNS: usize = 64;

/// Sums of one map over the regions of a case.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapSums {
    pub all: f64,
    pub outside: f64,
    pub fg: f64,
    pub wsum: f64,
}

/// Voxel counts and the weight total (the same for every map).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub n_outside: u64,
    pub n_fg_outside: u64,
    pub n_fg: u64,
    pub n_band: u64,
    pub w: f64,
}

/// The masks of one case.
pub struct Regions<'a, L> {
    pub labels: &'a [L],
    pub band: &'a [bool],
    /// Boundary distance transform (axes 0 and 1) and the saturation distance.
    pub dist: Option<(&'a Transform, f64)>,
}

/// What the pass returns: per-map sums, counts, per-map patch minima (window means; NaN when
/// no patch was asked for).
pub struct Streamed {
    pub sums: Vec<MapSums>,
    pub counts: Counts,
    pub patch_min: Vec<f64>,
}

/// Geometry of the pass.
#[derive(Clone, Copy)]
struct Geo {
    s: [usize; 3],
    /// Window edge per axis and number of window positions per axis.
    w: [usize; 3],
    m: [usize; 3],
    k: usize,
    /// Rows per phase-A task and planes per batch.
    rows: usize,
    planes: usize,
}

impl Geo {
    fn chunks(&self) -> usize {
        self.s[1].div_ceil(self.rows)
    }
    /// Offset of row j of map k in one plane's block of axis-2 window sums.
    fn row_at(&self, k: usize, j: usize) -> usize {
        let ch = j / self.rows;
        let rows_ch = self.rows.min(self.s[1] - ch * self.rows);
        (self.k * ch * self.rows + k * rows_ch + (j - ch * self.rows)) * self.m[2]
    }
}

/// Run the pass over a C-ordered volume of shape `s` (inside the rayon pool).
pub fn stream<S: MapSource, L: Label>(
    src: &S,
    s: [usize; 3],
    regions: Option<&Regions<'_, L>>,
    patch: usize,
) -> Streamed {
    let k = src.n_maps();
    let [n0, n1, n2] = s;
    let w = if patch > 0 {
        [patch.min(n0), patch.min(n1), patch.min(n2)]
    } else {
        [1; 3]
    };
    let geo = Geo {
        s,
        w,
        m: [n0 - w[0] + 1, n1 - w[1] + 1, n2 - w[2] + 1],
        k,
        rows: (TASK_VOXELS / n2).clamp(1, n1),
        planes: if patch > 0 {
            (BATCH_VOXELS / (n1 * n2)).clamp(1, n0)
        } else {
            n0
        },
    };
    let plane_len = if patch > 0 { k * n1 * geo.m[2] } else { 0 };
    let mut rowsums = vec![0.0f64; geo.planes * plane_len];
    let mut states: Vec<ColState> = if patch > 0 {
        (0..k)
            .flat_map(|kk| {
                (0..geo.m[2])
                    .step_by(COLUMNS)
                    .map(move |c0| ColState::new(&geo, kk, c0))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut sums = vec![MapSums::default(); k];
    let mut counts = Counts::default();
    for i0 in (0..n0).step_by(geo.planes) {
        let i1 = (i0 + geo.planes).min(n0);
        // Phase A: one task per (plane, block of rows), each writing its own segment.
        let mut tasks: Vec<(usize, usize, &mut [f64])> = Vec::new();
        let mut rest = &mut rowsums[..];
        for i in i0..i1 {
            for ch in 0..geo.chunks() {
                let rows_ch = geo.rows.min(n1 - ch * geo.rows);
                let (seg, tail) =
                    rest.split_at_mut(if patch > 0 { k * rows_ch * geo.m[2] } else { 0 });
                rest = tail;
                tasks.push((i, ch, seg));
            }
        }
        let parts: Vec<(Vec<MapSums>, Counts)> = tasks
            .into_par_iter()
            .map_init(
                || RowScratch::new(src, &geo),
                |sc, (i, ch, seg)| rows_task(src, &geo, regions, patch > 0, i, ch, seg, sc),
            )
            .collect();
        for (part, c) in parts {
            for (t, p) in sums.iter_mut().zip(part) {
                t.all += p.all;
                t.outside += p.outside;
                t.fg += p.fg;
                t.wsum += p.wsum;
            }
            counts.n_outside += c.n_outside;
            counts.n_fg_outside += c.n_fg_outside;
            counts.n_fg += c.n_fg;
            counts.n_band += c.n_band;
            counts.w += c.w;
        }
        // Phase B: axes 1 and 0 of the window sums, per (map, block of columns).
        if patch > 0 {
            let rs = &rowsums;
            states
                .par_iter_mut()
                .for_each(|st| st.planes(&geo, rs, plane_len, i0, i1));
        }
    }
    let denom = (w[0] * w[1] * w[2]) as f64;
    let patch_min = (0..k)
        .map(|kk| {
            if patch == 0 {
                return f64::NAN;
            }
            let m = states
                .iter()
                .filter(|st| st.k == kk)
                .fold(f64::INFINITY, |a, st| a.min(st.min));
            m / denom
        })
        .collect();
    Streamed {
        sums,
        counts,
        patch_min,
    }
}

/// Per-thread buffers of phase A.
struct RowScratch<X> {
    src: X,
    vals: Vec<Vec<f64>>,
    fg: Vec<bool>,
    band: Vec<bool>,
    weight: Vec<f64>,
    d2: Vec<f64>,
    line: Line,
    ring: Vec<f64>,
}

impl<X> RowScratch<X> {
    fn new<S: MapSource<Scratch = X>>(src: &S, geo: &Geo) -> Self {
        let n = geo.rows * geo.s[2];
        RowScratch {
            src: src.scratch(n),
            vals: vec![vec![0.0; n]; geo.k],
            fg: vec![false; n],
            band: vec![false; n],
            weight: vec![0.0; n],
            d2: vec![0.0; geo.s[2]],
            line: Line::new(geo.s[2]),
            ring: vec![0.0; geo.w[2]],
        }
    }
}

/// Phase A for rows `ch * rows ..` of plane `i`: region sums, and axis-2 window sums into
/// `seg` ([map][row][position]).
fn rows_task<S: MapSource, L: Label>(
    src: &S,
    geo: &Geo,
    regions: Option<&Regions<'_, L>>,
    windows: bool,
    i: usize,
    ch: usize,
    seg: &mut [f64],
    sc: &mut RowScratch<S::Scratch>,
) -> (Vec<MapSums>, Counts) {
    let [_, n1, n2] = geo.s;
    let j0 = ch * geo.rows;
    let j1 = (j0 + geo.rows).min(n1);
    let start = (i * n1 + j0) * n2;
    let n = (j1 - j0) * n2;
    src.fill(start..start + n, &mut sc.vals, &mut sc.src);
    let mut sums = vec![MapSums::default(); geo.k];
    let mut counts = Counts::default();
    if let Some(r) = regions {
        for (v, ((f, b), l)) in sc
            .fg
            .iter_mut()
            .zip(sc.band.iter_mut())
            .zip(&r.labels[start..start + n])
            .enumerate()
        {
            *f = l.index() != 0;
            *b = r.band[start + v];
            counts.n_fg += *f as u64;
            counts.n_band += *b as u64;
            counts.n_outside += !*b as u64;
            counts.n_fg_outside += (*f & !*b) as u64;
        }
        if let Some((t, sat)) = r.dist {
            let sat2 = sat * sat;
            for j in j0..j1 {
                t.finish_row(i * n1 + j, &mut sc.d2, &mut sc.line);
                let w = &mut sc.weight[(j - j0) * n2..(j - j0 + 1) * n2];
                for (w, &d) in w.iter_mut().zip(&sc.d2) {
                    *w = if d >= sat2 { sat } else { d.sqrt() };
                    counts.w += *w;
                }
            }
        }
        for (sum, vals) in sums.iter_mut().zip(&sc.vals) {
            let vals = &vals[..n];
            for ((&c, &f), &b) in vals.iter().zip(&sc.fg[..n]).zip(&sc.band[..n]) {
                sum.all += c;
                if !b {
                    sum.outside += c;
                    if f {
                        sum.fg += c;
                    }
                }
            }
            if r.dist.is_some() {
                for (&c, &w) in vals.iter().zip(&sc.weight[..n]) {
                    sum.wsum += w * c;
                }
            }
        }
    }
    if windows {
        // Window sums along axis 2 of each row: prefix differences, ring of the last w2.
        let (w2, m2) = (geo.w[2], geo.m[2]);
        let rows_ch = j1 - j0;
        for (kk, vals) in sc.vals.iter().enumerate() {
            for r in 0..rows_ch {
                let x = &vals[r * n2..(r + 1) * n2];
                let out = &mut seg[(kk * rows_ch + r) * m2..(kk * rows_ch + r + 1) * m2];
                sc.ring.fill(0.0);
                let mut prefix = 0.0f64;
                for (t, &v) in x.iter().enumerate() {
                    prefix += v;
                    let h = &mut sc.ring[t % w2];
                    if t + 1 >= w2 {
                        out[t + 1 - w2] = prefix - *h;
                    }
                    *h = prefix;
                }
            }
        }
    }
    (sums, counts)
}

/// Phase-B state of one map over one block of columns of the axis-2 window positions.
struct ColState {
    k: usize,
    c0: usize,
    cw: usize,
    prefix1: Vec<f64>,
    hist1: Vec<f64>,
    boxes: Vec<f64>,
    prefix0: Vec<f64>,
    hist0: Vec<f64>,
    min: f64,
}

impl ColState {
    fn new(geo: &Geo, k: usize, c0: usize) -> Self {
        let cw = COLUMNS.min(geo.m[2] - c0);
        let m1 = geo.m[1];
        ColState {
            k,
            c0,
            cw,
            prefix1: vec![0.0; cw],
            hist1: vec![0.0; geo.w[1] * cw],
            boxes: vec![0.0; m1 * cw],
            prefix0: vec![0.0; m1 * cw],
            hist0: vec![0.0; geo.w[0] * m1 * cw],
            min: f64::INFINITY,
        }
    }

    /// Planes `i0..i1` (the current batch) of the window sums.
    fn planes(&mut self, geo: &Geo, rowsums: &[f64], plane_len: usize, i0: usize, i1: usize) {
        let (w0, w1) = (geo.w[0], geo.w[1]);
        let (n1, m1, cw) = (geo.s[1], geo.m[1], self.cw);
        for i in i0..i1 {
            let plane = &rowsums[(i - i0) * plane_len..(i - i0 + 1) * plane_len];
            // Axis 1: prefix differences down the rows, ring of the last w1 prefixes.
            self.prefix1.fill(0.0);
            self.hist1.fill(0.0);
            for t in 0..n1 {
                let at = geo.row_at(self.k, t) + self.c0;
                let row = &plane[at..at + cw];
                for (p, &x) in self.prefix1.iter_mut().zip(row) {
                    *p += x;
                }
                let h = &mut self.hist1[(t % w1) * cw..(t % w1 + 1) * cw];
                if t + 1 >= w1 {
                    let o = &mut self.boxes[(t + 1 - w1) * cw..(t + 2 - w1) * cw];
                    for ((o, &p), &h) in o.iter_mut().zip(&self.prefix1).zip(h.iter()) {
                        *o = p - h;
                    }
                }
                h.copy_from_slice(&self.prefix1);
            }
            // Axis 0: running prefix over the planes, ring of the last w0 prefixes.
            let slot = i % w0;
            for j in 0..m1 {
                let p = &mut self.prefix0[j * cw..(j + 1) * cw];
                for (p, &b) in p.iter_mut().zip(&self.boxes[j * cw..(j + 1) * cw]) {
                    *p += b;
                }
                let h = &mut self.hist0[(slot * m1 + j) * cw..(slot * m1 + j + 1) * cw];
                if i + 1 >= w0 {
                    for (&p, &h) in p.iter().zip(h.iter()) {
                        let v = p - h;
                        self.min = if v < self.min { v } else { self.min };
                    }
                }
                h.copy_from_slice(p);
            }
        }
    }
}
