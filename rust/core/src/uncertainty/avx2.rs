//! Explicit AVX2 kernels (`std::arch`), selected at run time by [`super::simd::avx2`].
//!
//! [`ln8`] is [`super::ln_fast`] on eight lanes: the same reduction, the same constants and the
//! same IEEE operations in the same order (the fused multiply-adds of the scalar code's
//! `mul_add` are `vfmadd` here, the separate multiplies and adds stay separate), so every lane
//! is bit-identical to the scalar function. The block kernels process eight voxels at a time
//! (the add sixteen: two independent logarithm chains per class, interleaved by [`ln8n`]) with
//! the class loop inside (the running entropy stays in a register instead of being read and
//! written once per class) and finish the ragged end with the scalar code; each voxel still
//! sees the same operations in the same order as in the portable kernels, so results do not
//! depend on the path or on where blocks start.
//!
//! AVX-512 is not used: its intrinsics need Rust 1.89 (the workspace supports 1.85), and the
//! kernels are bound by memory bandwidth once the logarithm is vectorised at this width; AVX-512
//! CPUs run this path.

use super::ln::{LN2_HI, LN2_LO, POLY, SQRT_HALF_BITS, SUB_SCALE};
use super::sub_xlnx;
use std::arch::x86_64::*;

/// Lanes per vector.
const W: usize = 8;

/// [`super::ln_fast`] of eight lanes, bit for bit ([`ln8n`] of one vector).
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn ln8(x: __m256) -> __m256 {
    // SAFETY: the caller's guarantee.
    unsafe { ln8n([x])[0] }
}

/// Marks the branch that calls it as rarely taken (an empty cold function: the branch hint
/// stable Rust offers). The rare form is inlined, not called: a call would clobber every
/// vector register, and the hot loop would keep its running sums on the stack to survive it.
#[cold]
#[inline]
fn rare() {}

/// [`super::ln_fast`] of the lanes of `U` vectors, bit for bit, their operations interleaved
/// statement by statement (the independent chains side by side in the instruction stream, not
/// one after the other).
///
/// Lanes below the smallest normal f32 (subnormals and 0) are rare in probabilities, so they
/// are looked for once for all `U` vectors, and only then does each vector take [`ln8_any`],
/// the form with the subnormal scaling; otherwise the multiply, blend and exponent fix-up of
/// that form are skipped (a third of the logarithm's time: criterion `ln_slice`). On normal
/// lanes the two forms are the same operations (the scaling is the identity there), so the
/// bits do not depend on which form a vector took.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn ln8n<const U: usize>(x: [__m256; U]) -> [__m256; U] {
    unsafe {
        let tiny = _mm256_set1_ps(f32::MIN_POSITIVE);
        let below = x.map(|v| _mm256_cmp_ps::<_CMP_LT_OQ>(v, tiny));
        let any = below
            .iter()
            .fold(_mm256_setzero_ps(), |a, &b| _mm256_or_ps(a, b));
        if _mm256_testz_ps(any, any) == 0 {
            rare();
            let mut out = x;
            for u in 0..U {
                out[u] = ln8_any(x[u], below[u]);
            }
            return out;
        }
        // As the scalar reduction: k = floor((bits - bits(sqrt(1/2))) / 2^23), m = x / 2^k.
        let k = x.map(|v| {
            let bits = _mm256_castps_si256(v);
            _mm256_srai_epi32::<23>(_mm256_sub_epi32(bits, _mm256_set1_epi32(SQRT_HALF_BITS)))
        });
        let mut m = x;
        for u in 0..U {
            let bits = _mm256_castps_si256(x[u]);
            m[u] = _mm256_castsi256_ps(_mm256_sub_epi32(bits, _mm256_slli_epi32::<23>(k[u])));
        }
        ln8_reduced(m, k)
    }
}

/// [`ln8`] of a vector with subnormal or zero lanes (`sub`, their mask): those lanes are
/// scaled by 2^25 into the normal range and their exponent lowered by 25, as in the scalar
/// code.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn ln8_any(x: __m256, sub: __m256) -> __m256 {
    unsafe {
        let x = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(SUB_SCALE)), sub);
        let bits = _mm256_castps_si256(x);
        let k = _mm256_srai_epi32::<23>(_mm256_sub_epi32(bits, _mm256_set1_epi32(SQRT_HALF_BITS)));
        let m = _mm256_castsi256_ps(_mm256_sub_epi32(bits, _mm256_slli_epi32::<23>(k)));
        let k = _mm256_sub_epi32(
            k,
            _mm256_and_si256(_mm256_castps_si256(sub), _mm256_set1_epi32(25)),
        );
        ln8_reduced([m], [k])[0]
    }
}

/// The logarithms from the reductions `x = 2^k m`, m in [sqrt(1/2), sqrt(2)), of `U` vectors:
/// the scalar code's polynomial and reconstruction, operation for operation, each step done
/// for every vector before the next.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn ln8_reduced<const U: usize>(m: [__m256; U], k: [__m256i; U]) -> [__m256; U] {
    unsafe {
        let c = |i: usize| _mm256_set1_ps(POLY[i]);
        let f = m.map(|v| _mm256_sub_ps(v, _mm256_set1_ps(1.0)));
        let z = f.map(|v| _mm256_mul_ps(v, v));
        // `super::ln::poly` (Estrin's scheme), operation for operation.
        let mut q = [[z[0]; 4]; U];
        for (j, (hi, lo)) in [(6, 7), (4, 5), (2, 3), (0, 1)].into_iter().enumerate() {
            for u in 0..U {
                q[u][j] = _mm256_fmadd_ps(f[u], c(hi), c(lo));
            }
        }
        let z2 = z.map(|v| _mm256_mul_ps(v, v));
        let mut out = m;
        for u in 0..U {
            let p = _mm256_fmadd_ps(
                z2[u],
                _mm256_fmadd_ps(z[u], q[u][3], q[u][2]),
                _mm256_fmadd_ps(z[u], q[u][1], q[u][0]),
            );
            // ln(1 + f) = f + z (f P - 1/2), then + e ln 2 in two parts, as the scalar code.
            let y = _mm256_fmadd_ps(z[u], _mm256_fmadd_ps(f[u], p, _mm256_set1_ps(-0.5)), f[u]);
            let e = _mm256_cvtepi32_ps(k[u]);
            let y = _mm256_fmadd_ps(e, _mm256_set1_ps(LN2_LO), y);
            out[u] = _mm256_fmadd_ps(e, _mm256_set1_ps(LN2_HI), y);
        }
        out
    }
}

/// [`super::ln_fast`] of every value of `x` into `out` (same length) on the AVX2 path.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn ln_slice(x: &[f32], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let full = n - n % W;
    for i in (0..full).step_by(W) {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            let v = ln8(_mm256_loadu_ps(x.as_ptr().add(i)));
            _mm256_storeu_ps(out.as_mut_ptr().add(i), v);
        }
    }
    for i in full..n {
        out[i] = super::ln_fast(x[i]);
    }
}

/// `sum_p += p` per class and `sum_ent -= sum_c p ln p` per voxel for one block (`ent` None:
/// probabilities only); with `fresh` the old sums are taken as zero and never read (the first
/// member of a state: one read of `p`, no read of the state). With `check` (a tolerance) it
/// also returns the number of voxels that are not valid probability vectors, as
/// [`count_invalid`] counts them, from the same loads (the caller then discards the sums it
/// wrote); without, 0.
///
/// # Safety
/// The CPU must support AVX2. Every class slice and segment (and `ent`) has the same length.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn add_block(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: Option<&mut [f32]>,
    fresh: bool,
    check: Option<f32>,
) -> usize {
    // SAFETY: the caller's guarantees.
    match check {
        Some(tol) => unsafe { add_block_as::<true>(classes, segs, ent, fresh, tol) },
        None => unsafe { add_block_as::<false>(classes, segs, ent, fresh, f32::INFINITY) },
    }
}

/// The vector steps of the block kernels over `n` voxels: `step(i, true)` for two vectors (16
/// voxels) from `i` while they fit, two independent logarithm chains per class that keep the
/// FMA pipes busy, then at most one `step(i, false)` of one vector. Returns where the scalar
/// tail starts (`n` rounded down to a multiple of 8).
#[inline(always)]
fn vector_steps(n: usize, mut step: impl FnMut(usize, bool)) -> usize {
    let (pairs, full) = (n - n % (2 * W), n - n % W);
    for i in (0..pairs).step_by(2 * W) {
        step(i, true);
    }
    if full > pairs {
        step(pairs, false);
    }
    full
}

/// [`add_block`], counting the invalid voxels only when `CHECK` (the check costs a few
/// operations a probability, spent only where a caller asks).
///
/// # Safety
/// As [`add_block`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_block_as<const CHECK: bool>(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    mut ent: Option<&mut [f32]>,
    fresh: bool,
    tol: f32,
) -> usize {
    let n = classes.first().map_or(0, |c| c.len());
    debug_assert!(classes.iter().all(|c| c.len() == n) && segs.iter().all(|s| s.len() == n));
    let mut bad = 0;
    let full = vector_steps(n, |i, pair| {
        let ent = ent.as_deref_mut();
        // SAFETY: `vector_steps` keeps i + 8 U <= n for every slice (same lengths, checked by
        // the caller).
        bad += unsafe {
            if pair {
                add_step::<2, CHECK>(classes, segs, ent, fresh, tol, i)
            } else {
                add_step::<1, CHECK>(classes, segs, ent, fresh, tol, i)
            }
        };
    });
    for i in full..n {
        let mut e = match (&ent, fresh) {
            (Some(en), false) => en[i],
            _ => 0.0,
        };
        let (mut t, mut lo) = (0.0f32, f32::INFINITY);
        for (cl, seg) in classes.iter().zip(segs.iter_mut()) {
            let p = cl[i];
            seg[i] = if fresh { 0.0 } else { seg[i] } + p;
            e = sub_xlnx(e, p);
            t += p;
            lo = lo.min(p);
        }
        if let Some(en) = ent.as_deref_mut() {
            en[i] = e;
        }
        bad += (CHECK && !super::kernels::voxel_ok(t, lo, tol)) as usize;
    }
    bad
}

/// The verdict of [`count_invalid`] on eight voxels from their class sums `t` and minima `lo`:
/// the number of invalid ones.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn n_invalid(t: __m256, lo: __m256, tol: __m256) -> usize {
    unsafe {
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        // finite: |t| < inf (false for NaN); ordered compares are false for NaN too.
        let finite =
            _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(t, abs_mask), _mm256_set1_ps(f32::INFINITY));
        let dev = _mm256_and_ps(_mm256_sub_ps(t, _mm256_set1_ps(1.0)), abs_mask);
        let near = _mm256_cmp_ps::<_CMP_LE_OQ>(dev, tol);
        let nonneg = _mm256_cmp_ps::<_CMP_GE_OQ>(lo, _mm256_setzero_ps());
        let ok = _mm256_and_ps(_mm256_and_ps(finite, near), nonneg);
        (8 - _mm256_movemask_ps(ok).count_ones()) as usize
    }
}

/// Number of voxels of a block that are not valid probability vectors (`kernels::voxel_ok`
/// false), with each voxel's class sum and minimum kept in registers (no per-block arrays): the
/// validation pass is one streaming read of `p`. Sums are formed in class order, as the
/// portable check does; a NaN anywhere makes the sum NaN, so the NaN rule of the minimum does
/// not change the verdict.
///
/// # Safety
/// The CPU must support AVX2; every class slice has the same length.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn count_invalid(classes: &[&[f32]], tol: f32) -> usize {
    let n = classes.first().map_or(0, |c| c.len());
    debug_assert!(classes.iter().all(|c| c.len() == n));
    let full = n - n % W;
    let mut bad = 0usize;
    // SAFETY (all loads): i + 8 <= full <= every slice's length.
    unsafe {
        let tolv = _mm256_set1_ps(tol);
        for i in (0..full).step_by(W) {
            let mut t = _mm256_setzero_ps();
            let mut lo = _mm256_set1_ps(f32::INFINITY);
            for cl in classes {
                let p = _mm256_loadu_ps(cl.as_ptr().add(i));
                t = _mm256_add_ps(t, p);
                lo = _mm256_min_ps(lo, p);
            }
            bad += n_invalid(t, lo, tolv);
        }
    }
    for i in full..n {
        let (mut t, mut lo) = (0.0f32, f32::INFINITY);
        for cl in classes {
            t += cl[i];
            lo = lo.min(cl[i]);
        }
        bad += !super::kernels::voxel_ok(t, lo, tol) as usize;
    }
    bad
}

/// [`add_block`] on the `U` vectors of voxels from `i`; with `CHECK`, the number of invalid
/// voxels among them (tolerance `tol`), else 0.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `i + 8 U` <= every slice's length.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn add_step<const U: usize, const CHECK: bool>(
    classes: &[&[f32]],
    segs: &mut [&mut [f32]],
    ent: Option<&mut [f32]>,
    fresh: bool,
    tol: f32,
    i: usize,
) -> usize {
    unsafe {
        let zero = _mm256_setzero_ps();
        let mut e = [zero; U];
        // Each voxel's class sum and minimum for the check, in class order as `count_invalid`
        // forms them (a few additions beside the logarithms).
        let mut t = [zero; U];
        let mut lo = [_mm256_set1_ps(f32::INFINITY); U];
        if let (Some(en), false) = (&ent, fresh) {
            for (u, eu) in e.iter_mut().enumerate() {
                *eu = _mm256_loadu_ps(en.as_ptr().add(i + u * W));
            }
        }
        for (cl, seg) in classes.iter().zip(segs.iter_mut()) {
            let mut p = [zero; U];
            for u in 0..U {
                let j = i + u * W;
                p[u] = _mm256_loadu_ps(cl.as_ptr().add(j));
                let s = if fresh {
                    zero
                } else {
                    _mm256_loadu_ps(seg.as_ptr().add(j))
                };
                _mm256_storeu_ps(seg.as_mut_ptr().add(j), _mm256_add_ps(s, p[u]));
                if CHECK {
                    t[u] = _mm256_add_ps(t[u], p[u]);
                    lo[u] = _mm256_min_ps(lo[u], p[u]);
                }
            }
            if ent.is_some() {
                let l = ln8n(p);
                for u in 0..U {
                    e[u] = _mm256_fnmadd_ps(p[u], l[u], e[u]);
                }
            }
        }
        if let Some(en) = ent {
            for (u, eu) in e.iter().enumerate() {
                _mm256_storeu_ps(en.as_mut_ptr().add(i + u * W), *eu);
            }
        }
        if !CHECK {
            return 0;
        }
        let tolv = _mm256_set1_ps(tol);
        (0..U).map(|u| n_invalid(t[u], lo[u], tolv)).sum()
    }
}

/// [`entropy_of_mean`] of the `U` vectors of voxels from `i`.
///
/// # Safety
/// The CPU must support AVX2; `i + 8 U` <= `pe.len()` <= every class slice's length.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(unused_unsafe)] // the intrinsics are safe inside `avx2` functions from Rust 1.87 on
unsafe fn entropy_of_mean_step<const U: usize>(
    classes: &[&[f32]],
    inv_m: f32,
    pe: &mut [f32],
    i: usize,
) {
    unsafe {
        let zero = _mm256_setzero_ps();
        let inv = _mm256_set1_ps(inv_m);
        let mut h = [zero; U];
        for cl in classes {
            let mut q = [zero; U];
            for (u, qu) in q.iter_mut().enumerate() {
                *qu = _mm256_mul_ps(_mm256_loadu_ps(cl.as_ptr().add(i + u * W)), inv);
            }
            let l = ln8n(q);
            for u in 0..U {
                h[u] = _mm256_fnmadd_ps(q[u], l[u], h[u]);
            }
        }
        for (u, hu) in h.iter().enumerate() {
            // max_ps(h, 0) is `h > 0 ? h : 0`, as `nonneg`.
            _mm256_storeu_ps(pe.as_mut_ptr().add(i + u * W), _mm256_max_ps(*hu, zero));
        }
    }
}

/// H(p_bar) per voxel into `pe`: `h = sub_xlnx(h, sum_c * inv_m)` over the classes in order
/// from `h = 0`, then `max(h, 0)`, as the portable loop of `State::fill_maps`.
///
/// # Safety
/// The CPU must support AVX2; every class slice is at least `pe.len()` long.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn entropy_of_mean(classes: &[&[f32]], inv_m: f32, pe: &mut [f32]) {
    let n = pe.len();
    debug_assert!(classes.iter().all(|c| c.len() >= n));
    let full = vector_steps(n, |i, pair| {
        // SAFETY: `vector_steps` keeps i + 8 U <= n <= every slice's length.
        unsafe {
            if pair {
                entropy_of_mean_step::<2>(classes, inv_m, pe, i)
            } else {
                entropy_of_mean_step::<1>(classes, inv_m, pe, i)
            }
        }
    });
    for i in full..n {
        let mut h = 0.0f32;
        for cl in classes {
            h = sub_xlnx(h, cl[i] * inv_m);
        }
        pe[i] = super::nonneg(h);
    }
}
