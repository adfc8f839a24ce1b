//! Surface elements of a mask inside the crop `[lo, hi]` (the joint bounding box of both masks,
//! so everything outside it is background), computed row by row.

use super::{surfel_table, Geometry};
use rayon::prelude::*;

/// A surface on a crop grid: which grid points are elements, and (surfels) their codes.
pub struct Elements {
    /// Grid shape (the crop, or its corner grid).
    pub grid: [usize; 3],
    /// Whether each grid point is a surface element.
    pub mask: Vec<bool>,
    /// Neighbourhood code of each grid point (surfels only; empty for border voxels).
    pub codes: Vec<u8>,
}

impl Elements {
    /// Weight of element `at`: 1 for a border voxel, its area (length) for a surfel.
    #[inline]
    pub fn weight(&self, at: usize, measure: &[f64]) -> f64 {
        if self.codes.is_empty() {
            1.0
        } else {
            measure[self.codes[at] as usize]
        }
    }
}

/// Row `(i, j)` of the image restricted to the crop's extent along the last axis.
fn crop_row(
    m: &[bool],
    g: Geometry,
    lo: [usize; 3],
    hi: [usize; 3],
    i: usize,
    j: usize,
) -> &[bool] {
    let [_, n1, n2] = g.shape;
    let s = (i * n1 + j) * n2 + lo[2];
    &m[s..s + hi[2] - lo[2] + 1]
}

/// Border voxels of `m` (foreground with a face neighbour in the background or outside).
pub fn border_voxels(m: &[bool], g: Geometry, lo: [usize; 3], hi: [usize; 3]) -> Elements {
    let grid = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let [g0, g1, g2] = grid;
    let (none, all) = (vec![false; g2], vec![true; g2]);
    let mut mask = vec![false; g0 * g1 * g2];
    mask.par_chunks_mut(g1 * g2)
        .enumerate()
        .for_each(|(a, out)| {
            let row = |a: usize, b: usize| crop_row(m, g, lo, hi, lo[0] + a, lo[1] + b);
            for (b, o) in out.chunks_mut(g2).enumerate() {
                let cur = row(a, b);
                if !super::row_any(cur) {
                    continue;
                }
                let left = if b > 0 { row(a, b - 1) } else { &none };
                let right = if b + 1 < g1 { row(a, b + 1) } else { &none };
                let (up, down) = if g.dims == 3 {
                    (
                        if a > 0 { row(a - 1, b) } else { &none },
                        if a + 1 < g0 { row(a + 1, b) } else { &none },
                    )
                } else {
                    (&all[..], &all[..])
                };
                // The two ends have a background neighbour along the last axis.
                o[0] = cur[0];
                o[g2 - 1] = cur[g2 - 1];
                if g2 > 2 {
                    // Equal-length views, so the loop runs without bounds checks (vectorised).
                    let n = g2 - 2;
                    let (p, c, nx) = (&cur[..n], &cur[1..n + 1], &cur[2..]);
                    let (l, r) = (&left[1..n + 1], &right[1..n + 1]);
                    let (u, d) = (&up[1..n + 1], &down[1..n + 1]);
                    let o = &mut o[1..n + 1];
                    for k in 0..n {
                        o[k] = c[k] & !(p[k] & nx[k] & l[k] & r[k] & u[k] & d[k]);
                    }
                }
            }
        });
    Elements {
        grid,
        mask,
        codes: Vec::new(),
    }
}

/// Area (3-D, mm^2) or contour length (2-D, mm) of each neighbourhood code.
pub fn code_measures(g: Geometry) -> Vec<f64> {
    if g.dims == 3 {
        let [s0, s1, s2] = g.spacing;
        surfel_table::NORMALS_X8
            .iter()
            .map(|tris| {
                tris.iter()
                    .map(|n| {
                        let x = n[0] as f64 / 8.0 * s1 * s2;
                        let y = n[1] as f64 / 8.0 * s0 * s2;
                        let z = n[2] as f64 / 8.0 * s0 * s1;
                        (x * x + y * y + z * z).sqrt()
                    })
                    .sum()
            })
            .collect()
    } else {
        // Codes of a 2x2 neighbourhood: bit 3 - (2 j + k) for pixel (j, k).
        let (first, second) = (g.spacing[1], g.spacing[2]);
        let diag = 0.5 * (first * first + second * second).sqrt();
        (0..16u32)
            .map(|code| match code {
                0b0000 | 0b1111 => 0.0,
                0b0011 | 0b1100 => second,
                0b0101 | 0b1010 => first,
                0b0110 | 0b1001 => 2.0 * diag,
                _ => diag,
            })
            .collect()
    }
}

/// Surface elements of `m` on the corner grid of the crop `[lo, hi]`.
///
/// Corner (a, b, c) sees the voxels (a - 1 + di, b - 1 + dj, c - 1 + dk) of the crop, di, dj,
/// dk in {0, 1}; voxel (di, dj, dk) sets bit `7 - (4 di + 2 dj + dk)` of the code (2-D: pixel
/// (dj, dk) sets bit `3 - (2 dj + dk)`).
pub fn surfels(m: &[bool], g: Geometry, lo: [usize; 3], hi: [usize; 3]) -> Elements {
    let d3 = g.dims == 3;
    let crop = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let grid = [if d3 { crop[0] + 1 } else { 1 }, crop[1] + 1, crop[2] + 1];
    let full: u8 = if d3 { 255 } else { 15 };
    let mut codes = vec![0u8; grid[0] * grid[1] * grid[2]];
    codes
        .par_chunks_mut(grid[1] * grid[2])
        .enumerate()
        .for_each(|(a, out)| {
            // Crop row (a - 1 + di, b - 1 + dj), or None outside the crop.
            let row = |di: usize, b: usize, dj: usize| -> Option<&[bool]> {
                let (ca, cb) = if d3 {
                    ((a + di).checked_sub(1)?, (b + dj).checked_sub(1)?)
                } else {
                    (0, (b + dj).checked_sub(1)?)
                };
                (ca < crop[0] && cb < crop[1])
                    .then(|| crop_row(m, g, lo, hi, lo[0] + ca, lo[1] + cb))
            };
            for (b, o) in out.chunks_mut(grid[2]).enumerate() {
                for di in 0..if d3 { 2 } else { 1 } {
                    for dj in 0..2 {
                        let Some(r) = row(di, b, dj) else { continue };
                        let p = if d3 { 4 * di + 2 * dj } else { 2 * dj };
                        let top = if d3 { 7 } else { 3 };
                        let (bit0, bit1) = (top - p, top - p - 1);
                        // corner c sees voxel c - 1 (dk = 0) and voxel c (dk = 1)
                        for (c, &v) in r.iter().enumerate() {
                            o[c + 1] |= (v as u8) << bit0;
                            o[c] |= (v as u8) << bit1;
                        }
                    }
                }
            }
        });
    let mask = codes.par_iter().map(|&c| c != 0 && c != full).collect();
    Elements { grid, mask, codes }
}
