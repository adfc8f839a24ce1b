//! Surface distances between two binary masks, with anisotropic spacing, computed once.
//!
//! Both masks are cropped to their joint bounding box, the surface elements of each are found,
//! an exact Euclidean distance transform ([`edt`]) of each surface is sampled at the other
//! surface's elements, and the two lists of (distance, weight) pairs come back sorted. HD, any
//! percentile of it, ASSD and NSD at any tolerance derive from these lists without recomputing.
//!
//! Two surface conventions ([`Surface`]):
//! - [`Surface::Voxels`]: border voxels, i.e. foreground voxels with a face neighbour (4- or
//!   6-connectivity) in the background or outside the image, each with weight 1, distances
//!   between voxel centres (MONAI's default).
//! - [`Surface::Surfels`]: surface elements on the grid of voxel corners. Each corner's 2x2(x2)
//!   neighbourhood that is neither all inside nor all outside holds surface elements whose area
//!   in mm^2 (contour length in mm in 2-D) is the weight (DeepMind's surface-distance; MONAI with
//!   `use_subvoxels=True`). The areas come from a marching-cubes triangulation
//!   ([`surfel_table`]).
//!
//! Outside the image counts as background in both conventions.

pub mod edt;
pub mod surfel_table;

use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;

/// Which elements make up a surface (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// Border voxels, weight 1 each.
    Voxels,
    /// Corner-grid surface elements weighted by their area (length in 2-D).
    Surfels,
}

/// Distances from each surface to the other, each list sorted by (distance, weight).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distances {
    /// Distance (mm) of every prediction surface element to the reference surface.
    pub pred_to_target: Vec<f64>,
    /// Weight of each prediction surface element (1 for voxels; mm^2 or mm for surfels).
    pub pred_weights: Vec<f64>,
    /// Distance (mm) of every reference surface element to the prediction surface.
    pub target_to_pred: Vec<f64>,
    /// Weight of each reference surface element.
    pub target_weights: Vec<f64>,
    /// The prediction has no foreground voxel.
    pub pred_empty: bool,
    /// The reference has no foreground voxel.
    pub target_empty: bool,
}

/// Validated geometry, embedded in 3-D (a 2-D image is one plane along axis 0).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    shape: [usize; 3],
    spacing: [f64; 3],
    dims: usize,
}

fn geometry(shape: &[usize], spacing: &[f64], len: usize) -> Result<Geometry> {
    let dims = shape.len();
    if dims != 2 && dims != 3 {
        return Err(CoreError::InvalidArgument(format!(
            "surface metrics need 2-D or 3-D masks, got {dims} dimensions"
        )));
    }
    if spacing.len() != dims {
        return Err(CoreError::ShapeMismatch {
            what: "spacing length vs mask dimensions",
            left: spacing.len().to_string(),
            right: dims.to_string(),
        });
    }
    if let Some(s) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(CoreError::InvalidValue(format!(
            "spacing must be finite and > 0, got {s}"
        )));
    }
    if shape.iter().product::<usize>() != len {
        return Err(CoreError::ShapeMismatch {
            what: "mask length vs shape",
            left: len.to_string(),
            right: format!("{shape:?}"),
        });
    }
    if len == 0 {
        return Err(CoreError::Empty { name: "mask" });
    }
    Ok(if dims == 3 {
        Geometry {
            shape: [shape[0], shape[1], shape[2]],
            spacing: [spacing[0], spacing[1], spacing[2]],
            dims,
        }
    } else {
        Geometry {
            shape: [1, shape[0], shape[1]],
            spacing: [1.0, spacing[0], spacing[1]],
            dims,
        }
    })
}

/// Inclusive bounding box `[lo, hi]` per axis of `a | b`, or `None` when both are empty; plus
/// whether each mask has any foreground.
type BBox = ([usize; 3], [usize; 3]);

fn bounding_box(a: &[bool], b: &[bool], shape: [usize; 3]) -> (Option<BBox>, bool, bool) {
    let [n0, n1, n2] = shape;
    let plane = n1 * n2;
    let per_plane: Vec<Option<(BBox, bool, bool)>> = (0..n0)
        .into_par_iter()
        .map(|i| {
            let (pa, pb) = (
                &a[i * plane..(i + 1) * plane],
                &b[i * plane..(i + 1) * plane],
            );
            let mut lo = [i, usize::MAX, usize::MAX];
            let mut hi = [i, 0, 0];
            let (mut any_a, mut any_b) = (false, false);
            for j in 0..n1 {
                let (ra, rb) = (&pa[j * n2..(j + 1) * n2], &pb[j * n2..(j + 1) * n2]);
                // Branch-free OR over the row first (vectorised): most rows are empty.
                let (xa, xb) = (row_any(ra), row_any(rb));
                if !(xa | xb) {
                    continue;
                }
                any_a |= xa;
                any_b |= xb;
                let first = ra.iter().zip(rb).position(|(x, y)| *x | *y);
                let Some(k0) = first else { continue };
                let k1 = n2
                    - 1
                    - ra.iter()
                        .zip(rb)
                        .rev()
                        .position(|(x, y)| *x | *y)
                        .unwrap_or(0);
                lo[1] = lo[1].min(j);
                hi[1] = hi[1].max(j);
                lo[2] = lo[2].min(k0);
                hi[2] = hi[2].max(k1);
            }
            (lo[1] != usize::MAX).then_some(((lo, hi), any_a, any_b))
        })
        .collect();
    let mut acc: Option<BBox> = None;
    let (mut any_a, mut any_b) = (false, false);
    for ((lo, hi), xa, xb) in per_plane.into_iter().flatten() {
        any_a |= xa;
        any_b |= xb;
        acc = Some(match acc {
            None => (lo, hi),
            Some((l, h)) => (
                [l[0].min(lo[0]), l[1].min(lo[1]), l[2].min(lo[2])],
                [h[0].max(hi[0]), h[1].max(hi[1]), h[2].max(hi[2])],
            ),
        });
    }
    (acc, any_a, any_b)
}

fn row_any(r: &[bool]) -> bool {
    r.iter().fold(false, |acc, &x| acc | x)
}

/// A surface on a crop grid: element positions (flat grid indices) and weights.
struct Elements {
    grid: [usize; 3],
    mask: Vec<bool>,
    index: Vec<usize>,
    weight: Vec<f64>,
}

/// Border voxels of `m` inside the crop `[lo, hi]` (face neighbours; outside = background).
fn border_voxels(m: &[bool], g: Geometry, lo: [usize; 3], hi: [usize; 3]) -> Elements {
    let [n0, n1, n2] = g.shape;
    let grid = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let gp = grid[1] * grid[2];
    let at = |i: usize, j: usize, k: usize| m[(i * n1 + j) * n2 + k];
    let mut mask = vec![false; grid[0] * gp];
    mask.par_chunks_mut(gp).enumerate().for_each(|(a, out)| {
        let i = lo[0] + a;
        for b in 0..grid[1] {
            let j = lo[1] + b;
            for c in 0..grid[2] {
                let k = lo[2] + c;
                if !at(i, j, k) {
                    continue;
                }
                let mut border = k == 0 || k + 1 == n2 || !at(i, j, k - 1) || !at(i, j, k + 1);
                border = border || j == 0 || j + 1 == n1 || !at(i, j - 1, k) || !at(i, j + 1, k);
                if g.dims == 3 {
                    border =
                        border || i == 0 || i + 1 == n0 || !at(i - 1, j, k) || !at(i + 1, j, k);
                }
                out[b * grid[2] + c] = border;
            }
        }
    });
    let index: Vec<usize> = mask
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| b.then_some(i))
        .collect();
    let weight = vec![1.0; index.len()];
    Elements {
        grid,
        mask,
        index,
        weight,
    }
}

/// Area (3-D, mm^2) or contour length (2-D, mm) of each neighbourhood code.
fn code_measures(g: Geometry) -> Vec<f64> {
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
fn surfels(m: &[bool], g: Geometry, lo: [usize; 3], hi: [usize; 3], measure: &[f64]) -> Elements {
    let [n0, n1, n2] = g.shape;
    let d3 = g.dims == 3;
    let grid = [
        if d3 { hi[0] - lo[0] + 2 } else { 1 },
        hi[1] - lo[1] + 2,
        hi[2] - lo[2] + 2,
    ];
    let gp = grid[1] * grid[2];
    // Voxel (i, j, k) of the image, background outside it.
    let at = |i: isize, j: isize, k: isize| -> bool {
        i >= 0
            && j >= 0
            && k >= 0
            && (i as usize) < n0
            && (j as usize) < n1
            && (k as usize) < n2
            && m[((i as usize) * n1 + j as usize) * n2 + k as usize]
    };
    let full: u8 = if d3 { 255 } else { 15 };
    let mut codes = vec![0u8; grid[0] * gp];
    codes.par_chunks_mut(gp).enumerate().for_each(|(a, out)| {
        let i = if d3 {
            lo[0] as isize + a as isize - 1
        } else {
            0
        };
        for b in 0..grid[1] {
            let j = lo[1] as isize + b as isize - 1;
            for c in 0..grid[2] {
                let k = lo[2] as isize + c as isize - 1;
                let mut code = 0u8;
                if d3 {
                    for (p, (di, dj, dk)) in CORNERS_3D.iter().enumerate() {
                        if at(i + di, j + dj, k + dk) {
                            code |= 1 << (7 - p);
                        }
                    }
                } else {
                    for (p, (dj, dk)) in CORNERS_2D.iter().enumerate() {
                        if at(i, j + dj, k + dk) {
                            code |= 1 << (3 - p);
                        }
                    }
                }
                out[b * grid[2] + c] = code;
            }
        }
    });
    let mask: Vec<bool> = codes.iter().map(|&c| c != 0 && c != full).collect();
    let index: Vec<usize> = mask
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| b.then_some(i))
        .collect();
    let weight = index.iter().map(|&i| measure[codes[i] as usize]).collect();
    Elements {
        grid,
        mask,
        index,
        weight,
    }
}

/// Voxel offsets of a corner's 2x2x2 neighbourhood, in bit order (bit 7 - p for offset p).
const CORNERS_3D: [(isize, isize, isize); 8] = [
    (0, 0, 0),
    (0, 0, 1),
    (0, 1, 0),
    (0, 1, 1),
    (1, 0, 0),
    (1, 0, 1),
    (1, 1, 0),
    (1, 1, 1),
];
const CORNERS_2D: [(isize, isize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

/// Distances from the elements `from` to the nearest element of `to` (inf when `to` is empty),
/// sorted by (distance, weight).
fn directed(from: &Elements, to: &Elements, spacing: [f64; 3]) -> (Vec<f64>, Vec<f64>) {
    let mut pairs: Vec<(f64, f64)> = if to.index.is_empty() {
        from.weight.iter().map(|&w| (f64::INFINITY, w)).collect()
    } else {
        let sq = edt::squared_edt_at(&to.mask, to.grid, spacing, &from.index);
        sq.iter()
            .zip(&from.weight)
            .map(|(&d, &w)| (d.sqrt(), w))
            .collect()
    };
    pairs.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pairs.into_iter().unzip()
}

/// Surface distances between `pred` and `target` (C-ordered masks of shape `shape`) with
/// `spacing` in mm per axis, under the surface convention `surface`.
///
/// # Errors
/// 2-D/3-D only; `spacing` must match the dimensions and be finite and positive; mask lengths
/// must match the shape.
pub fn surface_distances(
    pred: &[bool],
    target: &[bool],
    shape: &[usize],
    spacing: &[f64],
    surface: Surface,
) -> Result<Distances> {
    if pred.len() != target.len() {
        return Err(CoreError::lengths(
            "pred and target voxels",
            pred.len(),
            target.len(),
        ));
    }
    let g = geometry(shape, spacing, pred.len())?;
    parallel::install(|| {
        let (bbox, any_p, any_t) = bounding_box(pred, target, g.shape);
        let mut out = Distances {
            pred_empty: !any_p,
            target_empty: !any_t,
            ..Default::default()
        };
        let Some((lo, hi)) = bbox else {
            return Ok(out);
        };
        let (ep, et) = match surface {
            Surface::Voxels => (
                border_voxels(pred, g, lo, hi),
                border_voxels(target, g, lo, hi),
            ),
            Surface::Surfels => {
                let measure = code_measures(g);
                (
                    surfels(pred, g, lo, hi, &measure),
                    surfels(target, g, lo, hi, &measure),
                )
            }
        };
        (out.pred_to_target, out.pred_weights) = directed(&ep, &et, g.spacing);
        (out.target_to_pred, out.target_weights) = directed(&et, &ep, g.spacing);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(shape: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Vec<bool> {
        let mut m = vec![false; shape.iter().product()];
        for i in lo[0]..hi[0] {
            for j in lo[1]..hi[1] {
                for k in lo[2]..hi[2] {
                    m[(i * shape[1] + j) * shape[2] + k] = true;
                }
            }
        }
        m
    }

    #[test]
    fn identical_masks_have_zero_distances() {
        let s = [10, 10, 10];
        let a = cube(s, [2, 2, 2], [6, 7, 8]);
        for surf in [Surface::Voxels, Surface::Surfels] {
            let d = surface_distances(&a, &a, &s, &[1.0, 2.0, 0.5], surf).expect("ok");
            assert!(d.pred_to_target.iter().all(|&x| x == 0.0));
            assert_eq!(d.pred_to_target.len(), d.target_to_pred.len());
        }
    }

    #[test]
    fn cube_shifted_by_one_voxel() {
        // 4x4x4 cube vs the same cube shifted by one voxel along axis 2 (spacing 2 mm there).
        let s = [8, 8, 10];
        let a = cube(s, [2, 2, 2], [6, 6, 6]);
        let b = cube(s, [2, 2, 3], [6, 6, 7]);
        let d = surface_distances(&a, &b, &s, &[1.0, 1.0, 2.0], Surface::Voxels).expect("ok");
        // 56 border voxels each; the face k=2 of `a` (16 voxels) lies 2 mm from `b`'s surface,
        // the 4 inner voxels of its face k=5 lie inside `b`, 1 mm from its side faces.
        assert_eq!(d.pred_to_target.len(), 56);
        let max = d.pred_to_target.iter().cloned().fold(0.0, f64::max);
        assert_eq!(max, 2.0);
        assert_eq!(d.pred_to_target.iter().filter(|&&x| x == 2.0).count(), 16);
        assert_eq!(d.pred_to_target.iter().filter(|&&x| x == 1.0).count(), 4);
    }

    #[test]
    fn surfel_area_of_a_box() {
        // A 3x4x5 box: surface area 2 (ab + bc + ca) in mm^2 with spacing (1, 2, 3).
        let s = [7, 8, 9];
        let a = cube(s, [1, 2, 3], [4, 6, 8]);
        let d = surface_distances(&a, &a, &s, &[1.0, 2.0, 3.0], Surface::Surfels).expect("ok");
        let total: f64 = d.pred_weights.iter().sum();
        // Marching cubes cuts corners: edges and vertices are bevelled, so the area is a little
        // below the box's; it is exact on the faces.
        let (x, y, z) = (3.0, 8.0, 15.0);
        let box_area = 2.0 * (x * y + y * z + z * x);
        assert!(
            total < box_area && total > 0.85 * box_area,
            "{total} vs {box_area}"
        );
    }

    #[test]
    fn one_empty_gives_infinite_distances() {
        let s = [5, 5, 5];
        let a = cube(s, [1, 1, 1], [3, 3, 3]);
        let e = vec![false; 125];
        let d = surface_distances(&a, &e, &s, &[1.0; 3], Surface::Voxels).expect("ok");
        assert!(d.target_empty && !d.pred_empty);
        assert!(d.pred_to_target.iter().all(|x| x.is_infinite()));
        assert!(d.target_to_pred.is_empty());
        let d = surface_distances(&e, &e, &s, &[1.0; 3], Surface::Surfels).expect("ok");
        assert!(d.pred_empty && d.target_empty && d.pred_to_target.is_empty());
    }

    #[test]
    fn two_dimensional_contours() {
        let s = [6, 6];
        let mut a = vec![false; 36];
        for j in 1..4 {
            for k in 1..5 {
                a[j * 6 + k] = true;
            }
        }
        let d = surface_distances(&a, &a, &s, &[1.0, 1.0], Surface::Voxels).expect("ok");
        assert_eq!(d.pred_to_target.len(), 10); // 3x4 rectangle minus its 1x2 interior
        let d = surface_distances(&a, &a, &s, &[1.0, 1.0], Surface::Surfels).expect("ok");
        let perimeter: f64 = d.pred_weights.iter().sum();
        // The 3x4 rectangle grown by half a pixel (perimeter 14) with four corners cut: each
        // cut replaces two half-pixel legs (1) by a diagonal sqrt(1/2).
        assert!((perimeter - (14.0 - 4.0 * (1.0 - 0.5f64.sqrt()))).abs() < 1e-12);
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let a = vec![false; 8];
        assert!(surface_distances(&a, &a, &[2, 2, 2], &[1.0, 1.0], Surface::Voxels).is_err());
        assert!(surface_distances(&a, &a, &[2, 2, 2], &[1.0, 0.0, 1.0], Surface::Voxels).is_err());
        assert!(surface_distances(&a, &a, &[2, 3], &[1.0, 1.0], Surface::Voxels).is_err());
        assert!(surface_distances(&a, &a, &[8], &[1.0], Surface::Voxels).is_err());
    }

    #[test]
    fn table_is_complement_symmetric() {
        let g = Geometry {
            shape: [1, 1, 1],
            spacing: [0.8, 0.8, 2.5],
            dims: 3,
        };
        let m = code_measures(g);
        for c in 0..256 {
            assert!((m[c] - m[255 - c]).abs() < 1e-12);
        }
        assert_eq!(m[0], 0.0);
    }
}
