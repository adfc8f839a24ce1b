//! Run-time CPU feature checks for the hot loops. The vector paths (explicit AVX2 intrinsics
//! for the uncertainty logarithm and adds, compiler-vectorised AVX2 copies of other loops: the
//! risk walk's divisions, the NLL terms, the input scan) do the same IEEE operations per
//! element as the portable ones (no reassociation, no fused multiply-add unless the portable
//! code spells out the same `mul_add`), so results are bit-identical whichever path runs.

/// Whether AVX2 and FMA are available (x86-64 only; checked once, then a cached flag).
///
/// ```
/// let _vector_paths = medtrust_core::simd::avx2();
/// ```
#[inline]
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
