//! The failure NLL of the risk walk: `-sum (k - s) ln g + s ln(1 - g)` over the groups, with
//! its own logarithm so that the term loop vectorises.
//!
//! The term of one group uses both logarithms, without a branch: a factor that is zero gives a
//! signed zero (both logs are finite and negative, since `g` lies in [1e-12, 1 - 1e-12]), and
//! adding a signed zero to the other, nonzero product returns it unchanged, so the value is the
//! one that skipping the zero factor would give. The terms of a block of groups are computed
//! first (the loop LLVM vectorises: with AVX2 where the CPU has it, selected at run time) and
//! then subtracted one by one in group order, so the sum has the same bits on every path,
//! whatever the CPU and however many threads run.
//!
//! [`ln_unit`] follows the classic reduction `x = 2^e m` with `m` in [sqrt(1/2), sqrt(2)),
//! `f = m - 1`, `s = f / (2 + f)` and `ln(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2))`, where
//! `R(z) = sum_k 2 z^k / (2k + 1)` (the series of `2 atanh(s) - 2s`, nine terms: the first
//! term left out is below 2^-60 of the result), with `ln 2` split in a high part whose
//! products with the exponent are exact and a low part. It uses only IEEE +, -, *, / and bit
//! operations (no fused multiply-add is formed: Rust never contracts `a * b + c`), so the
//! scalar and the vector code give identical bits. Accuracy on [1e-12, 1]: within 1 ulp of
//! libm's `ln` (glibc documents its own within 0.52 ulp of the exact value), tested on a dense
//! sample of the domain and both sides of its binade edges: they differ in the last bit for
//! about 3% of inputs, never by more.

/// The scale of the magic-number conversion of a biased exponent to f64 (2^52).
const TWO52: f64 = 4_503_599_627_370_496.0;
/// `ln 2` split: the high part has trailing zero bits, so `e * LN2_HI` is exact for any
/// exponent of a double; `LN2_HI + LN2_LO` is `ln 2` to about 2^-90.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Coefficients `2 / (2k + 1)`, k = 1..9, of `R(z)`.
const R: [f64; 9] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
];

/// Natural logarithm of a normal `x` in (0, 1] (the NLL's arguments lie in [1e-12, 1 - 1e-12]);
/// within 1 ulp of libm's, branch-free (see the module notes).
///
/// ```
/// # use medtrust_core::risk::nll::ln_unit;
/// assert_eq!(ln_unit(1.0), 0.0);
/// assert!((ln_unit(0.25) - 0.25f64.ln()).abs() <= f64::EPSILON);
/// ```
#[inline(always)]
pub fn ln_unit(x: f64) -> f64 {
    let bits = x.to_bits();
    // The biased exponent as f64 without an integer conversion (exact: below 2^11).
    let biased = f64::from_bits(TWO52.to_bits() | (bits >> 52)) - TWO52;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000); // [1, 2)
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m }; // exact
    let e = biased - 1023.0 + if big { 1.0 } else { 0.0 };
    let f = m - 1.0; // exact (Sterbenz)
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    // R(z) split in its odd and even powers of z (two shorter dependency chains).
    let odd = z * (R[0] + w * (R[2] + w * (R[4] + w * (R[6] + w * R[8]))));
    let even = w * (R[1] + w * (R[3] + w * (R[5] + w * R[7])));
    let r = odd + even;
    let hfsq = 0.5 * f * f;
    e * LN2_HI - ((hfsq - (s * (hfsq + r) + e * LN2_LO)) - f)
}

/// One group's failure log-likelihood `(k - s) ln g + s ln(1 - g)` (`g`: the confidence
/// clamped to [1e-12, 1 - 1e-12]); 0 for an empty group (`k == 0`), which adds nothing.
#[inline(always)]
pub fn nll_term(c: f64, k: f64, s: f64) -> f64 {
    let g = c.clamp(1e-12, 1.0 - 1e-12);
    let t = (k - s) * ln_unit(g) + s * ln_unit(1.0 - g);
    if k != 0.0 {
        t
    } else {
        0.0
    }
}

/// Groups per block of [`terms`]: whether a block is pure is decided per block, and the
/// terms of a block of [`sub_terms`] live on the stack.
const BLOCK: usize = 64;

/// `nll` minus the term of every group, subtracted one by one in group order.
pub fn sub_terms(mut nll: f64, conf: &[f64], count: &[f64], sum: &[f64]) -> f64 {
    let mut t = [0.0f64; BLOCK];
    for ((c, k), s) in conf
        .chunks(BLOCK)
        .zip(count.chunks(BLOCK))
        .zip(sum.chunks(BLOCK))
    {
        let t = &mut t[..c.len()];
        terms(c, k, s, t);
        for &x in t.iter() {
            nll -= x;
        }
    }
    nll
}

/// Every group's term into `out`, block by block of [`BLOCK`] groups, vectorised with AVX2
/// where the CPU has it (same bits either way); the caller subtracts them in group order.
pub(super) fn terms(c: &[f64], k: &[f64], s: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    let avx2 = crate::simd::avx2();
    for (((c, k), s), out) in c
        .chunks(BLOCK)
        .zip(k.chunks(BLOCK))
        .zip(s.chunks(BLOCK))
        .zip(out.chunks_mut(BLOCK))
    {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { terms_avx2(c, k, s, out) };
            continue;
        }
        terms_portable(c, k, s, out);
    }
}

/// The terms of a block. A block whose every group is pure (all failures or none: `s == 0`
/// or `s == k`, always so for distinct confidences with 0/1 residuals) takes one logarithm a
/// group instead of two: the zero factor's product is a signed zero, which adding to the other
/// product leaves unchanged (module notes), so `k ln g` or `k ln(1 - g)` alone has the bits
/// of the full term.
#[inline(always)]
fn terms_portable(c: &[f64], k: &[f64], s: &[f64], out: &mut [f64]) {
    let mut pure = true;
    for (&k, &s) in k.iter().zip(s) {
        pure &= (s == 0.0) | (s == k);
    }
    if pure {
        for (((o, &c), &k), &s) in out.iter_mut().zip(c).zip(k).zip(s) {
            let g = c.clamp(1e-12, 1.0 - 1e-12);
            let x = if s == 0.0 { g } else { 1.0 - g };
            let t = k * ln_unit(x);
            *o = if k != 0.0 { t } else { 0.0 };
        }
    } else {
        for (((o, &c), &k), &s) in out.iter_mut().zip(c).zip(k).zip(s) {
            *o = nll_term(c, k, s);
        }
    }
}

/// [`terms_portable`] compiled for AVX2 (four groups per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn terms_avx2(c: &[f64], k: &[f64], s: &[f64], out: &mut [f64]) {
    terms_portable(c, k, s, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn ln_unit_within_one_ulp_of_libm() {
        let mut rng = Rng::new(11);
        let mut edges = vec![
            1.0,
            0.5,
            1e-12,
            1.0 - 1e-12,
            std::f64::consts::FRAC_1_SQRT_2,
        ];
        // Both sides of every power of two and of sqrt(1/2) 2^-j in the domain.
        for j in 0..41 {
            let p = 2f64.powi(-j);
            for x in [p, p * std::f64::consts::FRAC_1_SQRT_2] {
                edges.extend([
                    x,
                    f64::from_bits(x.to_bits() - 1),
                    f64::from_bits(x.to_bits() + 1),
                ]);
            }
        }
        let lo = 1e-12f64.to_bits();
        let span = 1f64.to_bits() - lo;
        let sample = (0..400_000).map(|i| match i % 3 {
            0 => rng.next_f64().max(1e-12),            // uniform
            1 => f64::from_bits(lo + rng.below(span)), // uniform in the bits
            _ => 1.0 - rng.next_f64() * 1e-6,          // near 1
        });
        for x in edges.into_iter().chain(sample) {
            if !(1e-12..=1.0).contains(&x) {
                continue;
            }
            assert!(ulps(ln_unit(x), x.ln()) <= 1, "x = {x:e}");
        }
        assert_eq!(ln_unit(1.0).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn vector_and_portable_terms_agree_bit_for_bit() {
        let mut rng = Rng::new(5);
        let n = 1000;
        let c: Vec<f64> = (0..n)
            .map(|i| match i % 7 {
                0 => 0.0,
                1 => 1.0,
                _ => rng.next_f64(),
            })
            .collect();
        let k: Vec<f64> = (0..n).map(|_| rng.below(4) as f64).collect();
        // Mixed groups (two logarithms a group), then pure ones (all failures or none: one).
        let mixed: Vec<f64> = k.iter().map(|&k| rng.below(k as u64 + 1) as f64).collect();
        let pure: Vec<f64> = k.iter().map(|&k| k * rng.below(2) as f64).collect();
        // A few mixed groups among pure ones (ties of a rounded CSF), and continuous residual
        // sums.
        let sparse: Vec<f64> = mixed
            .iter()
            .zip(&pure)
            .map(|(&m, &p)| if rng.below(10) == 0 { m } else { p })
            .collect();
        let continuous: Vec<f64> = k.iter().map(|&k| k * rng.next_f64()).collect();
        for s in [mixed, pure, sparse, continuous] {
            check_terms(&c, &k, &s);
        }
    }

    fn check_terms(c: &[f64], k: &[f64], s: &[f64]) {
        let n = c.len();
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        // The whole array as one block, and block by block (with AVX2 where the CPU has it).
        terms_portable(c, k, s, &mut a);
        terms(c, k, s, &mut b);
        for j in 0..n {
            assert_eq!(a[j].to_bits(), b[j].to_bits());
            assert_eq!(a[j].to_bits(), nll_term(c[j], k[j], s[j]).to_bits());
            // Both logarithms, signed zeros included, equal skipping a zero factor.
            let g = c[j].clamp(1e-12, 1.0 - 1e-12);
            let skip = match (k[j] == 0.0, s[j] == 0.0, k[j] == s[j]) {
                (true, _, _) => 0.0,
                (_, true, _) => k[j] * ln_unit(g),
                (_, _, true) => s[j] * ln_unit(1.0 - g),
                _ => (k[j] - s[j]) * ln_unit(g) + s[j] * ln_unit(1.0 - g),
            };
            assert_eq!(a[j].to_bits(), skip.to_bits(), "group {j}");
        }
    }
}
