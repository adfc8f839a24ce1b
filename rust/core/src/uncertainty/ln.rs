//! The natural logarithm of the entropy kernels: `f32`, branch-free, vectorised.
//!
//! A Cephes `logf`-style reduction (x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1) and
//! ln(1 + f) = f - f^2 / 2 + f^3 P(f) with a degree-7 P of our own fit ([`POLY`]), evaluated by
//! Estrin's scheme with fused multiply-adds, written without branches.
//! The hot loops call its explicit AVX2 copy (`avx2::ln8`, `std::arch` intrinsics, selected at
//! run time by `is_x86_feature_detected!`, see [`super::simd`]); other CPUs run this portable
//! function. Both do the same IEEE operations in the same order with the same constants (each
//! `mul_add` here is one `vfmadd` there, rounded once; Rust never contracts a separate
//! `a * b + c`), so the result is bit-identical whichever path and however many threads run:
//! checked for every non-negative finite f32 (`cargo test -p medtrust-core --release --
//! --ignored ln_paths_exhaustive`, 40-75 s) and on a sample in `make test`.
//!
//! Accuracy against the exact logarithm (f64 `ln`), in ulps of the f32 result, over every f32
//! in (0, 1]: at most 0.892 ulp (exhaustive sweep of all 1 065 353 216 values, at 0.640886), so
//! below [`LN_MAX_ULPS`] = 1; subnormal inputs are scaled into the normal range first and get
//! the same accuracy. Sweep: `cargo test -p medtrust-core --release -- --ignored
//! ln_exhaustive` (1 minute on 2 cores); `make test` checks a dense stratified sample (every
//! exponent, 4099 mantissas each, every subnormal bit boundary) against the same bound.
//!
//! Speed: the fused Estrin form halves the AVX2 log's time against separate multiplies and
//! adds in Horner order (criterion `ln` group, same session). Cephes' degree-8 P gave 0.858 ulp
//! for one more multiply-add and one more multiply; with the reconstruction folded into three
//! fused multiply-adds (f + z (f P - 1/2), then e ln 2 in two parts) criterion's `ln_slice`
//! went 8.1 -> 7.5 us per 16k values (one session, the 2-core CI machine, AMD Zen 3). Without
//! hardware FMA (x86-64 CPUs before AVX2) `mul_add` is a correctly rounded libm call: the same bits, about 10x slower;
//! only such CPUs run this portable path on x86-64.
//!
//! `ln_fast(0)` is finite (about -105.4), so [`sub_xlnx`] takes `0 ln 0 = 0` exactly.

/// Error bound of [`ln_fast`] in ulps of the result, over (0, 1] (see the module notes).
pub const LN_MAX_ULPS: f64 = 1.0;

/// The bits of `FRAC_1_SQRT_2` (the f32 just below sqrt(1/2)): the reduction's split point.
pub(super) const SQRT_HALF_BITS: i32 = std::f32::consts::FRAC_1_SQRT_2.to_bits() as i32;

/// 2^25: scales any subnormal f32 into the normal range.
pub(super) const SUB_SCALE: f32 = 33_554_432.0;

/// Natural log of a positive `f32` (within [`LN_MAX_ULPS`] ulps on (0, 1]); finite at 0.
#[inline(always)]
pub fn ln_fast(x: f32) -> f32 {
    let sub = x < f32::MIN_POSITIVE;
    let x = if sub { x * SUB_SCALE } else { x };
    // x = 2^k m with m in [sqrt(1/2), sqrt(2)), in integer arithmetic on the bits: k is the
    // arithmetic shift of `bits - bits(sqrt(1/2))` (the exponent, one lower where the
    // mantissa lies below sqrt(1/2)), and subtracting `k << 23` from the bits divides by 2^k
    // exactly. `f = m - 1` is exact (Sterbenz: m lies in [1/2, 2]).
    let k = (x.to_bits() as i32).wrapping_sub(SQRT_HALF_BITS) >> 23;
    let m = f32::from_bits((x.to_bits() as i32).wrapping_sub(k << 23) as u32);
    let e = (k - if sub { 25 } else { 0 }) as f32;
    let f = m - 1.0;
    let z = f * f;
    let p = poly(f, z);
    // ln(1 + f) = f + z (f P(f) - 1/2), then + e ln 2 in two parts (the short high part last:
    // its product is exact, so the final rounding is the only one of that size).
    let y = z.mul_add(f.mul_add(p, -0.5), f);
    e.mul_add(LN2_HI, e.mul_add(LN2_LO, y))
}

/// The reduction's polynomial P(f) = sum_k POLY[7 - k] f^k by Estrin's scheme (four
/// independent pairs, then pairs of pairs: a dependency chain of 3 fused multiply-adds instead
/// of Horner's 7); `z` = f^2. The AVX2 copy (`avx2::ln8_reduced`) does the same fused
/// operations in the same order.
#[inline(always)]
fn poly(f: f32, z: f32) -> f32 {
    let q0 = f.mul_add(POLY[6], POLY[7]);
    let q1 = f.mul_add(POLY[4], POLY[5]);
    let q2 = f.mul_add(POLY[2], POLY[3]);
    let q3 = f.mul_add(POLY[0], POLY[1]);
    let z2 = z * z;
    z2.mul_add(z.mul_add(q3, q2), z.mul_add(q1, q0))
}

/// Coefficients of the reduction's polynomial, highest degree first: our fit of
/// (ln(1 + f) - f + f^2 / 2) / f^3 for the relative error of ln(1 + f) over the reduction's
/// range (`tools/fit_ln_poly.py 7` prints them; 0.10 ulp before rounding). The vector paths use
/// these constants in the same order.
pub(super) const POLY: [f32; 8] = [
    -0.076_344_3,
    0.127_615_5,
    -0.131_601_94,
    0.142_017_62,
    -0.166_233_57,
    0.200_012_27,
    -0.250_008_23,
    0.333_333_3,
];
/// ln 2 split in a short high part (exact products with small exponents) and a low part.
pub(super) const LN2_HI: f32 = 0.693_359_4;
pub(super) const LN2_LO: f32 = -2.121_944_4e-4;

/// `acc - x ln x`, rounded once (a fused multiply-add, `vfnmadd` in the vector kernels), with
/// `0 ln 0 = 0`: the step of every entropy sum (branch-free; `x` finite and >= 0). Fusing the
/// product into the sum shortens the sum's dependency chain across classes and rounds once
/// instead of twice.
#[inline(always)]
pub fn sub_xlnx(acc: f32, x: f32) -> f32 {
    (-x).mul_add(ln_fast(x), acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error of `ln_fast(x)` in ulps of the correctly rounded result.
    fn ulps(x: f32) -> f64 {
        let exact = (x as f64).ln();
        let want = exact as f32;
        let got = ln_fast(x);
        if want == 0.0 {
            return if got == 0.0 { 0.0 } else { f64::INFINITY };
        }
        let a = want.abs();
        let ulp = (f32::from_bits(a.to_bits() + 1) - a) as f64;
        (got as f64 - exact).abs() / ulp
    }

    fn worst(xs: impl Iterator<Item = u32>) -> (f64, u32) {
        xs.map(|b| (ulps(f32::from_bits(b)), b))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
    }

    #[test]
    fn stratified_sample_within_bound() {
        // Every exponent of (0, 1] (normal and subnormal), 4096 spread mantissas plus the ends
        // and the sqrt(1/2) split of the reduction; every power-of-two subnormal and its
        // neighbours.
        let mut bits = Vec::new();
        for exp in 0u32..=126 {
            for k in 0u32..4096 {
                bits.push((exp << 23) | (k * 2048 + (k * 7919) % 2048));
            }
            bits.extend([exp << 23, (exp << 23) | 0x7f_ffff, (exp << 23) | 0x35_04f3]);
        }
        for k in 0..23 {
            bits.extend([1u32 << k, (1u32 << k) + 1, (1u32 << k).saturating_sub(1)]);
        }
        bits.push(0x3f80_0000); // 1.0
        bits.retain(|&b| b > 0 && b <= 0x3f80_0000);
        let (w, at) = worst(bits.into_iter());
        assert!(w <= LN_MAX_ULPS, "{w} ulps at {:e}", f32::from_bits(at));
        assert_eq!(ln_fast(1.0), 0.0);
        assert!(ln_fast(0.0).is_finite());
        assert_eq!(sub_xlnx(0.0, 0.0), 0.0);
        assert_eq!(sub_xlnx(0.25, 0.0), 0.25);
        assert_eq!(sub_xlnx(0.0, 1.0), 0.0);
        assert!(sub_xlnx(0.0, f32::from_bits(1)).abs() < 1e-42);
        // One rounding: acc - x ln x formed in f64 (the product of two f32 exactly, the sum to
        // 53 bits) and rounded to f32 once; going through f64 can only differ from a single
        // rounding at an f32 tie, which these inputs do not hit. The two-rounding f32 form
        // must differ somewhere on the same inputs, or the check would prove nothing.
        let mut differs = 0;
        for k in 1..2000u32 {
            let x = k as f32 / 2000.0;
            let acc = 0.3 + k as f32 * 1e-4;
            let l = ln_fast(x);
            let once = (acc as f64 - x as f64 * l as f64) as f32;
            assert_eq!(sub_xlnx(acc, x), once, "x {x}");
            differs += usize::from(acc - x * l != once);
        }
        assert!(differs > 0);
    }

    /// Every f32 in (0, 1]; run in release mode (`--release -- --ignored`).
    #[test]
    #[ignore = "exhaustive: ~1.07e9 values, run once in release mode"]
    fn ln_exhaustive() {
        use rayon::prelude::*;
        let (w, at) = (1u32..0x3f80_0001)
            .into_par_iter()
            .with_min_len(1 << 16)
            .map(|b| (ulps(f32::from_bits(b)), b))
            .reduce(|| (0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
        println!(
            "ln_fast over (0, 1]: max {w:.3} ulps at {:e}",
            f32::from_bits(at)
        );
        assert!(w <= LN_MAX_ULPS, "{w} ulps at {:e}", f32::from_bits(at));
    }
}
