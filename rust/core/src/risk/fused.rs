//! The fused sort path of the metrics: unlabelled 0/1 residuals with many distinct confidences
//! (the all-distinct case), from the inputs to every metric without materialising the groups.
//!
//! 1. One parallel pass over the inputs checks them (NaN / infinity, 0/1 residuals, confidences
//!    in [0, 1] for calibration) and writes the sort keys and one byte per residual, with the
//!    key range and the number of failures.
//! 2. One counting pass and one scatter pass put the pairs into buckets of the key range
//!    ([`super::radix::scatter_buckets`], 9 bytes a sample), counting each bucket's failures.
//! 3. Each bucket is sorted in cache and walked at once ([`super::walk::Walk`]), starting from
//!    the exact prefix counts of the buckets before it: groups never straddle buckets (equal
//!    keys share one), so a bucket's groups are complete.
//!
//! The per-bucket partial sums are combined in bucket order, an order fixed by the data; the
//! exact sums (counts, failures, the AUROC numerator) and the selected points are the bits of
//! the serial walk, the float sums (AURC, AUGRC, NLL, ECE's bin sums) differ from one serial
//! sum by rounding only (a proptest compares with the comparison-sort path).

use super::grouping::{check_inputs, f64_key, nan_error, GroupArrays};
use super::metrics::{from_walk, RiskMetrics, Targets};
use super::optimal_binary;
use super::radix::{bucket_offsets, fine_bins, merge_fine_bins, Shared};
use super::walk::{Walk, WalkSetup};
use crate::error::Result;
use crate::parallel;
use rayon::prelude::*;

/// Fixed chunk of the input pass (the flags and the key range are order-free reductions).
const CHUNK: usize = 1 << 16;

/// What the input pass learns about the inputs (also the one pass of the small-input path,
/// [`super::grouping::walk_small`]).
#[derive(Clone, Copy)]
pub(crate) struct Scan {
    /// A confidence or residual is NaN.
    pub(crate) nan: bool,
    /// A confidence or residual is NaN or infinite.
    pub(crate) nonfinite: bool,
    /// A residual lies outside [0, 1] (or is NaN).
    pub(crate) out_of_range: bool,
    /// Every residual is 0 or 1.
    pub(crate) binary: bool,
    /// Every confidence lies in [0, 1].
    pub(crate) unit: bool,
    /// The smallest and largest descending confidence key (`!f64_key(c)`).
    pub(crate) lo: u64,
    /// See `lo`.
    pub(crate) hi: u64,
    /// Residuals equal to 1.
    pub(crate) ones: u64,
}

impl Scan {
    const EMPTY: Scan = Scan {
        nan: false,
        nonfinite: false,
        out_of_range: false,
        binary: true,
        unit: true,
        lo: u64::MAX,
        hi: 0,
        ones: 0,
    };

    fn merge(self, o: Scan) -> Scan {
        Scan {
            nan: self.nan | o.nan,
            nonfinite: self.nonfinite | o.nonfinite,
            out_of_range: self.out_of_range | o.out_of_range,
            binary: self.binary & o.binary,
            unit: self.unit & o.unit,
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
            ones: self.ones + o.ones,
        }
    }
}

/// Check one chunk of the inputs (an AVX2 copy where the CPU has it: the unsigned 64-bit
/// minimum and maximum of the keys have no SSE2 instruction, so the baseline build checked
/// one sample at a time).
pub(crate) fn scan_chunk(conf: &[f64], res: &[f64]) -> Scan {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2() {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { scan_chunk_avx2(conf, res) };
    }
    scan_chunk_portable(conf, res)
}

/// [`scan_chunk`] over a whole input: in parallel chunks of [`CHUNK`] samples from
/// [`parallel::SERIAL_BELOW`] on, on the caller's thread below (the reductions are order-free,
/// so the result is the same either way). The one input scan of every sort path.
pub(crate) fn scan(conf: &[f64], res: &[f64]) -> Scan {
    if conf.len() < parallel::SERIAL_BELOW {
        return scan_chunk(conf, res);
    }
    conf.par_chunks(CHUNK)
        .zip(res.par_chunks(CHUNK))
        .map(|(c, r)| scan_chunk(c, r))
        .reduce(|| Scan::EMPTY, Scan::merge)
}

/// [`scan_chunk_portable`] compiled for AVX2 (order-free reductions: the same result).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_chunk_avx2(conf: &[f64], res: &[f64]) -> Scan {
    scan_chunk_portable(conf, res)
}

#[inline(always)]
fn scan_chunk_portable(conf: &[f64], res: &[f64]) -> Scan {
    let mut s = Scan::EMPTY;
    for (&c, &r) in conf.iter().zip(res) {
        // Bitwise ops: no branches in the loop.
        s.nan |= c.is_nan() | r.is_nan();
        s.nonfinite |= !c.is_finite() | !r.is_finite();
        s.out_of_range |= !(0.0..=1.0).contains(&r);
        s.binary &= (r == 0.0) | (r == 1.0);
        s.unit &= (0.0..=1.0).contains(&c);
        let key = !f64_key(c);
        s.lo = s.lo.min(key);
        s.hi = s.hi.max(key);
        s.ones += u64::from(r == 1.0);
    }
    s
}

/// Samples a bucket aims at: 256 KiB of packed samples, sorted inside the L2 cache (larger
/// than [`super::radix::BUCKET_TARGET`]: fewer buckets mean fewer scatter streams, and the
/// counting sort of [`sort_packed`] does not slow down with the bucket size as a comparison
/// sort does; on 10^7 distinct samples, best of four on the loaded 2-core machine: 0.60-0.70 s
/// at 16384-32768, 0.77 s at 4096, 0.87 s at 2048, with the earlier one-pass counting sort).
/// A quarter of the 2^17 slots of the sort's top bits ([`LOW_BITS`] + [`HIGH_BITS`]):
/// spread-out keys leave about one sample in four slots, so that few samples need the
/// insertion pass.
const BUCKET_TARGET: usize = 1 << 15;

/// Words of a sorted bucket turned into group arrays and walked at a time (the piece is cut
/// at a group boundary, so no group is split). A whole bucket's arrays (3 x 8 bytes a group,
/// 768 KiB) did not fit the 512 KiB L2 cache beside the bucket and its sort buffer; a piece's
/// (48 KiB) stay in cache. The walk's bits do not depend on how its groups are split between
/// calls (`Walk::push_all`). On 10^7 distinct samples, `tools/ab_builds.py`: 0.89-0.92 of the
/// time of one piece a bucket.
const PIECE: usize = 2048;

/// Fine bins a bucket may span: a bucket's keys then differ from its base by less than
/// 2^(48 + 8), so (key - base, residual byte) packs into one u64 (8 bytes a sample).
const MAX_SPAN: usize = 256;

/// Low bits of a packed sample that hold its residual (0 or 1); the key sits above them.
const RESIDUAL_BITS: u32 = 8;

/// Reusable buffers of [`sort_packed`], one per worker.
#[derive(Default)]
pub struct SortScratch {
    out: Vec<u64>,
}

/// Bits of the first (low) and second (high) counting pass of [`sort_packed`]. With 17 bits
/// in all instead of 16, samples sharing their top bits (the insertion pass's work, and its
/// mispredicted branches: 30% of the sort's samples in a profile) halve; the second
/// histogram (512 entries) still stays in L1. `tools/ab_builds.py` against the 16-bit
/// build, both orders: 10^7 distinct samples faster in five runs of six (by 2-11%),
/// 1,000-row groups (`--case groups-1000`) 0.95-0.96 of the time. 18 and 19 bits were no
/// steadier in trial builds.
const LOW_BITS: u32 = 8;
/// See [`LOW_BITS`].
const HIGH_BITS: u32 = 9;

/// Sort one bucket of packed samples in cache by two LSD counting passes on the top
/// [`LOW_BITS`] + [`HIGH_BITS`] bits of the bucket's value range (both histograms stay in L1),
/// then one insertion pass that orders samples sharing those top bits (about one sample in
/// four slots for a full bucket of spread-out keys). The insertion pass has a budget of
/// moves; past it (clustered keys sharing their top bits) the bucket is sorted by
/// `sort_unstable`, so no input makes this quadratic. Sorts in place (`s` holds the pass
/// between the two).
///
/// The words come out ordered by their bits above the low `ignore` bits (the residual field
/// of a packed sample): words equal there may come out in any order, as the group arrays
/// built from them only count and sum a group's residuals. The insertion pass then never
/// moves a sample past an equal key (with tied confidences, most of its moves were such
/// swaps of a failure and a success).
pub fn sort_packed(p: &mut [u64], s: &mut SortScratch, ignore: u32) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2() {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { lsd_avx2(p, s, ignore) };
    }
    lsd(p, s, ignore);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lsd_avx2(p: &mut [u64], s: &mut SortScratch, ignore: u32) {
    lsd(p, s, ignore);
}

#[inline(always)]
fn lsd(p: &mut [u64], s: &mut SortScratch, ignore: u32) {
    const SMALL: usize = 32;
    if p.len() <= SMALL {
        insertion_sort_within(p, usize::MAX, ignore);
        return;
    }
    let (mut mn, mut mx) = (u64::MAX, 0u64);
    for &x in p.iter() {
        mn = mn.min(x);
        mx = mx.max(x);
    }
    if mn >> ignore == mx >> ignore {
        return; // one key
    }
    let mut d = Digits::new(mn, mx - mn);
    for &x in p.iter() {
        d.count(x);
    }
    scatter(p, s, ignore, &mut d);
}

/// The histograms of [`sort_packed`]'s two counting passes over words in `[base, base +
/// span]`: [`sort_packed`] fills them in a pass of its own, a caller that builds the words
/// can fill them as it writes each one ([`Digits::count`]) and go on with [`sort_counted`].
pub(crate) struct Digits {
    base: u64,
    shift: u32,
    low: [u32; 1 << LOW_BITS],
    high: [u32; 1 << HIGH_BITS],
}

impl Digits {
    /// Empty histograms of the top [`LOW_BITS`] + [`HIGH_BITS`] bits of `[0, span]`, for
    /// words `base` to `base + span`.
    pub(crate) fn new(base: u64, span: u64) -> Self {
        Digits {
            base,
            shift: (64 - span.leading_zeros()).saturating_sub(LOW_BITS + HIGH_BITS),
            low: [0; 1 << LOW_BITS],
            high: [0; 1 << HIGH_BITS],
        }
    }

    /// Count one word (in the range given to [`Digits::new`]).
    #[inline(always)]
    pub(crate) fn count(&mut self, x: u64) {
        let d = (x - self.base) >> self.shift;
        self.low[(d & LOW_MASK) as usize] += 1;
        self.high[(d >> LOW_BITS) as usize] += 1;
    }
}

/// Mask of the first counting pass's digit.
const LOW_MASK: u64 = (1 << LOW_BITS) - 1;

/// [`sort_packed`] after the counting pass: `d` holds the counts of every word of `p`.
pub(crate) fn sort_counted(p: &mut [u64], s: &mut SortScratch, ignore: u32, d: &mut Digits) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2() {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { scatter_avx2(p, s, ignore, d) };
    }
    scatter(p, s, ignore, d);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scatter_avx2(p: &mut [u64], s: &mut SortScratch, ignore: u32, d: &mut Digits) {
    scatter(p, s, ignore, d);
}

/// The two scatter passes and the insertion pass of [`sort_counted`].
#[inline(always)]
fn scatter(p: &mut [u64], s: &mut SortScratch, ignore: u32, d: &mut Digits) {
    for h in [&mut d.low[..], &mut d.high[..]] {
        let mut at = 0u32;
        for c in h.iter_mut() {
            (*c, at) = (at, at + *c);
        }
    }
    if s.out.len() < p.len() {
        s.out.resize(p.len(), 0);
    }
    let (mn, shift) = (d.base, d.shift);
    let out = &mut s.out[..p.len()];
    for &x in p.iter() {
        let k = (((x - mn) >> shift) & LOW_MASK) as usize;
        out[d.low[k] as usize] = x;
        d.low[k] += 1;
    }
    for &x in out.iter() {
        let k = ((x - mn) >> (shift + LOW_BITS)) as usize;
        p[d.high[k] as usize] = x;
        d.high[k] += 1;
    }
    if !insertion_sort_within(p, 8 * p.len(), ignore) {
        p.sort_unstable();
    }
}

/// Insertion sort by the bits above the low `ignore` bits, with a budget of element moves:
/// false (the slice left a permutation of itself) once the budget is spent.
#[inline]
fn insertion_sort_within(p: &mut [u64], mut budget: usize, ignore: u32) -> bool {
    for i in 1..p.len() {
        let x = p[i];
        let key = x >> ignore;
        let mut j = i;
        while j > 0 && p[j - 1] >> ignore > key {
            p[j] = p[j - 1];
            j -= 1;
        }
        p[j] = x;
        let moved = i - j;
        if moved > budget {
            return false;
        }
        budget -= moved;
    }
    true
}

/// What [`binary_metrics`] found.
#[derive(Debug)]
pub enum Fused {
    /// Every metric.
    Metrics(RiskMetrics),
    /// Residuals not all 0 or 1: the caller takes the general path.
    NotBinary,
    /// Screening found what the caller's own checks must report (NaN / infinity, residuals
    /// outside [0, 1] when checked); nothing was computed.
    Rejected,
}

/// Every metric of unlabelled samples through the fused sort path. Call it inside the pool,
/// for inputs of at least [`super::radix::RADIX_FROM`] samples. With `screen` (`Some(check
/// residual range)`), NaN, infinities and (when asked) residuals outside [0, 1] give
/// [`Fused::Rejected`] instead of an error, so that the caller's validation reports them.
///
/// # Errors
/// Empty input, length mismatch, too many samples, NaN (without `screen`).
pub fn binary_metrics(
    conf: &[f64],
    res: &[f64],
    t: Targets,
    screen: Option<bool>,
) -> Result<Fused> {
    check_inputs(conf, res, None)?;
    let n = conf.len();
    let scan = scan(conf, res);
    match screen {
        Some(check_range) if scan.nonfinite || (check_range && scan.out_of_range) => {
            return Ok(Fused::Rejected)
        }
        None if scan.nan => return Err(nan_error()),
        _ => {}
    }
    if !scan.binary {
        return Ok(Fused::NotBinary);
    }
    let setup = WalkSetup {
        n: n as f64,
        neg_total: scan.ones as f64,
        roc: true,
        calibration: scan.unit,
        targets: t,
    };
    let lo = scan.lo;
    let (shift, n_fine) = fine_bins(scan.lo, scan.hi);
    let fine = move |c: f64| (((!f64_key(c)) - lo) >> shift) as usize;
    let workers = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(workers).max(1);
    // Counting pass: a histogram of fine bins per chunk.
    let hist: Vec<Vec<u32>> = conf
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0u32; n_fine];
            for &x in c {
                h[fine(x)] += 1;
            }
            h
        })
        .collect();
    let (table, first) = merge_fine_bins(n_fine, BUCKET_TARGET, MAX_SPAN, |f| {
        hist.iter().map(|h| h[f] as usize).sum()
    });
    let n_buckets = first.len();
    let base: Vec<u64> = first.iter().map(|&f| lo + ((f as u64) << shift)).collect();
    let mut per_chunk = vec![vec![0usize; n_buckets]; hist.len()];
    for (c, h) in hist.iter().enumerate() {
        for (f, &x) in h.iter().enumerate() {
            per_chunk[c][table[f] as usize] += x as usize;
        }
    }
    drop(hist);
    let (offsets, starts) = bucket_offsets(&per_chunk, n_buckets, n);
    // Scatter pass: (key - bucket base) << 8 | residual byte, one u64 a sample; each chunk
    // counts the failures of each bucket on the way.
    // Kept between calls (`Scratch`): the scatter writes every word before any is read.
    let mut scratch = crate::alloc::Scratch::take(n);
    let packed = scratch.words();
    let out = Shared(packed.as_mut_ptr());
    let (table, base) = (&table, &base);
    let ones_per_chunk: Vec<Vec<u64>> = conf
        .par_chunks(chunk)
        .zip(res.par_chunks(chunk))
        .zip(offsets.into_par_iter())
        .map(move |((cc, rc), mut off)| {
            let out = out;
            let mut ones = vec![0u64; n_buckets];
            for (&c, &r) in cc.iter().zip(rc) {
                let key = !f64_key(c);
                let d = table[((key - lo) >> shift) as usize] as usize;
                let one = u64::from(r == 1.0);
                ones[d] += one;
                let j = off[d];
                off[d] = j + 1;
                // SAFETY: the ranges of distinct (chunk, bucket) pairs partition 0..n (the
                // offsets come from the counts of the same keys), so every write is in bounds
                // and no slot is written twice.
                unsafe {
                    *out.0.add(j) = ((key - base[d]) << RESIDUAL_BITS) | one;
                }
            }
            ones
        })
        .collect();
    // Exact prefix counts of every bucket (integers below 2^53).
    let mut before = Vec::with_capacity(n_buckets);
    let mut acc = 0u64;
    for d in 0..n_buckets {
        before.push(acc);
        acc += ones_per_chunk.iter().map(|o| o[d]).sum::<u64>();
    }
    let mut parts: Vec<(usize, &mut [u64])> = Vec::with_capacity(n_buckets);
    let mut rest = &mut packed[..];
    for d in 0..n_buckets {
        let (p, r) = rest.split_at_mut(starts[d + 1] - starts[d]);
        if !p.is_empty() {
            parts.push((d, p));
        }
        rest = r;
    }
    let walks: Vec<Walk> = parts
        .into_par_iter()
        .map_init(
            || (SortScratch::default(), GroupArrays::default()),
            |(scratch, groups), (d, p)| {
                sort_packed(p, scratch, RESIDUAL_BITS);
                let mut w = Walk::starting_at(setup, starts[d] as f64, before[d] as f64);
                let mut rest = &p[..];
                while !rest.is_empty() {
                    let mut e = PIECE.min(rest.len());
                    let key = |w: u64| w >> RESIDUAL_BITS;
                    while e < rest.len() && key(rest[e]) == key(rest[e - 1]) {
                        e += 1;
                    }
                    groups.fill_from_packed(&rest[..e], RESIDUAL_BITS, base[d]);
                    w.push_all(&groups.conf, &groups.count, &groups.sum);
                    rest = &rest[e..];
                }
                w
            },
        )
        .collect();
    let walk = walks
        .into_iter()
        .reduce(Walk::then)
        .unwrap_or_else(|| Walk::new(setup));
    let err = scan.ones as f64 / n as f64;
    Ok(Fused::Metrics(from_walk(
        &walk,
        err,
        optimal_binary(err),
        (f64::NAN, f64::NAN),
    )))
}

#[cfg(test)]
mod tests {
    use super::super::grouping::group_by_comparison_sort;
    use super::super::metrics::metrics_from_counts;
    use super::super::radix::RADIX_FROM;
    use super::*;
    use proptest::prelude::*;

    /// The plain path: groups by a comparison sort, then the serial walk.
    fn plain(conf: &[f64], res: &[f64], t: Targets) -> RiskMetrics {
        let g = group_by_comparison_sort(conf, res);
        let err = g.sum.iter().sum::<f64>() / g.count.iter().sum::<f64>();
        metrics_from_counts(
            &g.conf,
            &g.count,
            &g.sum,
            g.binary,
            optimal_binary(err),
            (f64::NAN, f64::NAN),
            t,
        )
    }

    fn compare(conf: &[f64], res: &[f64], t: Targets) {
        let Fused::Metrics(a) = binary_metrics(conf, res, t, None).expect("ok") else {
            panic!("binary inputs")
        };
        let b = plain(conf, res, t);
        for (j, (x, y)) in a.to_array().iter().zip(b.to_array()).enumerate() {
            let name = super::super::METRIC_NAMES[j];
            // Exact sums and selected points: the same bits; float sums: rounding only.
            let exact = matches!(
                name,
                "failure_auroc"
                    | "fpr_at_tpr"
                    | "selective_risk_at_coverage"
                    | "coverage_at_risk"
                    | "mean_risk"
                    | "aurc_optimal"
                    | "augrc_optimal"
                    | "n"
            );
            if exact {
                assert_eq!(x.to_bits(), y.to_bits(), "{name}: {x} vs {y}");
            } else {
                assert!(
                    (x - y).abs() <= 1e-12 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()),
                    "{name}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn sort_packed_sorts_every_layout() {
        let mut rng = crate::rng::Rng::new(21);
        let mut s = SortScratch::default();
        let n = 5000;
        let layouts: Vec<Vec<u64>> = vec![
            (0..n).map(|_| rng.next_u64() >> 8).collect(),
            (0..n).map(|_| rng.below(7) << 20).collect(),
            (0..n as u64).rev().collect(),
            vec![9; n],
            // One outlier: every other value shares its top 16 bits (the insertion pass runs
            // out of budget: the fallback sort).
            (0..n as u64)
                .map(|i| {
                    if i == 0 {
                        u64::MAX >> 8
                    } else {
                        (i * 7919) % 4999
                    }
                })
                .collect(),
            (0..40).map(|_| rng.below(100)).collect(),
            // Tied keys with random low (residual) bits.
            (0..n)
                .map(|_| (rng.below(50) << 8) | rng.below(256))
                .collect(),
            vec![3, 1],
        ];
        for v in layouts {
            let mut want = v.clone();
            want.sort_unstable();
            for ignore in [0, 1, 8] {
                let mut got = v.clone();
                sort_packed(&mut got, &mut s, ignore);
                // Ordered by the bits above `ignore`, and the same words.
                assert!(got.windows(2).all(|w| w[0] >> ignore <= w[1] >> ignore));
                if ignore == 0 {
                    assert_eq!(got, want);
                }
                got.sort_unstable();
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn nan_and_continuous_residuals() {
        let n = RADIX_FROM + 3;
        let conf: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let mut res: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let t = Targets::default();
        res[7] = 0.5;
        let fused = |r: &[f64], screen| binary_metrics(&conf, r, t, screen);
        assert!(matches!(fused(&res, None), Ok(Fused::NotBinary)));
        assert!(matches!(fused(&res, Some(true)), Ok(Fused::NotBinary)));
        res[7] = 1.5;
        assert!(matches!(fused(&res, Some(true)), Ok(Fused::Rejected)));
        assert!(matches!(fused(&res, Some(false)), Ok(Fused::NotBinary)));
        res[7] = f64::INFINITY;
        assert!(matches!(fused(&res, Some(false)), Ok(Fused::Rejected)));
        res[7] = f64::NAN;
        assert!(fused(&res, None).is_err());
        assert!(matches!(fused(&res, Some(false)), Ok(Fused::Rejected)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        /// The fused path against the comparison-sort path: all-distinct and tied confidences,
        /// -0.0 and 0.0, confidences outside [0, 1] (no calibration), one class only, skewed
        /// key ranges (one huge bucket).
        #[test]
        fn fused_path_matches_the_comparison_sort(
            seed in any::<u64>(),
            n in RADIX_FROM..(RADIX_FROM + 3000),
            kind in 0u8..5,
            p_fail in prop_oneof![Just(0.0f64), Just(1.0f64), 0.0f64..1.0],
            cov in 0.0f64..1.0,
        ) {
            let mut rng = crate::rng::Rng::new(seed);
            let conf: Vec<f64> = (0..n)
                .map(|i| match kind {
                    0 => rng.next_f64(),
                    1 => (rng.below(5000) as f64) / 5000.0,
                    2 => if i % 5 == 0 { -0.0 } else if i % 7 == 0 { 0.0 } else { rng.next_f64() },
                    3 => rng.next_f64() * 4.0 - 2.0,
                    _ => if i == 0 { 1e300 } else { 0.5 + rng.next_f64() * 1e-9 },
                })
                .collect();
            let res: Vec<f64> = (0..n).map(|_| f64::from(u8::from(rng.next_f64() < p_fail))).collect();
            let t = Targets { coverage: cov, ..Default::default() };
            compare(&conf, &res, t);
        }
    }
}
