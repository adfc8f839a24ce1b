//! Parallel LSD radix sort of (u64 key, payload) pairs: the all-distinct sort path.
//!
//! Keys are order-preserving maps of f64 confidences ([`super::f64_key`]: the sign fix flips
//! every bit of a negative value and only the sign bit of a positive one), so sorting the u64
//! keys sorts the values. The sort is stable, so pairs whose payload is the sample index come
//! out in (key, index) order: exactly the order `sort_unstable` gives on `(key, index)` tuples,
//! whatever the thread count (a stable sort has one result).
//!
//! Six passes of 11-bit digits (the last one 9 bits); a pass whose digit is the same for every
//! key (e.g. the sign and top exponent bits of confidences in [0, 1]) is skipped. Each pass
//! splits the input into one fixed chunk per worker, counts digits per chunk, and scatters each
//! chunk to its own precomputed offsets, so workers never write the same slot.

use rayon::prelude::*;

const BITS: u32 = 11;
const BUCKETS: usize = 1 << BITS;
const PASSES: u32 = 64_u32.div_ceil(BITS);

/// Below this many pairs a comparison sort on one thread is faster than the radix passes.
pub const RADIX_FROM: usize = 1 << 16;

#[inline(always)]
fn digit(k: u64, pass: u32) -> usize {
    ((k >> (pass * BITS)) as usize) & (BUCKETS - 1)
}

/// A raw pointer the scatter workers share; each writes disjoint slots (offsets from the
/// prefix sums), which is what makes the unsynchronised writes sound.
#[derive(Clone, Copy)]
pub(crate) struct Shared<T>(pub(crate) *mut T);
// SAFETY: only used for writes to disjoint indices, see `scatter`.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Shared<T> {}

/// Sort `keys` ascending, moving `vals` along (stable). Both must have the same length.
pub fn radix_sort_pairs<P: Copy + Send + Sync + Default>(keys: &mut Vec<u64>, vals: &mut Vec<P>) {
    let n = keys.len();
    assert_eq!(n, vals.len(), "keys and payloads differ in length");
    if n < RADIX_FROM {
        let mut pairs: Vec<(u64, usize)> = keys.iter().copied().zip(0..n).collect();
        pairs.sort_unstable();
        let old = vals.clone();
        for (j, (k, i)) in pairs.into_iter().enumerate() {
            keys[j] = k;
            vals[j] = old[i];
        }
        return;
    }
    let workers = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(workers);
    // Which passes move anything: the total count of each digit does not depend on the order,
    // so one read of the keys decides it for every pass.
    let totals = keys
        .par_chunks(chunk)
        .map(|c| {
            let mut first = [0usize; PASSES as usize];
            let mut same = [true; PASSES as usize];
            for p in 0..PASSES {
                first[p as usize] = digit(c[0], p);
            }
            for &k in c {
                for p in 0..PASSES {
                    same[p as usize] &= digit(k, p) == first[p as usize];
                }
            }
            (first, same)
        })
        .collect::<Vec<_>>();
    let moving: Vec<u32> = (0..PASSES)
        .filter(|&p| {
            let p = p as usize;
            !totals
                .iter()
                .all(|(first, same)| same[p] && first[p] == totals[0].0[p])
        })
        .collect();
    if moving.is_empty() {
        return;
    }
    let mut keys2: Vec<u64> = crate::alloc::huge_zeroed(n);
    let mut vals2 = vec![P::default(); n];
    for &pass in &moving {
        scatter(keys, vals, &mut keys2, &mut vals2, pass, chunk);
        std::mem::swap(keys, &mut keys2);
        std::mem::swap(vals, &mut vals2);
    }
}

/// One stable counting-sort pass on digit `pass` from (`keys`, `vals`) into (`ko`, `vo`).
fn scatter<P: Copy + Send + Sync>(
    keys: &[u64],
    vals: &[P],
    ko: &mut [u64],
    vo: &mut [P],
    pass: u32,
    chunk: usize,
) {
    let counts: Vec<Vec<usize>> = keys
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0usize; BUCKETS];
            for &k in c {
                h[digit(k, pass)] += 1;
            }
            h
        })
        .collect();
    // Offsets: digit-major, chunk-minor, which keeps equal digits in input order (stability).
    let mut offsets = vec![vec![0usize; BUCKETS]; counts.len()];
    let mut at = 0usize;
    for d in 0..BUCKETS {
        for (c, h) in counts.iter().enumerate() {
            offsets[c][d] = at;
            at += h[d];
        }
    }
    let (kp, vp) = (Shared(ko.as_mut_ptr()), Shared(vo.as_mut_ptr()));
    keys.par_chunks(chunk)
        .zip(vals.par_chunks(chunk))
        .zip(offsets.into_par_iter())
        .for_each(move |((kc, vc), mut off)| {
            let (kp, vp) = (kp, vp);
            for (&k, &v) in kc.iter().zip(vc) {
                let d = digit(k, pass);
                let j = off[d];
                off[d] = j + 1;
                // SAFETY: `j` < n (the offsets partition 0..n), and the ranges
                // `offsets[c][d]..offsets[c][d] + counts[c][d]` of distinct (chunk, digit)
                // pairs are disjoint, so no two writes (across workers too) hit one slot.
                unsafe {
                    *kp.0.add(j) = k;
                    *vp.0.add(j) = v;
                }
            }
        });
}

/// Fine bins of the counting pass of [`scatter_buckets`]: the top 16 bits of `key - lo`.
const FINE_BITS: u32 = 16;

/// Pairs a bucket of [`scatter_buckets`] aims at: consecutive fine bins are merged into
/// buckets of about this many pairs (36 KiB of 9-byte pairs), which a comparison sort handles
/// inside the L2 cache.
pub const BUCKET_TARGET: usize = 4096;

/// Sort `keys` ascending, moving `vals` along, with no guarantee on the order of pairs with
/// equal keys (callers whose results do not depend on it: sums of 0/1 payloads, or runs that
/// are re-sorted by payload afterwards).
///
/// One parallel scatter pass into buckets balanced by a histogram of the keys
/// ([`scatter_buckets`]), then each bucket is sorted on its own thread in cache: six full
/// passes over memory become one. A bucket too large to sort in cache (many equal keys) goes
/// through [`radix_sort_pairs`] instead.
pub fn sort_pairs_by_key<P: Copy + Send + Sync + Default>(keys: &mut Vec<u64>, vals: &mut Vec<P>) {
    let n = keys.len();
    assert_eq!(n, vals.len(), "keys and payloads differ in length");
    if n < RADIX_FROM {
        return radix_sort_pairs(keys, vals);
    }
    let (lo, hi) = keys
        .par_iter()
        .fold(|| (u64::MAX, 0u64), |(a, b), &k| (a.min(k), b.max(k)))
        .reduce(|| (u64::MAX, 0u64), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    if hi == lo {
        return;
    }
    let mut b = scatter_buckets(keys, vals, lo, hi, |_| 0);
    b.parts()
        .into_par_iter()
        .for_each_init(Vec::new, |buf, (k, v)| sort_bucket(k, v, buf));
    *keys = b.keys;
    *vals = b.vals;
}

/// Pairs scattered into buckets of consecutive key ranges: bucket `d` holds
/// `starts[d]..starts[d + 1]`, unsorted inside, and `weights[d]` is the sum of the weight of
/// its payloads (e.g. its count of 0/1 residuals equal to 1). Equal keys share a bucket.
pub struct Buckets<P> {
    /// Keys, bucket after bucket.
    pub keys: Vec<u64>,
    /// Payloads, moved with the keys.
    pub vals: Vec<P>,
    /// Start of each bucket, and `n` at the end.
    pub starts: Vec<usize>,
    /// Weight of each bucket.
    pub weights: Vec<u64>,
}

impl<P> Buckets<P> {
    /// The buckets as disjoint mutable (keys, payloads) slices, in bucket order.
    pub fn parts(&mut self) -> Vec<(&mut [u64], &mut [P])> {
        let mut out = Vec::with_capacity(self.starts.len().saturating_sub(1));
        let (mut krest, mut vrest) = (&mut self.keys[..], &mut self.vals[..]);
        for w in self.starts.windows(2) {
            let len = w[1] - w[0];
            let (k, kr) = krest.split_at_mut(len);
            let (v, vr) = vrest.split_at_mut(len);
            out.push((k, v));
            (krest, vrest) = (kr, vr);
        }
        out
    }
}

/// Scatter (`keys`, `vals`) into buckets of the range `lo..=hi` of the keys (which must hold
/// every key), balanced by the data: the counting pass histograms the top [`FINE_BITS`] bits of
/// `key - lo` per chunk, consecutive fine bins are merged into buckets of about
/// [`BUCKET_TARGET`] pairs (so f64 keys, dense in a few exponents, still spread evenly), and
/// one parallel pass scatters each chunk to its own precomputed offsets. `weight` is summed
/// per bucket in the counting pass. The buckets are a function of the keys' multiset only.
pub fn scatter_buckets<P: Copy + Send + Sync + Default>(
    keys: &[u64],
    vals: &[P],
    lo: u64,
    hi: u64,
    weight: impl Fn(P) -> u64 + Sync,
) -> Buckets<P> {
    let n = keys.len();
    assert_eq!(n, vals.len(), "keys and payloads differ in length");
    let (shift, n_fine) = fine_bins(lo, hi);
    let fine = move |k: u64| ((k - lo) >> shift) as usize;
    let workers = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(workers).max(1);
    // Per chunk: pairs and weight of each fine bin (u32 counts: n < 2^32, checked upstream).
    let counts: Vec<(Vec<u32>, Vec<u64>)> = keys
        .par_chunks(chunk)
        .zip(vals.par_chunks(chunk))
        .map(|(c, v)| {
            let mut h = vec![0u32; n_fine];
            let mut w = vec![0u64; n_fine];
            for (&k, &p) in c.iter().zip(v) {
                let d = fine(k);
                h[d] += 1;
                w[d] += weight(p);
            }
            (h, w)
        })
        .collect();
    let (table, first) = merge_fine_bins(n_fine, BUCKET_TARGET, usize::MAX, |f| {
        counts.iter().map(|(h, _)| h[f] as usize).sum()
    });
    let n_buckets = first.len();
    // Offsets: bucket-major, chunk-minor.
    let mut per_chunk = vec![vec![0usize; n_buckets]; counts.len()];
    let mut weights = vec![0u64; n_buckets];
    for (c, (h, w)) in counts.iter().enumerate() {
        for f in 0..n_fine {
            let b = table[f] as usize;
            per_chunk[c][b] += h[f] as usize;
            weights[b] += w[f];
        }
    }
    drop(counts);
    let (offsets, starts) = bucket_offsets(&per_chunk, n_buckets, n);
    let mut ko: Vec<u64> = crate::alloc::huge_zeroed(n);
    let mut vo = vec![P::default(); n];
    let (kp, vp) = (Shared(ko.as_mut_ptr()), Shared(vo.as_mut_ptr()));
    let table = &table;
    keys.par_chunks(chunk)
        .zip(vals.par_chunks(chunk))
        .zip(offsets.into_par_iter())
        .for_each(move |((kc, vc), mut off)| {
            let (kp, vp) = (kp, vp);
            for (&k, &v) in kc.iter().zip(vc) {
                let d = table[fine(k)] as usize;
                let j = off[d];
                off[d] = j + 1;
                // SAFETY: as in `scatter`: the ranges of distinct (chunk, bucket) pairs
                // partition 0..n, so every write is in bounds and no slot is written twice.
                unsafe {
                    *kp.0.add(j) = k;
                    *vp.0.add(j) = v;
                }
            }
        });
    Buckets {
        keys: ko,
        vals: vo,
        starts,
        weights,
    }
}

/// Scatter offsets of a bucket pass, bucket-major and chunk-minor: `offsets[c][d]` is where
/// chunk `c` writes its first sample of bucket `d`, `starts[d]` where bucket `d` begins
/// (`starts[n_buckets] = n`), from the per-chunk bucket counts.
pub(crate) fn bucket_offsets(
    per_chunk: &[Vec<usize>],
    n_buckets: usize,
    n: usize,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut offsets = vec![vec![0usize; n_buckets]; per_chunk.len()];
    let mut starts = Vec::with_capacity(n_buckets + 1);
    let mut at = 0usize;
    for d in 0..n_buckets {
        starts.push(at);
        for (c, h) in per_chunk.iter().enumerate() {
            offsets[c][d] = at;
            at += h[d];
        }
    }
    starts.push(n);
    (offsets, starts)
}

/// Merge consecutive fine bins (`count(f)` pairs in bin `f`) into buckets of about `target`
/// pairs, each spanning at most `max_span` fine bins: the bucket of every fine bin, and the
/// first fine bin of every bucket. A function of the counts only (not of the thread count).
pub fn merge_fine_bins(
    n_fine: usize,
    target: usize,
    max_span: usize,
    count: impl Fn(usize) -> usize,
) -> (Vec<u32>, Vec<usize>) {
    let mut table = vec![0u32; n_fine];
    let mut first = vec![0usize];
    let mut filled = 0usize;
    for (f, t) in table.iter_mut().enumerate() {
        let c = count(f);
        let start = *first.last().expect("one bucket at least");
        if f > start && ((filled > 0 && filled + c > target) || f - start >= max_span) {
            first.push(f);
            filled = 0;
        }
        filled += c;
        *t = (first.len() - 1) as u32;
    }
    (table, first)
}

/// The fine bin of a key, for keys in `lo..=hi`: the top [`FINE_BITS`] bits of `key - lo`
/// (shift, number of fine bins).
pub fn fine_bins(lo: u64, hi: u64) -> (u32, usize) {
    let shift = (64 - (hi - lo).leading_zeros()).saturating_sub(FINE_BITS);
    (shift, (((hi - lo) >> shift) as usize) + 1)
}

/// Sort one bucket by key (ties in any order) with the caller's pair buffer: a comparison sort
/// in cache, or [`radix_sort_pairs`] for a bucket too large for the cache (skewed keys).
pub fn sort_bucket<P: Copy + Send + Sync + Default>(
    k: &mut [u64],
    v: &mut [P],
    buf: &mut Vec<(u64, P)>,
) {
    if k.len() < 2 {
        return;
    }
    if k.len() >= RADIX_FROM {
        let (mut kk, mut vv) = (k.to_vec(), v.to_vec());
        radix_sort_pairs(&mut kk, &mut vv);
        k.copy_from_slice(&kk);
        v.copy_from_slice(&vv);
        return;
    }
    buf.clear();
    buf.extend(k.iter().copied().zip(v.iter().copied()));
    buf.sort_unstable_by_key(|p| p.0);
    for (j, &(kk, vv)) in buf.iter().enumerate() {
        k[j] = kk;
        v[j] = vv;
    }
}

#[cfg(test)]
mod tests {
    use super::super::f64_key;
    use super::*;
    use proptest::prelude::*;

    fn check(keys: Vec<u64>) {
        let n = keys.len();
        let mut want: Vec<(u64, u32)> = keys.iter().copied().zip(0..n as u32).collect();
        want.sort_unstable();
        let mut k = keys;
        let mut v: Vec<u32> = (0..n as u32).collect();
        radix_sort_pairs(&mut k, &mut v);
        let got: Vec<(u64, u32)> = k.into_iter().zip(v).collect();
        assert!(got == want, "radix order differs from (key, index) order");
    }

    #[test]
    fn large_random_and_special_values() {
        let mut rng = crate::rng::Rng::new(3);
        let specials = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            0.5,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        let n = 3 * RADIX_FROM + 11;
        let keys: Vec<u64> = (0..n)
            .map(|i| {
                let x = if i % 7 == 0 {
                    specials[rng.below(specials.len() as u64) as usize]
                } else {
                    (rng.next_f64() - 0.3) * 10f64.powi(rng.below(40) as i32 - 20)
                };
                f64_key(x)
            })
            .collect();
        check(keys);
        // Every pass but the lowest skipped; all-equal keys (every pass skipped).
        check((0..n as u64).map(|i| (i * 7919) % 2048).collect());
        check(vec![42; n]);
    }

    #[test]
    fn f64_order_matches_total_cmp() {
        // The keys' order is the values' total order (NaN excluded: grouping rejects it), with
        // -0.0 and 0.0 one key.
        let mut rng = crate::rng::Rng::new(9);
        let n = RADIX_FROM + 5;
        let xs: Vec<f64> = (0..n)
            .map(|_| f64::from_bits(rng.next_u64()))
            .filter(|x| !x.is_nan())
            .chain([-0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY])
            .collect();
        let mut k: Vec<u64> = xs.iter().map(|&x| f64_key(x)).collect();
        let mut v: Vec<u32> = (0..xs.len() as u32).collect();
        radix_sort_pairs(&mut k, &mut v);
        let mut want = xs.clone();
        want.sort_unstable_by(f64::total_cmp);
        let got: Vec<f64> = v.iter().map(|&i| xs[i as usize]).collect();
        for (g, w) in got.iter().zip(&want) {
            let zero = *g == 0.0 && *w == 0.0;
            assert!(zero || g.to_bits() == w.to_bits(), "{g} vs {w}");
        }
    }

    /// [`sort_pairs_by_key`]: keys come out in the comparison sort's order, and the pairs are
    /// the input pairs (as a multiset), whatever the ties.
    fn check_unstable(keys: Vec<u64>) {
        let n = keys.len();
        let mut want: Vec<(u64, u32)> = keys.iter().copied().zip(0..n as u32).collect();
        want.sort_unstable();
        let mut k = keys;
        let mut v: Vec<u32> = (0..n as u32).collect();
        sort_pairs_by_key(&mut k, &mut v);
        let mut got: Vec<(u64, u32)> = k.iter().copied().zip(v).collect();
        assert!(k.windows(2).all(|w| w[0] <= w[1]), "keys not sorted");
        got.sort_unstable();
        assert!(got == want, "pairs differ from the input pairs");
    }

    #[test]
    fn bucketed_sort_on_skewed_and_tied_keys() {
        let n = 3 * RADIX_FROM + 11;
        // One huge bucket (all but a few keys tied near one value), all equal, few levels.
        let mut skew: Vec<u64> = (0..n as u64).map(|i| 1_000_000 + (i % 97)).collect();
        skew[0] = u64::MAX;
        skew[1] = 0;
        check_unstable(skew);
        check_unstable(vec![7; n]);
        check_unstable((0..n as u64).map(|i| (i * 7919) % 5).collect());
        check_unstable((0..n as u64).rev().collect());
    }

    /// `n` NaN-free f64 keys from `seed`: any bit pattern (`levels == 0`, specials included)
    /// or `levels` distinct small integers (many ties).
    fn random_keys(seed: u64, n: usize, levels: u64) -> Vec<u64> {
        let mut rng = crate::rng::Rng::new(seed);
        (0..n)
            .map(|_| {
                let x = if levels == 0 {
                    f64::from_bits(rng.next_u64())
                } else {
                    rng.below(levels) as f64 - 7.0
                };
                f64_key(if x.is_nan() { -0.0 } else { x })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn bucketed_sort_matches_sort_unstable(
            seed in any::<u64>(),
            n in (RADIX_FROM - 3)..(RADIX_FROM + 5000),
            levels in prop_oneof![Just(0u64), 1u64..50],
        ) {
            let keys = random_keys(seed, n, levels);
            check_unstable(keys);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Radix order == `sort_unstable` on (key, index) == `total_cmp` order of the values,
        /// with NaN-free specials (-0.0, infinities, denormals) mixed in; sizes straddle the
        /// comparison-sort cutoff.
        #[test]
        fn radix_matches_sort_unstable(
            seed in any::<u64>(),
            n in (RADIX_FROM - 3)..(RADIX_FROM + 2000),
            levels in prop_oneof![Just(0u64), 1u64..50],
        ) {
            let keys = random_keys(seed, n, levels);
            check(keys);
        }
    }
}
