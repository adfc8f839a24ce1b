//! Hot loops of the accumulator: per-block validation and accumulation, with run-time AVX2
//! dispatch.

use super::{sub_xlnx, Prob, BLOCK};
use crate::simd;

/// Per-thread buffers of [`accumulate`]: f32 copies of f16 class segments, check sums.
pub(super) struct Scratch {
    pub(super) conv: Vec<f32>,
    pub(super) total: Vec<f32>,
    pub(super) lo: Vec<f32>,
}

impl Scratch {
    pub(super) fn new<P: Prob>(n_classes: usize) -> Self {
        let conv = if P::IS_F32 {
            Vec::new()
        } else {
            vec![0.0; n_classes * BLOCK]
        };
        Scratch {
            conv,
            total: vec![0.0; BLOCK],
            lo: vec![0.0; BLOCK],
        }
    }
}

/// The C class segments of voxels `r` as f32 slices (borrowed for f32, converted into `conv`
/// for f16).
pub(super) fn class_slices<'a, P: Prob>(
    conv: &'a mut [f32],
    probs: &'a [P],
    v: usize,
    n_classes: usize,
    r: std::ops::Range<usize>,
) -> Vec<&'a [f32]> {
    let n = r.len();
    if let Some(f) = P::as_f32(probs) {
        return (0..n_classes)
            .map(|c| &f[c * v + r.start..c * v + r.end])
            .collect();
    }
    for (c, dst) in conv.chunks_mut(BLOCK).enumerate() {
        P::load(&probs[c * v + r.start..c * v + r.end], &mut dst[..n]);
    }
    conv.chunks(BLOCK).map(|d| &d[..n]).collect()
}

#[inline(always)]
pub(super) fn voxel_ok(total: f32, lo: f32, tol: f32) -> bool {
    total.is_finite() & ((total - 1.0).abs() <= tol) & (lo >= 0.0)
}

/// Number of invalid voxels of a block; leaves per-voxel sums and minima in `total` / `lo`.
#[inline(always)]
pub(super) fn check_block_kernel(
    classes: &[&[f32]],
    total: &mut [f32],
    lo: &mut [f32],
    tol: f32,
) -> usize {
    total.fill(0.0);
    lo.fill(f32::INFINITY);
    for cl in classes {
        for ((t, l), &p) in total.iter_mut().zip(lo.iter_mut()).zip(cl.iter()) {
            *t += p; // NaN / inf poison the total
            *l = l.min(p);
        }
    }
    total
        .iter()
        .zip(lo.iter())
        .map(|(&t, &l)| (!voxel_ok(t, l, tol)) as usize)
        .sum()
}

/// sum_p += p and sum_ent -= sum_c p ln p for one block; with `fresh` the old sums are taken
/// as zero and not read (`0 + p` turns a -0 into +0, as adding to a zeroed state does).
#[inline(always)]
pub(super) fn add_block_kernel(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: &mut [f32],
    fresh: bool,
) {
    if fresh {
        ent.fill(0.0);
    }
    for (cl, seg) in classes.iter().zip(segs.iter_mut()) {
        for ((s, e), &p) in seg.iter_mut().zip(ent.iter_mut()).zip(cl.iter()) {
            *s = if fresh { 0.0 } else { *s } + p;
            *e = sub_xlnx(*e, p);
        }
    }
}

/// sum_p += p for one block (the members' entropies not kept: no logarithm, one read of p).
#[inline(always)]
pub(super) fn add_probs_kernel(classes: &[&[f32]], segs: &mut [&mut [f32]], fresh: bool) {
    for (cl, seg) in classes.iter().zip(segs.iter_mut()) {
        for (s, &p) in seg.iter_mut().zip(cl.iter()) {
            *s = if fresh { 0.0 } else { *s } + p;
        }
    }
}

/// The portable add: [`add_block_kernel`], or [`add_probs_kernel`] without `ent`.
pub(super) fn add_block_portable(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: Option<&mut [f32]>,
    fresh: bool,
) {
    match ent {
        Some(ent) => add_block_kernel(classes, segs, ent, fresh),
        None => add_probs_kernel(classes, segs, fresh),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn check_block_avx2(
    classes: &[&[f32]],
    total: &mut [f32],
    lo: &mut [f32],
    tol: f32,
) -> usize {
    check_block_kernel(classes, total, lo, tol)
}

/// Number of invalid voxels of a block; when it is not 0, `total` / `lo` hold every voxel's
/// class sum and minimum (for the error message).
pub(super) fn check_block_dispatch(
    classes: &[&[f32]],
    total: &mut [f32],
    lo: &mut [f32],
    tol: f32,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd::avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time); equal class lengths.
        // The common case (a valid block) is one register-blocked read; the per-voxel sums
        // and minima are written out only for a block that has invalid voxels to report.
        if unsafe { super::avx2::count_invalid(classes, tol) } == 0 {
            return 0;
        }
        return unsafe { check_block_avx2(classes, total, lo, tol) };
    }
    check_block_kernel(classes, total, lo, tol)
}

/// [`add_block_portable`], or its explicit AVX2 copy (`super::avx2`, bit-identical) where the
/// CPU has AVX2. Every slice has the same length.
pub(super) fn add_block_dispatch(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: Option<&mut [f32]>,
    fresh: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd::avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time); equal lengths (caller).
        unsafe { super::avx2::add_block(classes, segs, ent, fresh, None) };
        return;
    }
    add_block_portable(classes, segs, ent, fresh)
}

/// [`add_block_dispatch`] and [`check_block_dispatch`]'s count of invalid voxels (tolerance
/// `tol`) in one: on the AVX2 path one read of the block (the sums and minima of the check
/// come from the add's own loads); on the portable path the check, then the add. The sums are
/// written even for invalid voxels: the caller discards them (the fresh-state path, which
/// zeroes a rejected slab). `total` / `lo` are the portable check's buffers.
pub(super) fn add_block_checked(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: Option<&mut [f32]>,
    fresh: bool,
    tol: f32,
    (total, lo): (&mut [f32], &mut [f32]),
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd::avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time); equal lengths (caller).
        return unsafe { super::avx2::add_block(classes, segs, ent, fresh, Some(tol)) };
    }
    let n = classes.first().map_or(0, |c| c.len());
    let bad = check_block_kernel(classes, &mut total[..n], &mut lo[..n], tol);
    add_block_portable(classes, segs, ent, fresh);
    bad
}
