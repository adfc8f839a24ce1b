//! Pixel confidence maps and the predicted label map, straight from the accumulator state.
//!
//! Confidences are "higher = more confident" (Zenk et al., 2025), natural log:
//! MSR = max_c p_bar(c); PE = ln C - H(p_bar); EE = ln C - mean_m H(p_m);
//! MI = -(H(p_bar) - mean_m H(p_m)). Each is the matching uncertainty map ([`MapKind`])
//! followed by `ln C - x` or `-x` in f32, the operations `medtrust.uncertainty` always used.
//!
//! [`Confidences`] serves the maps to the aggregation a few rows at a time
//! ([`crate::aggregate::MapSource`]), so the confidence maps of a case never exist whole, and
//! [`argmax`] gives the predicted segmentation without a copy of the mean probabilities.

use super::kernels::{class_slices, Scratch};
use super::{maps, MapKind, Prob, State, BLOCK};
use crate::aggregate::MapSource;
use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;
use std::ops::Range;

/// A pixel confidence derived from the accumulator state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// Maximum softmax response max_c p_bar(c).
    MaxSoftmax,
    /// ln C - H(p_bar).
    PredictiveEntropy,
    /// ln C - mean_m H(p_m).
    ExpectedEntropy,
    /// -(H(p_bar) - mean_m H(p_m)).
    MutualInformation,
}

impl Confidence {
    /// The uncertainty map the confidence derives from.
    pub fn kind(self) -> MapKind {
        match self {
            Confidence::MaxSoftmax => MapKind::MaxProb,
            Confidence::PredictiveEntropy => MapKind::PredictiveEntropy,
            Confidence::ExpectedEntropy => MapKind::ExpectedEntropy,
            Confidence::MutualInformation => MapKind::MutualInformation,
        }
    }

    /// The confidence from the map value `x`; `ln_c` is [`ln_classes`].
    #[inline(always)]
    pub fn finish(self, x: f32, ln_c: f32) -> f32 {
        match self {
            Confidence::MaxSoftmax => x,
            Confidence::PredictiveEntropy | Confidence::ExpectedEntropy => ln_c - x,
            Confidence::MutualInformation => -x,
        }
    }
}

/// ln C rounded to f32 (as numpy rounds a Python float used with a float32 array).
pub fn ln_classes(n_classes: usize) -> f32 {
    (n_classes as f64).ln() as f32
}

/// Confidence maps [len(kinds), V] in one pass over the state.
///
/// # Errors
/// An invalid state ([`State::validate`]).
pub fn confidence_maps(state: &State<'_>, kinds: &[Confidence]) -> Result<Vec<f32>> {
    let map_kinds: Vec<MapKind> = kinds.iter().map(|k| k.kind()).collect();
    let mut out = maps(state, &map_kinds)?;
    let (v, ln_c) = (state.n_voxels(), ln_classes(state.n_classes));
    if v > 0 {
        parallel::install(|| {
            out.par_chunks_mut(v).zip(kinds).for_each(|(m, k)| {
                for x in m.iter_mut() {
                    *x = k.finish(*x, ln_c);
                }
            })
        });
    }
    Ok(out)
}

/// Confidence maps of a state, produced on demand for [`crate::aggregate::aggregate_many`].
pub struct Confidences<'a> {
    state: State<'a>,
    kinds: Vec<Confidence>,
    map_kinds: Vec<MapKind>,
    ln_c: f32,
}

impl<'a> Confidences<'a> {
    /// Maps `kinds` of `state`.
    ///
    /// # Errors
    /// An invalid state ([`State::validate`]), or EE / MI without the members' entropies.
    pub fn new(state: State<'a>, kinds: &[Confidence]) -> Result<Self> {
        state.validate()?;
        let map_kinds: Vec<MapKind> = kinds.iter().map(|k| k.kind()).collect();
        state.check_maps(&map_kinds)?;
        Ok(Confidences {
            state,
            kinds: kinds.to_vec(),
            map_kinds,
            ln_c: ln_classes(state.n_classes),
        })
    }

    /// Number of voxels.
    pub fn n_voxels(&self) -> usize {
        self.state.n_voxels()
    }
}

/// Buffers of [`Confidences::fill`]: f32 maps and H(p_bar).
pub struct ConfidenceScratch {
    maps: Vec<Vec<f32>>,
    pe: Vec<f32>,
}

impl MapSource for Confidences<'_> {
    type Scratch = ConfidenceScratch;

    fn n_maps(&self) -> usize {
        self.kinds.len()
    }

    fn scratch(&self, n: usize) -> ConfidenceScratch {
        ConfidenceScratch {
            maps: vec![vec![0.0; n]; self.kinds.len()],
            pe: vec![0.0; n],
        }
    }

    fn fill(&self, range: Range<usize>, outs: &mut [Vec<f64>], sc: &mut ConfidenceScratch) {
        let n = range.len();
        let mut refs: Vec<&mut [f32]> = sc.maps.iter_mut().map(|m| &mut m[..n]).collect();
        self.state
            .fill_maps(&self.map_kinds, range, &mut refs, &mut sc.pe);
        for ((out, m), k) in outs.iter_mut().zip(&sc.maps).zip(&self.kinds) {
            for (o, &x) in out[..n].iter_mut().zip(&m[..n]) {
                *o = k.finish(x, self.ln_c) as f64;
            }
        }
    }
}

/// An integer type for label maps.
pub trait LabelOut: Copy + Send + Sync + Default + 'static {
    /// Largest number of classes the type holds.
    const MAX_CLASSES: usize;
    /// The label of class `c`.
    fn of(c: usize) -> Self;
}

impl LabelOut for u8 {
    const MAX_CLASSES: usize = 256;
    #[inline(always)]
    fn of(c: usize) -> Self {
        c as u8
    }
}

impl LabelOut for i32 {
    const MAX_CLASSES: usize = i32::MAX as usize;
    #[inline(always)]
    fn of(c: usize) -> Self {
        c as i32
    }
}

/// Per voxel, the class with the largest `probs[c] * scale` (ties: the lowest class), for
/// class-major `probs` [C, V]: `scale = 1` for one member's probabilities, `1 / M` (rounded to
/// f32 as numpy does) on an accumulator's running sum, which gives the argmax of the mean
/// probabilities without computing them.
///
/// # Errors
/// Zero classes, more classes than `T` holds, a length that is not a multiple of C, no
/// voxel, or a non-finite value.
pub fn argmax<P: Prob, T: LabelOut>(probs: &[P], n_classes: usize, scale: f32) -> Result<Vec<T>> {
    if n_classes == 0 || n_classes > T::MAX_CLASSES {
        return Err(CoreError::InvalidArgument(format!(
            "n_classes must lie in [1, {}], got {n_classes}",
            T::MAX_CLASSES
        )));
    }
    if probs.len() % n_classes != 0 {
        return Err(CoreError::lengths(
            "probabilities vs a multiple of n_classes",
            probs.len(),
            n_classes,
        ));
    }
    let v = probs.len() / n_classes;
    if v == 0 {
        return Err(CoreError::Empty {
            name: "probabilities",
        });
    }
    let mut out = vec![T::default(); v];
    let bad = parallel::install(|| {
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .map_init(
                || (Scratch::new::<P>(n_classes), vec![0.0f32; BLOCK]),
                |(sc, best), (b, o)| {
                    let r = b * BLOCK..b * BLOCK + o.len();
                    let classes = class_slices(&mut sc.conv, probs, v, n_classes, r);
                    let best = &mut best[..o.len()];
                    let mut bad = false;
                    for (m, &p) in best.iter_mut().zip(classes[0]) {
                        *m = p * scale;
                        bad |= !m.is_finite();
                    }
                    for (c, cl) in classes.iter().enumerate().skip(1) {
                        let label = T::of(c);
                        for ((m, o), &p) in best.iter_mut().zip(o.iter_mut()).zip(cl.iter()) {
                            let x = p * scale;
                            bad |= !x.is_finite();
                            let gt = x > *m;
                            *m = if gt { x } else { *m };
                            *o = if gt { label } else { *o };
                        }
                    }
                    bad
                },
            )
            .reduce(|| false, |a, b| a | b)
    });
    if bad {
        return Err(CoreError::InvalidValue(
            "probabilities hold NaN or infinite values".into(),
        ));
    }
    Ok(out)
}

/// The scale that turns an accumulator's running sum into the mean over `n_members`, rounded
/// to f32 as numpy rounds `1.0 / M` used with a float32 array.
pub fn mean_scale(n_members: usize) -> f32 {
    (1.0 / n_members.max(1) as f64) as f32
}
