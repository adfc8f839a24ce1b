//! Streaming ensemble uncertainty: members' softmax maps fed one at a time.
//!
//! State is the running sum of probabilities `sum_p` [C, V] (class-major, as nnU-Net writes
//! softmax maps) and the running sum of per-member entropies `sum_ent` [V], both `f32`, owned by
//! the caller. `sum_ent` may be empty: the members' entropies (one logarithm per probability,
//! the costly part of an add) are then not computed, and the maps that need them (EE, MI) are
//! refused. [`accumulate`] adds one member's probabilities [C, V] (`f32` or `f16`);
//! [`accumulate_at`] adds a slab of voxels at an offset into a larger state. Both validate the
//! whole member (slab) first, so a rejected one leaves the state untouched. The maps
//! ([`MapKind`]) derive from the state: predictive entropy H(p_bar), expected entropy
//! mean_m H(p_m), mutual information (BALD), max probability, and ClaSP's class-weighted
//! entropy H * p_bar(c). Natural log, 0 log 0 = 0.
//!
//! Pixel confidences (higher = more confident) and the predicted labels (argmax of p_bar) come
//! from the same state without a copy of p_bar ([`confidence_maps`], [`Confidences`],
//! [`argmax`]).
//!
//! Work runs in parallel over fixed voxel blocks; every voxel's value is computed by the same
//! sequence of operations whatever the thread count, so results are bit-identical.
//!
//! The first member of a state ([`accumulate_first_at`]) is validated and stored block by block
//! in one pass over its probabilities (its sums replace the buffers' contents, so a rejected
//! member only needs them zeroed). Later members are validated whole before any sum changes and
//! then added: a second read of the probabilities, because an add cannot be undone exactly in
//! floating point (fl(fl(s + p) - p) != s for 20-50% of the sums of softmax members) and a copy
//! of the state to roll back to would double its memory.
//!
//! Over 400 lines because the state, its validation and the passes of an add (check, then sum;
//! or both at once for a first member) share one set of invariants; hot loops are in `kernels`
//! (explicit AVX2 copies in `avx2`), the logarithm in `ln`.

use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;
use std::ops::Range;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod confidence;
mod kernels;
mod ln;
pub use crate::simd;
pub use confidence::{
    argmax, confidence_maps, ln_classes, mean_scale, Confidence, ConfidenceScratch, Confidences,
    LabelOut,
};
use kernels::{
    add_block_checked, add_block_dispatch, check_block_dispatch, class_slices, voxel_ok, Scratch,
};

/// `max(h, 0)` as the AVX2 `maxps(h, 0)` computes it (`h > 0 ? h : +0`): entropies are >= 0
/// by definition, and rounding may leave them an ulp below.
#[inline(always)]
pub(crate) fn nonneg(h: f32) -> f32 {
    if h > 0.0 {
        h
    } else {
        0.0
    }
}

/// [`ln_fast`] of every value of `x` into `out` (the shorter length), on the explicit AVX2 path
/// where the CPU has it, bit-identical to calling [`ln_fast`] per value.
pub fn ln_slice(x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if simd::avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe { avx2::ln_slice(x, out) };
    }
    for (o, &v) in out.iter_mut().zip(x) {
        *o = ln_fast(v);
    }
}
pub use ln::{ln_fast, sub_xlnx, LN_MAX_ULPS};

/// Voxels per parallel work item.
pub const BLOCK: usize = 1 << 13;

/// A probability element type (`f32`, or `f16` upcast per block).
pub trait Prob: Copy + Send + Sync {
    /// Whether the type is `f32` (read in place, never converted).
    const IS_F32: bool;
    /// Convert `src` into `dst` (same length) as `f32`.
    fn load(src: &[Self], dst: &mut [f32]);
    /// The slice itself when the type is `f32`.
    fn as_f32(src: &[Self]) -> Option<&[f32]>;
}

impl Prob for f32 {
    const IS_F32: bool = true;
    #[inline(always)]
    fn load(src: &[Self], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
    #[inline(always)]
    fn as_f32(src: &[Self]) -> Option<&[f32]> {
        Some(src)
    }
}

impl Prob for half::f16 {
    const IS_F32: bool = false;
    #[inline(always)]
    fn load(src: &[Self], dst: &mut [f32]) {
        use half::slice::HalfFloatSliceExt;
        src.convert_to_f32_slice(dst);
    }
    #[inline(always)]
    fn as_f32(_src: &[Self]) -> Option<&[f32]> {
        None
    }
}

/// A voxel map derived from the accumulator state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// Predictive entropy H(p_bar) (clipped at 0 against rounding, as are all entropies).
    PredictiveEntropy,
    /// Expected entropy mean_m H(p_m).
    ExpectedEntropy,
    /// Mutual information (BALD) H(p_bar) - mean_m H(p_m), clipped at 0.
    MutualInformation,
    /// max_c p_bar(c).
    MaxProb,
    /// ClaSP's U_c = H(p_bar) * p_bar(c) for class c.
    ClassWeightedEntropy(usize),
    /// p_bar(c) for class c.
    MeanProb(usize),
}

impl MapKind {
    /// Whether the map needs the members' entropies (the `sum_ent` state).
    pub fn needs_member_entropy(self) -> bool {
        matches!(self, MapKind::ExpectedEntropy | MapKind::MutualInformation)
    }

    /// Whether the map needs H(p_bar).
    fn needs_pe(self) -> bool {
        matches!(
            self,
            MapKind::PredictiveEntropy
                | MapKind::MutualInformation
                | MapKind::ClassWeightedEntropy(_)
        )
    }
}

/// Geometry of an accumulator state: classes, voxels and members so far.
#[derive(Clone, Copy, Debug)]
pub struct State<'a> {
    /// Running sum of probabilities [C, V].
    pub sum_p: &'a [f32],
    /// Running sum of per-member entropies [V], or empty when they are not kept.
    pub sum_ent: &'a [f32],
    /// Number of classes C.
    pub n_classes: usize,
    /// Number of members added.
    pub n_members: usize,
}

impl State<'_> {
    /// Number of voxels V.
    pub fn n_voxels(&self) -> usize {
        self.sum_p.len() / self.n_classes.max(1)
    }

    /// Whether the members' entropies are kept (EE and MI maps possible).
    pub fn has_member_entropy(&self) -> bool {
        self.sum_ent.len() == self.n_voxels() && !self.sum_ent.is_empty()
    }

    /// Check `kinds` against the state: class indices in range ([`check_kinds`]) and the
    /// members' entropies kept where a map needs them.
    ///
    /// # Errors
    /// A class index out of range, or an EE / MI map from a state without `sum_ent`.
    pub fn check_maps(&self, kinds: &[MapKind]) -> Result<()> {
        check_kinds(kinds, self.n_classes)?;
        if !self.has_member_entropy() {
            if let Some(k) = kinds.iter().find(|k| k.needs_member_entropy()) {
                return Err(CoreError::InvalidArgument(format!(
                    "map {k:?} needs the running sum of the members' entropies, which this \
                     accumulator state does not keep (it was built without the EE / MI maps)"
                )));
            }
        }
        Ok(())
    }

    /// Check the buffer sizes and that at least one member was added.
    ///
    /// # Errors
    /// Zero classes or members, or buffers whose lengths disagree with C and V.
    pub fn validate(&self) -> Result<()> {
        if self.n_classes == 0 {
            return Err(CoreError::InvalidArgument("n_classes must be >= 1".into()));
        }
        if self.n_members == 0 {
            return Err(CoreError::Empty { name: "ensemble" });
        }
        check_state_len(self.sum_p.len(), self.sum_ent.len(), self.n_classes)
    }

    /// Fill `outs[k][..range.len()]` with map `kinds[k]` over the voxels `range`.
    ///
    /// H(p_bar) is computed once for all maps that need it (`scratch` holds it, at least
    /// `range.len()` long). Out-of-range class indices must be rejected by the caller
    /// ([`check_kinds`]).
    pub fn fill_maps(
        &self,
        kinds: &[MapKind],
        range: Range<usize>,
        outs: &mut [&mut [f32]],
        scratch: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if simd::avx2() {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
            return unsafe { self.fill_maps_avx2(kinds, range, outs, scratch) };
        }
        self.fill_maps_kernel::<false>(kinds, range, outs, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_maps_avx2(
        &self,
        kinds: &[MapKind],
        range: Range<usize>,
        outs: &mut [&mut [f32]],
        scratch: &mut [f32],
    ) {
        self.fill_maps_kernel::<true>(kinds, range, outs, scratch)
    }

    /// The maps; `AVX2`: H(p_bar) by the explicit AVX2 kernel (the caller checked the CPU).
    #[inline(always)]
    fn fill_maps_kernel<const AVX2: bool>(
        &self,
        kinds: &[MapKind],
        range: Range<usize>,
        outs: &mut [&mut [f32]],
        scratch: &mut [f32],
    ) {
        let v = self.n_voxels();
        let n = range.len();
        let inv_m = 1.0 / self.n_members as f32;
        let class = |c: usize| &self.sum_p[c * v + range.start..c * v + range.end];
        let pe = &mut scratch[..n];
        if kinds.iter().any(|k| k.needs_pe()) {
            #[cfg(target_arch = "x86_64")]
            if AVX2 {
                let classes: Vec<&[f32]> = (0..self.n_classes).map(&class).collect();
                // SAFETY: AVX2 is only set by `fill_maps_avx2`, called after the CPU check.
                unsafe { avx2::entropy_of_mean(&classes, inv_m, pe) };
            }
            if !(cfg!(target_arch = "x86_64") && AVX2) {
                pe.fill(0.0);
                for c in 0..self.n_classes {
                    for (h, &s) in pe.iter_mut().zip(class(c)) {
                        *h = sub_xlnx(*h, s * inv_m);
                    }
                }
                // p_bar may exceed 1 by an ulp; entropies are >= 0 by definition.
                for h in pe.iter_mut() {
                    *h = nonneg(*h);
                }
            }
        }
        // Empty when the members' entropies are not kept (EE / MI refused by `check_maps`).
        let ent = self.sum_ent.get(range.clone()).unwrap_or(&[]);
        for (kind, out) in kinds.iter().zip(outs.iter_mut()) {
            let out = &mut out[..n];
            match *kind {
                MapKind::PredictiveEntropy => out.copy_from_slice(pe),
                MapKind::ExpectedEntropy => {
                    for (o, &e) in out.iter_mut().zip(ent) {
                        *o = (e * inv_m).max(0.0);
                    }
                }
                MapKind::MutualInformation => {
                    for ((o, &h), &e) in out.iter_mut().zip(pe.iter()).zip(ent) {
                        *o = (h - e * inv_m).max(0.0);
                    }
                }
                MapKind::MaxProb => {
                    out.copy_from_slice(class(0));
                    for c in 1..self.n_classes {
                        for (o, &s) in out.iter_mut().zip(class(c)) {
                            *o = o.max(s);
                        }
                    }
                    for o in out.iter_mut() {
                        *o *= inv_m;
                    }
                }
                MapKind::ClassWeightedEntropy(c) => {
                    for ((o, &h), &s) in out.iter_mut().zip(pe.iter()).zip(class(c)) {
                        *o = h * (s * inv_m);
                    }
                }
                MapKind::MeanProb(c) => {
                    for (o, &s) in out.iter_mut().zip(class(c)) {
                        *o = s * inv_m;
                    }
                }
            }
        }
    }
}

/// `sum_p` must hold C x V values and `sum_ent` V (or none: entropies not kept).
fn check_state_len(sum_p: usize, sum_ent: usize, n_classes: usize) -> Result<()> {
    let ok = if sum_ent == 0 {
        sum_p % n_classes.max(1) == 0
    } else {
        sum_p == n_classes * sum_ent
    };
    if !ok {
        return Err(CoreError::ShapeMismatch {
            what: "accumulator state: sum_p must hold n_classes x voxels values (and sum_ent \
                   voxels values, or none)",
            left: format!("{sum_p}"),
            right: format!("{n_classes} x {sum_ent}"),
        });
    }
    Ok(())
}

/// Reject class indices outside `0..n_classes`.
///
/// # Errors
/// A class-indexed map kind with an index >= `n_classes`.
pub fn check_kinds(kinds: &[MapKind], n_classes: usize) -> Result<()> {
    for k in kinds {
        if let MapKind::ClassWeightedEntropy(c) | MapKind::MeanProb(c) = *k {
            if c >= n_classes {
                return Err(CoreError::InvalidArgument(format!(
                    "class index {c} out of range for {n_classes} classes"
                )));
            }
        }
    }
    Ok(())
}

/// Per-block result of the validation pass: (bad voxels, first bad voxel and its class sum).
type Bad = (usize, Option<(usize, f32)>);

fn merge_bad(a: Bad, b: Bad) -> Bad {
    let first = match (a.1, b.1) {
        (Some(x), Some(y)) => Some(if x.0 <= y.0 { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    };
    (a.0 + b.0, first)
}

/// Add one member's probabilities `probs` [C, V] to the state.
///
/// Every value must be finite and >= 0; with `sum_tol = Some(t)` the class probabilities of
/// each voxel must also sum to 1 within `t`. The member is validated completely before the
/// state changes, so an error leaves `sum_p` / `sum_ent` as they were. With an empty
/// `sum_ent` only the probabilities are summed (no logarithm).
///
/// # Errors
/// Buffers of inconsistent sizes, zero classes, or invalid probabilities (the error names the
/// number of offending voxels and the first one).
pub fn accumulate<P: Prob>(
    probs: &[P],
    n_classes: usize,
    sum_p: &mut [f32],
    sum_ent: &mut [f32],
    sum_tol: Option<f32>,
) -> Result<()> {
    if n_classes > 0 && probs.len() != sum_p.len() {
        return Err(CoreError::lengths(
            "member probabilities vs accumulator (n_classes x voxels)",
            probs.len(),
            sum_p.len(),
        ));
    }
    accumulate_at(probs, n_classes, sum_p, sum_ent, 0, sum_tol)
}

/// Add a slab of one member, `probs` [C, n] for the voxels `offset..offset + n` of a state of
/// V voxels (`sum_p` [C, V], `sum_ent` [V] or empty), in place: no copy of the slab's sums.
///
/// Validation as [`accumulate`] (an error leaves the state as it was). Each voxel's sums get
/// the same operations as a whole-member add, so slab by slab equals whole, bit for bit.
///
/// # Errors
/// As [`accumulate`]; also a slab that does not fit at `offset`.
pub fn accumulate_at<P: Prob>(
    probs: &[P],
    n_classes: usize,
    sum_p: &mut [f32],
    sum_ent: &mut [f32],
    offset: usize,
    sum_tol: Option<f32>,
) -> Result<()> {
    add_member(probs, 1, n_classes, sum_p, sum_ent, offset, sum_tol, false)
}

/// The first member of a state (or a slab of it): the slab's sums become this member's
/// probabilities and negative entropies, bit for bit what [`accumulate_at`] gives on a zeroed
/// state, but the old sums are neither read nor kept, and each probability is read once:
/// every block is validated and stored in one pass while it is in cache.
///
/// On a validation error the slab's sums are zeroed (an empty state, whatever they held
/// before) and the error is the one [`accumulate_at`] gives.
///
/// # Errors
/// As [`accumulate_at`].
pub fn accumulate_first_at<P: Prob>(
    probs: &[P],
    n_classes: usize,
    sum_p: &mut [f32],
    sum_ent: &mut [f32],
    offset: usize,
    sum_tol: Option<f32>,
) -> Result<()> {
    add_member(probs, 1, n_classes, sum_p, sum_ent, offset, sum_tol, true)
}

/// The first `n_members` members of a state at once, `probs` [M, C, n] (a stacked ensemble):
/// bit for bit [`accumulate_first_at`] with member 0 then [`accumulate_at`] with each later
/// member in order, but in one pass over `probs` and one write of the state. Each block of
/// voxels is checked and summed member by member while its sums stay in cache, so the
/// probabilities are read once and the state is never read back from memory (member-by-member
/// adds read each later member twice, check then add, and read and write the state once per
/// member).
///
/// All or nothing: on a validation error the slab's sums are zeroed (an empty state) and the
/// error names the first invalid member (the lowest index) with its voxel count and first
/// voxel, as [`accumulate_at`] does for one member.
///
/// # Errors
/// As [`accumulate_at`]; also `n_members == 0` or a length that is not M x C x voxels.
///
/// # Examples
/// ```
/// use medtrust_core::uncertainty::{accumulate_first_at, accumulate_at, accumulate_first_members_at};
/// let stack = [0.25f32, 0.75, 0.5, 0.5]; // [M=2, C=2, V=1]
/// let (mut sp, mut se) = (vec![0.0f32; 2], vec![0.0f32; 1]);
/// accumulate_first_members_at(&stack, 2, 2, &mut sp, &mut se, 0, Some(1e-3)).unwrap();
/// let (mut sp1, mut se1) = (vec![0.0f32; 2], vec![0.0f32; 1]);
/// accumulate_first_at(&stack[..2], 2, &mut sp1, &mut se1, 0, Some(1e-3)).unwrap();
/// accumulate_at(&stack[2..], 2, &mut sp1, &mut se1, 0, Some(1e-3)).unwrap();
/// assert_eq!((sp, se), (sp1, se1));
/// ```
pub fn accumulate_first_members_at<P: Prob>(
    probs: &[P],
    n_members: usize,
    n_classes: usize,
    sum_p: &mut [f32],
    sum_ent: &mut [f32],
    offset: usize,
    sum_tol: Option<f32>,
) -> Result<()> {
    if n_members == 0 {
        return Err(CoreError::Empty { name: "ensemble" });
    }
    add_member(
        probs, n_members, n_classes, sum_p, sum_ent, offset, sum_tol, true,
    )
}

/// Per-block split of the slab `offset..offset + v` of a state: C class segments per block of
/// [`BLOCK`] voxels, and the entropy segment (None when the entropies are not kept).
type BlockSegs<'a> = (Vec<Vec<&'a mut [f32]>>, Vec<Option<&'a mut [f32]>>);

fn block_segments<'a>(
    sum_p: &'a mut [f32],
    sum_ent: &'a mut [f32],
    v_all: usize,
    offset: usize,
    v: usize,
    n_classes: usize,
) -> BlockSegs<'a> {
    let n_blocks = v.div_ceil(BLOCK);
    let mut blocks: Vec<Vec<&mut [f32]>> = (0..n_blocks)
        .map(|_| Vec::with_capacity(n_classes))
        .collect();
    for class_slice in sum_p.chunks_mut(v_all) {
        for (b, seg) in class_slice[offset..offset + v]
            .chunks_mut(BLOCK)
            .enumerate()
        {
            blocks[b].push(seg);
        }
    }
    let ent_blocks: Vec<Option<&mut [f32]>> = if sum_ent.is_empty() {
        (0..n_blocks).map(|_| None).collect()
    } else {
        sum_ent[offset..offset + v]
            .chunks_mut(BLOCK)
            .map(Some)
            .collect()
    };
    (blocks, ent_blocks)
}

fn invalid_member(bad: Bad, tol: f32) -> Result<()> {
    let (n_bad, Some((first, total))) = bad else {
        return Ok(());
    };
    let what = if !total.is_finite() {
        "a negative, NaN or infinite probability".to_string()
    } else {
        format!("class probabilities summing to {total} (tolerance {tol})")
    };
    Err(CoreError::InvalidValue(format!(
        "{n_bad} voxel(s) are not valid probability vectors; the first (flat voxel index \
         {first}) has {what}. Pass softmax outputs, or disable the sum check for \
         region-based (sigmoid) outputs"
    )))
}

/// Validate and add `n_members` members [M, C, n] at `offset` (M > 1 only when `fresh`).
#[allow(clippy::too_many_arguments)] // the public entry points' arguments, plus M and `fresh`
fn add_member<P: Prob>(
    probs: &[P],
    n_members: usize,
    n_classes: usize,
    sum_p: &mut [f32],
    sum_ent: &mut [f32],
    offset: usize,
    sum_tol: Option<f32>,
    fresh: bool,
) -> Result<()> {
    if n_classes == 0 {
        return Err(CoreError::InvalidArgument("n_classes must be >= 1".into()));
    }
    check_state_len(sum_p.len(), sum_ent.len(), n_classes)?;
    let v_all = sum_p.len() / n_classes;
    debug_assert!(fresh || n_members == 1);
    let per_voxel = n_members.saturating_mul(n_classes);
    if probs.len() % per_voxel != 0 {
        return Err(CoreError::lengths(
            if n_members == 1 {
                "member probabilities: length must be n_classes x voxels"
            } else {
                "stacked members: length must be n_members x n_classes x voxels"
            },
            probs.len(),
            per_voxel,
        ));
    }
    let v = probs.len() / per_voxel;
    let member = |m: usize| &probs[m * n_classes * v..(m + 1) * n_classes * v];
    if v == 0 {
        return Err(CoreError::Empty {
            name: "probabilities",
        });
    }
    if offset.checked_add(v).is_none_or(|end| end > v_all) {
        return Err(CoreError::InvalidArgument(format!(
            "slab of {v} voxels at offset {offset} does not fit a state of {v_all} voxels"
        )));
    }
    let n_blocks = v.div_ceil(BLOCK);
    let tol = sum_tol.unwrap_or(f32::INFINITY);
    // Validation of one block (its voxels' class sums and minima).
    let check_block = |b: usize, total: &mut [f32], lo: &mut [f32], classes: &[&[f32]]| -> Bad {
        let start = b * BLOCK;
        let n = classes[0].len();
        let (total, lo) = (&mut total[..n], &mut lo[..n]);
        if check_block_dispatch(classes, total, lo, tol) == 0 {
            return (0, None);
        }
        let mut bad: Bad = (0, None);
        for (i, (&t, &l)) in total.iter().zip(lo.iter()).enumerate() {
            if !voxel_ok(t, l, tol) {
                bad.0 += 1;
                if bad.1.is_none() {
                    bad.1 = Some((start + i, if l >= 0.0 { t } else { f32::NAN }));
                }
            }
        }
        bad
    };
    let block_range = |b: usize| b * BLOCK..((b + 1) * BLOCK).min(v);
    if fresh {
        // One pass: each block is checked and added from the same loads (one read of `p`),
        // member after member (the block's sums stay in cache between members). The old sums
        // are not part of the result, so a rejected member only needs the slab zeroed
        // afterwards. Each block reports the first member it found invalid (M: none) and that member's bad
        // voxels in the block; every block checked every member before its own first invalid
        // one, so the blocks that stopped at the lowest such member hold all its bad voxels.
        let (blocks, ent_blocks) = block_segments(sum_p, sum_ent, v_all, offset, v, n_classes);
        let (failed, bad) = parallel::install(|| {
            blocks
                .into_par_iter()
                .zip(ent_blocks)
                .enumerate()
                .map_init(
                    || Scratch::new::<P>(n_classes),
                    |bufs, (b, (mut segs, mut ent))| {
                        for m in 0..n_members {
                            let classes = class_slices(
                                &mut bufs.conv,
                                member(m),
                                v,
                                n_classes,
                                block_range(b),
                            );
                            let n_bad = add_block_checked(
                                &classes,
                                &mut segs,
                                ent.as_deref_mut(),
                                m == 0,
                                tol,
                                (&mut bufs.total, &mut bufs.lo),
                            );
                            if n_bad > 0 {
                                // Rare: the first invalid voxel and the values for the message.
                                let bad = check_block(b, &mut bufs.total, &mut bufs.lo, &classes);
                                return (m, bad);
                            }
                        }
                        (n_members, (0, None))
                    },
                )
                .reduce(
                    || (n_members, (0, None)),
                    |a, b| match a.0.cmp(&b.0) {
                        std::cmp::Ordering::Less => a,
                        std::cmp::Ordering::Greater => b,
                        std::cmp::Ordering::Equal => (a.0, merge_bad(a.1, b.1)),
                    },
                )
        });
        if failed < n_members {
            let (blocks, ent_blocks) = block_segments(sum_p, sum_ent, v_all, offset, v, n_classes);
            parallel::install(|| {
                blocks
                    .into_par_iter()
                    .zip(ent_blocks)
                    .for_each(|(segs, ent)| {
                        segs.into_iter().for_each(|s| s.fill(0.0));
                        if let Some(e) = ent {
                            e.fill(0.0);
                        }
                    })
            });
        }
        return invalid_member(bad, tol).map_err(|e| match (e, n_members) {
            (CoreError::InvalidValue(msg), 2..) => {
                CoreError::InvalidValue(format!("member {failed}: {msg}"))
            }
            (e, _) => e,
        });
    }
    // Pass 1: validate the whole member (the state is not touched if it is rejected).
    let bad = parallel::install(|| {
        (0..n_blocks)
            .into_par_iter()
            .map_init(
                || Scratch::new::<P>(n_classes),
                |bufs, b| {
                    let classes = class_slices(&mut bufs.conv, probs, v, n_classes, block_range(b));
                    check_block(b, &mut bufs.total, &mut bufs.lo, &classes)
                },
            )
            .reduce(|| (0, None), merge_bad)
    });
    invalid_member(bad, tol)?;
    // Pass 2: add. Split the slab's part of sum_p [C, V] into per-block groups of C class
    // segments (the same block boundaries as the slab, so offsets need no alignment).
    let (blocks, ent_blocks) = block_segments(sum_p, sum_ent, v_all, offset, v, n_classes);
    parallel::install(|| {
        blocks
            .into_par_iter()
            .zip(ent_blocks)
            .enumerate()
            .for_each_init(
                || Scratch::new::<P>(n_classes),
                |bufs, (b, (mut segs, mut ent))| {
                    let classes = class_slices(&mut bufs.conv, probs, v, n_classes, block_range(b));
                    add_block_dispatch(&classes, &mut segs, ent.as_deref_mut(), false);
                },
            )
    });
    Ok(())
}

/// Full voxel maps of `kinds`, each of length V, concatenated ([len(kinds), V]).
///
/// # Errors
/// An invalid state ([`State::validate`]) or a class index out of range.
pub fn maps(state: &State<'_>, kinds: &[MapKind]) -> Result<Vec<f32>> {
    state.validate()?;
    state.check_maps(kinds)?;
    let v = state.n_voxels();
    let k = kinds.len();
    let mut out: Vec<f32> = crate::alloc::huge_zeroed(k * v);
    if k == 0 || v == 0 {
        return Ok(out);
    }
    let n_blocks = v.div_ceil(BLOCK);
    let mut blocks: Vec<Vec<&mut [f32]>> = (0..n_blocks).map(|_| Vec::with_capacity(k)).collect();
    for map in out.chunks_mut(v) {
        for (b, seg) in map.chunks_mut(BLOCK).enumerate() {
            blocks[b].push(seg);
        }
    }
    parallel::install(|| {
        blocks.into_par_iter().enumerate().for_each_init(
            || vec![0.0f32; BLOCK],
            |scratch, (b, mut segs)| {
                let start = b * BLOCK;
                let end = (start + BLOCK).min(v);
                state.fill_maps(kinds, start..end, &mut segs, scratch);
            },
        )
    });
    Ok(out)
}

#[cfg(test)]
mod tests;
