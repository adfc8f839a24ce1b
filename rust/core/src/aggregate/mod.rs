//! Aggregation of a pixel-confidence map to one confidence per case.
//!
//! Given a confidence map and the predicted label map of one case, [`aggregate`] computes in
//! one call: the mean; the mean outside a band around the predicted label boundaries; the mean
//! over predicted foreground outside that band; the minimum window mean over all windows of a
//! patch size (separable box sums from 1-D summed-area tables, O(voxels) whatever the window);
//! a boundary-distance-weighted mean; and a foreground-volume-weighted mean.
//!
//! Definitions (following Zenk et al., 2025, and its reference code):
//! - boundary: voxels with a face neighbour inside the image holding another label (2 voxels
//!   thick, the image border is not a boundary);
//! - band of width w (even, >= 2): voxels within Euclidean distance (w - 2) / 2 voxels of the
//!   boundary;
//! - means over an empty region fall back to the global mean.
//!
//! Several maps of one case can be aggregated in one pass ([`aggregate_many`]) from any
//! [`MapSource`]: the maps are produced a few rows at a time (for instance straight from an
//! ensemble's running sums, see `uncertainty::Confidences`) and never held whole, and the
//! boundaries, band and distance transform are computed once for all of them (module
//! `stream`).
//!
//! Float sums run in f64 over fixed blocks of rows and are merged in order: results do not
//! depend on the number of threads.

use crate::error::{CoreError, Result};
use crate::label::Label;
use crate::parallel;
use crate::surface::edt::{within, Transform};
use rayon::prelude::*;
use std::ops::Range;

mod stream;
use stream::{stream, Regions};

/// A confidence value type (f32 or f64).
pub trait Value: Copy + Send + Sync + 'static {
    /// The value as f64.
    fn get(self) -> f64;
}
impl Value for f32 {
    #[inline(always)]
    fn get(self) -> f64 {
        self as f64
    }
}
impl Value for f64 {
    #[inline(always)]
    fn get(self) -> f64 {
        self
    }
}

/// Voxel maps produced on demand, a range of voxels at a time, as f64.
pub trait MapSource: Sync {
    /// Per-thread buffers of [`MapSource::fill`].
    type Scratch: Send;
    /// Number of maps.
    fn n_maps(&self) -> usize;
    /// Buffers for ranges of up to `n` voxels.
    fn scratch(&self, n: usize) -> Self::Scratch;
    /// `outs[k][..range.len()]` = map k over the flat voxels `range` (at most the `n` of
    /// [`MapSource::scratch`] voxels; every `outs[k]` holds at least that many).
    fn fill(&self, range: Range<usize>, outs: &mut [Vec<f64>], scratch: &mut Self::Scratch);
}

/// One map held in memory.
pub struct Map<'a, F>(pub &'a [F]);

impl<F: Value> MapSource for Map<'_, F> {
    type Scratch = ();
    fn n_maps(&self) -> usize {
        1
    }
    fn scratch(&self, _n: usize) -> Self::Scratch {}
    fn fill(&self, range: Range<usize>, outs: &mut [Vec<f64>], _scratch: &mut ()) {
        for (o, x) in outs[0].iter_mut().zip(&self.0[range]) {
            *o = x.get();
        }
    }
}

/// Options of [`aggregate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Band width w around boundaries (even, >= 2).
    pub width: usize,
    /// Patch edge length per axis (clipped to the image); 0 skips the patch minimum.
    pub patch: usize,
    /// Spacing for the distance weighting (None: voxel units).
    pub spacing: Option<Vec<f64>>,
    /// Distance at which the distance weight saturates (same units as the distances).
    pub saturate: f64,
    /// Whether to compute the distance-weighted mean (one more distance transform).
    pub distance: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            width: 4,
            patch: 10,
            spacing: None,
            saturate: 4.0,
            distance: true,
        }
    }
}

/// Every aggregate of one case (NaN where not computed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aggregates {
    /// Mean over all voxels.
    pub mean: f64,
    /// Mean outside the boundary band.
    pub non_boundary_mean: f64,
    /// Mean over predicted foreground outside the band.
    pub foreground_mean: f64,
    /// Minimum over windows of the window mean.
    pub patch_min: f64,
    /// Mean weighted by min(distance to the boundary, saturate).
    pub distance_weighted_mean: f64,
    /// Mean divided by the predicted foreground volume in voxels (at least 1).
    pub volume_weighted_mean: f64,
    /// Voxels of predicted foreground.
    pub n_foreground: u64,
    /// Voxels in the boundary band.
    pub n_band: u64,
}

fn shape3(shape: &[usize], len: usize) -> Result<[usize; 3]> {
    let s = match shape.len() {
        1 => [1, 1, shape[0]],
        2 => [1, shape[0], shape[1]],
        3 => [shape[0], shape[1], shape[2]],
        d => {
            return Err(CoreError::InvalidArgument(format!(
                "aggregation needs 1-D to 3-D maps, got {d} dimensions"
            )))
        }
    };
    if s.iter().product::<usize>() != len {
        return Err(CoreError::ShapeMismatch {
            what: "map length vs shape",
            left: len.to_string(),
            right: format!("{shape:?}"),
        });
    }
    if len == 0 {
        return Err(CoreError::Empty { name: "confidence" });
    }
    Ok(s)
}

/// Boundary voxels of a label map (face neighbour inside the image with another label).
pub fn boundary<L: Label>(labels: &[L], shape: &[usize]) -> Result<Vec<bool>> {
    let s = shape3(shape, labels.len())?;
    Ok(parallel::install(|| boundary3(labels, s)))
}

fn boundary3<L: Label>(labels: &[L], [n0, n1, n2]: [usize; 3]) -> Vec<bool> {
    let plane = n1 * n2;
    let mut out = vec![false; labels.len()];
    out.par_chunks_mut(plane).enumerate().for_each(|(i, o)| {
        let at = |i: usize, j: usize, k: usize| labels[(i * n1 + j) * n2 + k].index();
        for j in 0..n1 {
            for k in 0..n2 {
                let v = at(i, j, k);
                o[j * n2 + k] = (k > 0 && at(i, j, k - 1) != v)
                    || (k + 1 < n2 && at(i, j, k + 1) != v)
                    || (j > 0 && at(i, j - 1, k) != v)
                    || (j + 1 < n1 && at(i, j + 1, k) != v)
                    || (i > 0 && at(i - 1, j, k) != v)
                    || (i + 1 < n0 && at(i + 1, j, k) != v);
            }
        }
    });
    out
}

fn check_width(width: usize) -> Result<()> {
    if width < 2 || width % 2 == 1 {
        return Err(CoreError::InvalidArgument(format!(
            "boundary band width must be even and >= 2, got {width}"
        )));
    }
    Ok(())
}

/// The band of width `width` around the boundaries of a label map.
///
/// # Errors
/// Bad shape, odd width or width below 2.
pub fn boundary_band<L: Label>(labels: &[L], shape: &[usize], width: usize) -> Result<Vec<bool>> {
    check_width(width)?;
    let s = shape3(shape, labels.len())?;
    Ok(parallel::install(|| band3(&boundary3(labels, s), s, width)))
}

fn band3(boundary: &[bool], s: [usize; 3], width: usize) -> Vec<bool> {
    let r = (width - 2) / 2;
    if r == 0 {
        return boundary.to_vec();
    }
    if r == 1 {
        // Distance <= 1 voxel: the boundary and its face neighbours (no distance map needed).
        return dilate_faces(boundary, s);
    }
    within(boundary, s, [1.0; 3], (r * r) as f64)
}

fn dilate_faces(m: &[bool], [n0, n1, n2]: [usize; 3]) -> Vec<bool> {
    let plane = n1 * n2;
    let mut out = vec![false; m.len()];
    out.par_chunks_mut(plane).enumerate().for_each(|(i, o)| {
        let at = |i: usize, j: usize, k: usize| m[(i * n1 + j) * n2 + k];
        for j in 0..n1 {
            for k in 0..n2 {
                o[j * n2 + k] = at(i, j, k)
                    || (k > 0 && at(i, j, k - 1))
                    || (k + 1 < n2 && at(i, j, k + 1))
                    || (j > 0 && at(i, j - 1, k))
                    || (j + 1 < n1 && at(i, j + 1, k))
                    || (i > 0 && at(i - 1, j, k))
                    || (i + 1 < n0 && at(i + 1, j, k));
            }
        }
    });
    out
}

/// Minimum over all windows (edge `patch` per axis, clipped to the image) of the window mean.
///
/// # Errors
/// Bad shape, `patch == 0`, non-finite values.
pub fn patch_min<F: Value>(conf: &[F], shape: &[usize], patch: usize) -> Result<f64> {
    let s = shape3(shape, conf.len())?;
    if patch == 0 {
        return Err(CoreError::InvalidArgument("patch size must be >= 1".into()));
    }
    parallel::install(|| {
        check_finite(conf)?;
        let out = stream(&Map(conf), s, None::<&Regions<'_, u8>>, patch);
        Ok(out.patch_min[0])
    })
}

fn check_finite<F: Value>(conf: &[F]) -> Result<()> {
    let bad = conf
        .par_chunks(1 << 16)
        .map(|c| c.iter().filter(|x| !x.get().is_finite()).count())
        .sum::<usize>();
    if bad > 0 {
        return Err(CoreError::InvalidValue(format!(
            "confidence map holds {bad} NaN or infinite value(s)"
        )));
    }
    Ok(())
}

/// Every aggregate of one case; `conf` and `labels` are C-ordered maps of shape `shape`.
///
/// # Errors
/// Length/shape mismatch, empty maps, odd band width, non-finite confidences, bad spacing.
pub fn aggregate<F: Value, L: Label>(
    conf: &[F],
    labels: &[L],
    shape: &[usize],
    opts: &Options,
) -> Result<Aggregates> {
    if conf.len() != labels.len() {
        return Err(CoreError::lengths(
            "confidence and label voxels",
            conf.len(),
            labels.len(),
        ));
    }
    shape3(shape, conf.len())?;
    parallel::install(|| check_finite(conf))?;
    let mut out = aggregate_many(&Map(conf), labels, shape, opts)?;
    Ok(out.remove(0))
}

/// Every aggregate of each map of `src` (finite values, one per voxel of `labels`), with the
/// boundaries, band and distance transform of `labels` computed once for all maps.
///
/// # Errors
/// Shape mismatch, empty maps, odd band width, bad spacing or saturation.
pub fn aggregate_many<S: MapSource, L: Label>(
    src: &S,
    labels: &[L],
    shape: &[usize],
    opts: &Options,
) -> Result<Vec<Aggregates>> {
    let s = shape3(shape, labels.len())?;
    check_width(opts.width)?;
    let spacing = match &opts.spacing {
        None => [1.0; 3],
        Some(sp) => {
            if sp.len() != shape.len() {
                return Err(CoreError::ShapeMismatch {
                    what: "spacing length vs map dimensions",
                    left: sp.len().to_string(),
                    right: shape.len().to_string(),
                });
            }
            if sp.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                return Err(CoreError::InvalidValue(format!(
                    "spacing must be finite and > 0, got {sp:?}"
                )));
            }
            let mut full = [1.0; 3];
            full[3 - sp.len()..].copy_from_slice(sp);
            full
        }
    };
    if opts.saturate.is_nan() || opts.saturate <= 0.0 {
        return Err(CoreError::InvalidArgument(format!(
            "saturate must be > 0, got {}",
            opts.saturate
        )));
    }
    Ok(parallel::install(|| {
        // Masks once for all maps; the boundary is dropped before the maps are streamed.
        let (band, dist) = {
            let bnd = boundary3(labels, s);
            let band = band3(&bnd, s, opts.width);
            let dist = opts.distance.then(|| Transform::new(&bnd, s, spacing));
            (band, dist)
        };
        let regions = Regions {
            labels,
            band: &band,
            dist: dist.as_ref().map(|t| (t, opts.saturate)),
        };
        let out = stream(src, s, Some(&regions), opts.patch);
        let c = out.counts;
        let n = labels.len() as f64;
        out.sums
            .iter()
            .zip(&out.patch_min)
            .map(|(t, &pmin)| {
                let mean = t.all / n;
                let or_mean = |sum: f64, count: u64| {
                    if count == 0 {
                        mean
                    } else {
                        sum / count as f64
                    }
                };
                Aggregates {
                    mean,
                    non_boundary_mean: or_mean(t.outside, c.n_outside),
                    foreground_mean: or_mean(t.fg, c.n_fg_outside),
                    patch_min: pmin,
                    distance_weighted_mean: if !opts.distance {
                        f64::NAN
                    } else if c.w > 0.0 {
                        t.wsum / c.w
                    } else {
                        mean
                    },
                    volume_weighted_mean: mean / (c.n_fg.max(1) as f64),
                    n_foreground: c.n_fg,
                    n_band: c.n_band,
                }
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests;
