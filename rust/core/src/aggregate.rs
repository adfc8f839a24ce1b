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
//! Float sums run over fixed-size chunks in f64 and are merged in order: results do not depend
//! on the number of threads.

use crate::error::{CoreError, Result};
use crate::overlap::Label;
use crate::parallel;
use crate::surface::edt::squared_edt;
use rayon::prelude::*;

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
    let sq = squared_edt(boundary, s, [1.0; 3]);
    let r2 = (r * r) as f64;
    sq.par_iter().map(|&d| d <= r2).collect()
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
        Ok(patch_min3(conf, s, patch))
    })
}

fn check_finite<F: Value>(conf: &[F]) -> Result<()> {
    let bad = conf
        .par_chunks(CHUNK)
        .map(|c| c.iter().filter(|x| !x.get().is_finite()).count())
        .sum::<usize>();
    if bad > 0 {
        return Err(CoreError::InvalidValue(format!(
            "confidence map holds {bad} NaN or infinite value(s)"
        )));
    }
    Ok(())
}

/// Window sums along one axis of a C-ordered [a, n, b] array (lines of length n, stride b).
fn window_sums<F: Value>(x: &[F], [a, n, b]: [usize; 3], w: usize) -> Vec<f64> {
    let m = n - w + 1;
    let mut out = vec![0.0; a * m * b];
    out.par_chunks_mut(m * b).enumerate().for_each(|(ia, o)| {
        let xin = &x[ia * n * b..(ia + 1) * n * b];
        // 1-D summed-area tables of b lines at once (row by row: cache-friendly). The ring
        // `hist` keeps the last w prefix sums; slot t % w holds prefix(t - w) (0 before start).
        let mut prefix = vec![0.0f64; b];
        let mut hist = vec![0.0f64; w * b];
        for t in 0..n {
            let row = &xin[t * b..(t + 1) * b];
            for c in 0..b {
                prefix[c] += row[c].get();
            }
            let h = &mut hist[(t % w) * b..(t % w + 1) * b];
            if t + 1 >= w {
                let o = &mut o[(t + 1 - w) * b..(t + 2 - w) * b];
                for c in 0..b {
                    o[c] = prefix[c] - h[c];
                }
            }
            h.copy_from_slice(&prefix);
        }
    });
    out
}

fn patch_min3<F: Value>(conf: &[F], s: [usize; 3], patch: usize) -> f64 {
    let w = [patch.min(s[0]), patch.min(s[1]), patch.min(s[2])];
    // axis 2 (lines of length n2, stride 1), then axis 1, then axis 0.
    let x = window_sums(conf, [s[0] * s[1], s[2], 1], w[2]);
    let m2 = s[2] - w[2] + 1;
    let x = window_sums(&x, [s[0], s[1], m2], w[1]);
    let m1 = s[1] - w[1] + 1;
    let x = window_sums(&x, [1, s[0], m1 * m2], w[0]);
    let denom = (w[0] * w[1] * w[2]) as f64;
    x.par_iter().cloned().reduce(|| f64::INFINITY, f64::min) / denom
}

/// Values per parallel chunk of the fused sums (fixed: sums never depend on thread count).
const CHUNK: usize = 1 << 16;

#[derive(Clone, Copy, Default)]
struct Sums {
    all: f64,
    outside: f64,
    n_outside: u64,
    fg: f64,
    n_fg_outside: u64,
    n_fg: u64,
    n_band: u64,
    wsum: f64,
    w: f64,
}

/// All aggregates of one case; `conf` and `labels` are C-ordered maps of shape `shape`.
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
    let s = shape3(shape, conf.len())?;
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
    parallel::install(|| {
        check_finite(conf)?;
        let bnd = boundary3(labels, s);
        let band = band3(&bnd, s, opts.width);
        let dist = opts.distance.then(|| squared_edt(&bnd, s, spacing));
        let sat2 = opts.saturate * opts.saturate;
        let partial: Vec<Sums> = (0..conf.len().div_ceil(CHUNK))
            .into_par_iter()
            .map(|ci| {
                let lo = ci * CHUNK;
                let hi = (lo + CHUNK).min(conf.len());
                let mut acc = Sums::default();
                for v in lo..hi {
                    let c = conf[v].get();
                    let fg = labels[v].index() != 0;
                    acc.all += c;
                    acc.n_fg += fg as u64;
                    if band[v] {
                        acc.n_band += 1;
                    } else {
                        acc.outside += c;
                        acc.n_outside += 1;
                        if fg {
                            acc.fg += c;
                            acc.n_fg_outside += 1;
                        }
                    }
                    if let Some(d) = &dist {
                        let w = if d[v] >= sat2 {
                            opts.saturate
                        } else {
                            d[v].sqrt()
                        };
                        acc.wsum += w * c;
                        acc.w += w;
                    }
                }
                acc
            })
            .collect();
        drop(dist);
        drop(band);
        let mut t = Sums::default();
        for p in partial {
            t.all += p.all;
            t.outside += p.outside;
            t.n_outside += p.n_outside;
            t.fg += p.fg;
            t.n_fg_outside += p.n_fg_outside;
            t.n_fg += p.n_fg;
            t.n_band += p.n_band;
            t.wsum += p.wsum;
            t.w += p.w;
        }
        let n = conf.len() as f64;
        let mean = t.all / n;
        let or_mean = |sum: f64, count: u64| {
            if count == 0 {
                mean
            } else {
                sum / count as f64
            }
        };
        Ok(Aggregates {
            mean,
            non_boundary_mean: or_mean(t.outside, t.n_outside),
            foreground_mean: or_mean(t.fg, t.n_fg_outside),
            patch_min: if opts.patch > 0 {
                patch_min3(conf, s, opts.patch)
            } else {
                f64::NAN
            },
            distance_weighted_mean: if !opts.distance {
                f64::NAN
            } else if t.w > 0.0 {
                t.wsum / t.w
            } else {
                mean
            },
            volume_weighted_mean: mean / (t.n_fg.max(1) as f64),
            n_foreground: t.n_fg,
            n_band: t.n_band,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn naive_patch_min(x: &[f64], s: [usize; 3], p: usize) -> f64 {
        let w = [p.min(s[0]), p.min(s[1]), p.min(s[2])];
        let mut best = f64::INFINITY;
        for i in 0..=s[0] - w[0] {
            for j in 0..=s[1] - w[1] {
                for k in 0..=s[2] - w[2] {
                    let mut acc = 0.0;
                    for a in i..i + w[0] {
                        for b in j..j + w[1] {
                            for c in k..k + w[2] {
                                acc += x[(a * s[1] + b) * s[2] + c];
                            }
                        }
                    }
                    best = best.min(acc / (w[0] * w[1] * w[2]) as f64);
                }
            }
        }
        best
    }

    #[test]
    fn boundary_and_band_of_a_square() {
        // 1-D view: labels 0 0 0 1 1 1 1 0 0 0 -> boundary at 2,3 and 6,7.
        let l = [0u8, 0, 0, 1, 1, 1, 1, 0, 0, 0];
        let b = boundary(&l, &[10]).expect("ok");
        let idx: Vec<usize> = (0..10).filter(|&i| b[i]).collect();
        assert_eq!(idx, vec![2, 3, 6, 7]);
        let band = boundary_band(&l, &[10], 4).expect("ok");
        let idx: Vec<usize> = (0..10).filter(|&i| band[i]).collect();
        assert_eq!(idx, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(boundary_band(&l, &[10], 3).is_err());
    }

    #[test]
    fn aggregates_of_a_small_map() {
        let l = [0u8, 0, 0, 1, 1, 1, 1, 0, 0, 0];
        let c: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
        let opts = Options {
            width: 2,
            patch: 3,
            ..Default::default()
        };
        let a = aggregate(&c, &l, &[10], &opts).expect("ok");
        assert!((a.mean - 0.45).abs() < 1e-12);
        // outside the band {2,3,6,7}: 0,1,4,5,8,9 -> mean 4.5 / 10
        assert!((a.non_boundary_mean - 0.45).abs() < 1e-12);
        // foreground outside the band: 4, 5
        assert!((a.foreground_mean - 0.45).abs() < 1e-12);
        assert!((a.patch_min - 0.1).abs() < 1e-12);
        assert!((a.volume_weighted_mean - 0.45 / 4.0).abs() < 1e-12);
        assert_eq!((a.n_foreground, a.n_band), (4, 4));
    }

    #[test]
    fn empty_foreground_falls_back_to_the_mean() {
        let l = [0u8; 6];
        let c = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6];
        let a = aggregate(&c, &l, &[2, 3], &Options::default()).expect("ok");
        assert!((a.foreground_mean - a.mean).abs() < 1e-12);
        assert!((a.distance_weighted_mean - a.mean).abs() < 1e-12);
        assert_eq!(a.n_foreground, 0);
    }

    #[test]
    fn rejects_nan_and_bad_shapes() {
        let l = [0u8; 4];
        assert!(aggregate(&[0.1f32, f32::NAN, 0.0, 0.0], &l, &[4], &Options::default()).is_err());
        assert!(aggregate(&[0.1f32; 4], &l, &[3], &Options::default()).is_err());
        assert!(aggregate(&[0.1f32; 3], &l, &[4], &Options::default()).is_err());
        assert!(patch_min(&[0.1f32; 4], &[4], 0).is_err());
    }

    proptest! {
        #[test]
        fn patch_min_matches_naive(n0 in 1usize..6, n1 in 1usize..7, n2 in 1usize..8,
                                   p in 1usize..5, seed in 0u64..500) {
            let mut rng = Rng::new(seed);
            let s = [n0, n1, n2];
            let x: Vec<f64> = (0..n0 * n1 * n2).map(|_| rng.next_f64()).collect();
            let got = patch_min(&x, &s, p).expect("ok");
            let want = naive_patch_min(&x, s, p);
            prop_assert!((got - want).abs() < 1e-9);
        }
    }
}
