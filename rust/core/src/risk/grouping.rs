//! Grouping of samples by distinct confidence: the only super-linear step of the metric family.
//!
//! With many ties (the common case: rounded softmax scores) and binary residuals it is a
//! parallel hash aggregation, O(n); otherwise a parallel sort. Chunks have a fixed size and are
//! merged in order, so results do not depend on the number of threads.
//!
//! Results do not depend on input order either (bit for bit): a group's residual sum is summed
//! in a fixed order. Sums of 0/1 residuals are exact integers in any order, so the binary paths
//! add samples as they come; continuous residuals are sorted within each group (ascending) and
//! summed in that order, so the sum is a function of the group's multiset of residuals only.
//!
//! Over 400 lines because both paths (hash and sort) and the per-class entries they fill share
//! one set of types and guarantees; a fifth of the file is tests.

use super::fused::{scan, scan_chunk, sort_counted, Digits, Scan};
use super::radix::{radix_sort_pairs, sort_pairs_by_key, RADIX_FROM};
use super::walk::{Walk, WalkSetup};
use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Samples of one confidence value each, in descending confidence order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups {
    /// Distinct confidence values, descending.
    pub conf: Vec<f64>,
    /// Number of samples per group (float so that bootstrap multiplicities reuse the code).
    pub count: Vec<f64>,
    /// Sum of residuals per group.
    pub sum: Vec<f64>,
    /// Per (group, class) counts for the class-balanced metrics, when labels are given.
    pub classes: Option<ClassEntries>,
    /// Whether every residual is exactly 0 or 1.
    pub binary: bool,
}

/// Per (group, class) counts and residual sums, grouped like CSR rows: group `j` owns entries
/// `start[j]..start[j + 1]`, in ascending class order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassEntries {
    /// Number of distinct classes K (class ids are `0..K`, in ascending label order).
    pub n_classes: usize,
    /// Entry offsets per group (length: groups + 1).
    pub start: Vec<usize>,
    /// Dense class id of each entry.
    pub class: Vec<u32>,
    /// Samples of each entry.
    pub count: Vec<f64>,
    /// Residual sum of each entry.
    pub sum: Vec<f64>,
}

/// Order-preserving map of a finite f64 to u64 (`-0.0` and `0.0` map to the same key).
#[inline]
pub fn f64_key(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Inverse of [`f64_key`].
#[inline]
pub fn key_f64(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Fixed chunk length of the hash path; fixed so that sums do not depend on the thread count.
const CHUNK: usize = 1 << 18;
const EMPTY: u64 = u64::MAX;

/// One slot of the open-addressing table: key and running sums side by side (one cache line).
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    count: f64,
    sum: f64,
}

impl Slot {
    const EMPTY: Self = Slot {
        key: EMPTY,
        count: 0.0,
        sum: 0.0,
    };
}

/// Open-addressing hash table (linear probing, load <= 1/2) from confidence key to sums. One is
/// kept per worker and cleared between chunks, so the hot loop never allocates.
struct GroupTable {
    slots: Vec<Slot>,
    shift: u32,
    len: usize,
}

#[inline(always)]
fn slot_of(key: u64, shift: u32) -> usize {
    ((key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl GroupTable {
    fn with_bits(bits: u32) -> Self {
        GroupTable {
            slots: vec![Slot::EMPTY; 1 << bits],
            shift: 64 - bits,
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.slots.fill(Slot::EMPTY);
        self.len = 0;
    }

    /// Add `count` samples with residual sum `sum` to `key`.
    #[inline]
    fn add(&mut self, key: u64, count: f64, sum: f64) {
        let mask = self.slots.len() - 1;
        let mut i = slot_of(key, self.shift);
        loop {
            let s = &mut self.slots[i];
            if s.key == key {
                s.count += count;
                s.sum += sum;
                return;
            }
            if s.key == EMPTY {
                *s = Slot { key, count, sum };
                self.len += 1;
                if self.len * 2 > self.slots.len() {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Add samples `from..` one at a time until the end or until the table must grow; returns
    /// the index reached. The hot loop works on locals (slice, mask, shift) only.
    #[inline(never)]
    fn add_run(
        &mut self,
        conf: &[f64],
        res: &[f64],
        from: usize,
        any_nan: &mut bool,
        binary: &mut bool,
    ) -> usize {
        let (mut nan, mut bin) = (*any_nan, *binary);
        let limit = self.slots.len() / 2;
        let shift = self.shift;
        let mut len = self.len;
        let slots = &mut self.slots[..];
        let mask = slots.len() - 1;
        let mut i = from;
        while i < conf.len() {
            let (c, r) = (conf[i], res[i]);
            // Bitwise ops: no extra branches in the hot loop.
            nan |= c.is_nan() | r.is_nan();
            bin &= (r == 0.0) | (r == 1.0);
            let key = f64_key(c);
            let mut j = slot_of(key, shift);
            loop {
                let s = &mut slots[j];
                if s.key == key {
                    s.count += 1.0;
                    s.sum += r;
                    break;
                }
                if s.key == EMPTY {
                    *s = Slot {
                        key,
                        count: 1.0,
                        sum: r,
                    };
                    len += 1;
                    break;
                }
                j = (j + 1) & mask;
            }
            i += 1;
            if len > limit {
                break;
            }
        }
        self.len = len;
        (*any_nan, *binary) = (nan, bin);
        i
    }

    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(self, GroupTable::with_bits(bits));
        for s in old.slots.into_iter().filter(|s| s.key != EMPTY) {
            self.add(s.key, s.count, s.sum);
        }
    }

    /// Occupied slots, in slot order.
    fn occupied(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.key != EMPTY)
    }
}

/// A chunk's occupied slots; `None` when the hash path does not apply to the chunk (too many
/// distinct values, or a continuous residual whose sums would depend on input order).
type ChunkResult = Result<Option<Vec<Slot>>>;

/// Hash-aggregate one chunk into `table` (cleared first).
/// `failed` is shared by all chunks: once one chunk finds that the hash path does not apply,
/// the others stop at their next table growth (or do not start), since the whole call then
/// falls back to the sort path; this only saves work, the outcome is the same.
fn aggregate_chunk(
    table: &mut GroupTable,
    conf: &[f64],
    res: &[f64],
    cap: usize,
    failed: &AtomicBool,
) -> ChunkResult {
    if failed.load(Ordering::Relaxed) {
        return Ok(None);
    }
    table.clear();
    let (mut any_nan, mut binary) = (false, true);
    let mut i = 0;
    while i < conf.len() {
        i = table.add_run(conf, res, i, &mut any_nan, &mut binary);
        if table.len > cap || !binary {
            failed.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        if failed.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if i < conf.len() {
            table.grow();
        }
    }
    if any_nan {
        return Err(nan_error());
    }
    Ok(Some(table.occupied().copied().collect()))
}

pub(crate) fn nan_error() -> CoreError {
    CoreError::InvalidValue("confids, residuals or labels contain NaN".into())
}

pub(crate) fn check_inputs(conf: &[f64], res: &[f64], labels: Option<&[f64]>) -> Result<()> {
    if conf.is_empty() {
        return Err(CoreError::Empty { name: "confids" });
    }
    if conf.len() != res.len() {
        return Err(CoreError::lengths(
            "confids and residuals differ in length",
            conf.len(),
            res.len(),
        ));
    }
    if let Some(l) = labels {
        if l.len() != conf.len() {
            return Err(CoreError::lengths(
                "confids and labels differ in length",
                conf.len(),
                l.len(),
            ));
        }
    }
    if conf.len() > u32::MAX as usize {
        return Err(CoreError::InvalidArgument(
            "confids: at most 2^32 - 1 samples are supported".into(),
        ));
    }
    Ok(())
}

/// Group samples by distinct confidence (descending), summing residuals per group; with
/// `labels` (class labels, any finite values) also per (group, class).
///
/// # Errors
/// Empty input, length mismatch, more than 2^32 - 1 samples, or NaN in any input.
pub fn group_by_confidence(conf: &[f64], res: &[f64], labels: Option<&[f64]>) -> Result<Groups> {
    check_inputs(conf, res, labels)?;
    if conf.len() < parallel::SERIAL_BELOW {
        // Small inputs stay on the caller's thread: handing them to the pool costs more than
        // the work (tens of microseconds a call, e.g. one call per group of a polars query).
        if labels.is_none() {
            let scan = scan_chunk(conf, res);
            if scan.nan {
                return Err(nan_error());
            }
            return Ok(groups_small(conf, res, &scan));
        }
        return Ok(group_by_sort(conf, res, labels, false)?.groups);
    }
    if labels.is_none() {
        if let Some(g) = parallel::install(|| hash_groups(conf, res))? {
            return Ok(g);
        }
    }
    Ok(parallel::install(|| group_by_sort(conf, res, labels, false))?.groups)
}

/// Groups plus, per sample, its group index and (with labels) its (group, class) entry index.
pub struct Grouped {
    /// The groups.
    pub groups: Groups,
    /// Group index of each sample.
    pub ids: Vec<u32>,
    /// Entry index of each sample (empty without labels).
    pub entry_ids: Vec<u32>,
}

/// Like [`group_by_confidence`], also returning each sample's group (and entry) index.
///
/// # Errors
/// As [`group_by_confidence`].
pub fn group_with_ids(conf: &[f64], res: &[f64], labels: Option<&[f64]>) -> Result<Grouped> {
    check_inputs(conf, res, labels)?;
    if conf.len() < parallel::SERIAL_BELOW {
        return group_by_sort(conf, res, labels, true); // as above: small inputs stay here
    }
    parallel::install(|| group_by_sort(conf, res, labels, true))
}

/// The hash path's groups when it applies (binary residuals, few distinct confidences, at
/// least two chunks), else `None`. Call it inside the pool.
///
/// # Errors
/// NaN.
pub(crate) fn hash_groups(conf: &[f64], res: &[f64]) -> Result<Option<Groups>> {
    if conf.len() < 2 * CHUNK || sample_all_distinct(conf) {
        return Ok(None);
    }
    group_by_hash(conf, res)
}

/// Samples of [`sample_all_distinct`].
const PROBE: usize = 4096;

/// Whether [`PROBE`] evenly spaced confidences are pairwise distinct (as bits). The hash path
/// applies only with at most `CHUNK / 4` distinct values a chunk; with so few, a probe of
/// 4096 holds some value twice except with odds below e^-100 (about 4096^2 / 2 / 65536 = 128
/// expected repeats). On all-distinct data the hash attempt (each worker inserting a quarter
/// chunk into a growing table before it gives up) cost 2% of a 10^7 call; the probe reads
/// 4096 values and sorts them.
fn sample_all_distinct(conf: &[f64]) -> bool {
    let step = conf.len() / PROBE;
    let mut probe: Vec<u64> = (0..PROBE).map(|i| conf[i * step].to_bits()).collect();
    probe.sort_unstable();
    probe.windows(2).all(|w| w[0] != w[1])
}

fn group_by_hash(conf: &[f64], res: &[f64]) -> Result<Option<Groups>> {
    let cap = CHUNK / 4;
    let failed = AtomicBool::new(false);
    let partials: Vec<ChunkResult> = conf
        .par_chunks(CHUNK)
        .enumerate()
        .map_init(
            || GroupTable::with_bits(12),
            |table, (ci, c)| {
                let lo = ci * CHUNK;
                aggregate_chunk(table, c, &res[lo..lo + c.len()], cap, &failed)
            },
        )
        .collect();
    // Merge in chunk order (binary sums are exact integers, so any order gives the same bits).
    let mut merged = GroupTable::with_bits(12);
    for p in partials {
        let Some(slots) = p? else {
            return Ok(None);
        };
        for s in slots {
            merged.add(s.key, s.count, s.sum);
        }
    }
    let mut slots: Vec<Slot> = merged.occupied().copied().collect();
    slots.sort_unstable_by_key(|s| std::cmp::Reverse(s.key));
    Ok(Some(Groups {
        conf: slots.iter().map(|s| key_f64(s.key)).collect(),
        count: slots.iter().map(|s| s.count).collect(),
        sum: slots.iter().map(|s| s.sum).collect(),
        classes: None,
        binary: true,
    }))
}

/// Sample indices sorted by `key` (then index: a total order).
fn sorted_by<K: Ord + Send>(n: usize, key: impl Fn(usize) -> K + Sync) -> Vec<u32> {
    let mut pairs: Vec<(K, u32)> = (0..n).map(|i| (key(i), i as u32)).collect();
    if n >= parallel::SERIAL_BELOW {
        pairs.par_sort_unstable();
    } else {
        pairs.sort_unstable();
    }
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// Dense class ids `0..K` of finite labels, in ascending label order, and K.
///
/// # Errors
/// NaN or infinite labels.
pub fn dense_classes(labels: &[f64]) -> Result<(Vec<u32>, usize)> {
    if labels.iter().any(|l| !l.is_finite()) {
        return Err(CoreError::InvalidValue(
            "labels must be finite class labels".into(),
        ));
    }
    let order = sorted_by(labels.len(), |i| f64_key(labels[i]));
    let mut ids = vec![0u32; labels.len()];
    let mut k = 0usize;
    let mut last = None;
    for &i in &order {
        let key = f64_key(labels[i as usize]);
        if last.is_some_and(|l| l != key) {
            k += 1;
        }
        last = Some(key);
        ids[i as usize] = k as u32;
    }
    Ok((ids, k + usize::from(last.is_some())))
}

/// The sample order of [`group_by_sort`] by a comparison sort (small inputs).
fn comparison_order(conf: &[f64], res: &[f64], cls: Option<&[u32]>, binary: bool) -> Vec<u32> {
    let n = conf.len();
    match (cls, binary) {
        (None, true) => sorted_by(n, |i| !f64_key(conf[i])),
        (None, false) => sorted_by(n, |i| (!f64_key(conf[i]), f64_key(res[i]))),
        (Some(cls), _) => sorted_by(n, |i| (!f64_key(conf[i]), cls[i], f64_key(res[i]))),
    }
}

/// The sample order of [`group_by_sort`] from the radix path: a stable radix sort on the
/// confidence key gives (confidence descending, index); runs of tied confidences are then
/// re-sorted by (class, residual key, index), the order the comparison path uses.
fn radix_order(conf: &[f64], res: &[f64], cls: Option<&[u32]>, binary: bool) -> Vec<u32> {
    let mut keys: Vec<u64> = conf.par_iter().map(|&c| !f64_key(c)).collect();
    let mut order: Vec<u32> = (0..conf.len() as u32).into_par_iter().collect();
    radix_sort_pairs(&mut keys, &mut order);
    drop(keys);
    if cls.is_some() || !binary {
        let tied = |a: &u32, b: &u32| f64_key(conf[*a as usize]) == f64_key(conf[*b as usize]);
        order.par_chunk_by_mut(tied).for_each(|run| {
            if run.len() > 1 {
                match cls {
                    Some(c) => {
                        run.sort_unstable_by_key(|&i| (c[i as usize], f64_key(res[i as usize]), i))
                    }
                    None => run.sort_unstable_by_key(|&i| (f64_key(res[i as usize]), i)),
                }
            }
        });
    }
    order
}

/// Groups without labels or sample ids: bucket-sort (confidence key, residual) pairs and walk
/// them, so no sample is gathered from a random position. Within a group the residuals are
/// summed in ascending key order (continuous) or as they come (binary: exact integer sums),
/// the sums the comparison path gives, bit for bit (`-0.0` and `0.0` residuals share a key
/// but add the same to a sum that starts at `0.0`).
fn groups_from_radix(conf: &[f64], res: &[f64], binary: bool) -> Groups {
    let mut keys: Vec<u64> = conf.par_iter().map(|&c| !f64_key(c)).collect();
    let mut g = Groups {
        binary,
        ..Default::default()
    };
    if binary {
        // 0/1 residuals travel as one byte (9 bytes a sample a pass instead of 16); a group's
        // sum is its count of ones, the exact integer the f64 additions give.
        let mut ones: Vec<u8> = res.par_iter().map(|&r| u8::from(r == 1.0)).collect();
        sort_pairs_by_key(&mut keys, &mut ones);
        for_each_run(&keys, |k, i, j| {
            let s: u64 = ones[i..j].iter().map(|&b| u64::from(b)).sum();
            g.conf.push(key_f64(!k));
            g.count.push((j - i) as f64);
            g.sum.push(s as f64);
        });
        return g;
    }
    let mut vals = res.to_vec();
    // Tied pairs may come out in any order: runs are re-sorted by residual below.
    sort_pairs_by_key(&mut keys, &mut vals);
    for_each_run(&keys, |k, i, j| {
        let run = &mut vals[i..j];
        if run.len() > 1 {
            run.sort_unstable_by_key(|&r| f64_key(r));
        }
        let mut s = 0.0;
        for &r in run.iter() {
            s += r;
        }
        g.conf.push(key_f64(!k));
        g.count.push((j - i) as f64);
        g.sum.push(s);
    });
    g
}

thread_local! {
    /// Buffers of the small-input path, kept per thread so that a query calling it once per
    /// group does not allocate per call.
    static SMALL: std::cell::RefCell<SmallBuffers> = std::cell::RefCell::new(SmallBuffers::default());
}

/// The sort buffers and the group arrays of the small-input path.
#[derive(Default)]
struct SmallBuffers {
    pairs: Vec<(u64, u64)>,
    words: Vec<u64>,
    scratch: super::fused::SortScratch,
    groups: GroupArrays,
    buckets: ValueBuckets,
}

/// Group arrays (confidence, count, residual sum) in a reusable buffer.
#[derive(Default)]
pub(crate) struct GroupArrays {
    pub(crate) conf: Vec<f64>,
    pub(crate) count: Vec<f64>,
    pub(crate) sum: Vec<f64>,
}

impl GroupArrays {
    /// The groups of sorted packed words: each word holds a descending confidence key minus
    /// `base` above its low `shift` bits and a 0/1 residual in its lowest bit. Runs of equal
    /// keys become groups without a branch per group (`g` steps by the comparison); counts
    /// and failures are small integers, exact in f64. Replaces the arrays' contents.
    pub(crate) fn fill_from_packed(&mut self, words: &[u64], shift: u32, base: u64) {
        let m = words.len();
        let mut distinct = true;
        for w in words.windows(2) {
            distinct &= w[0] >> shift != w[1] >> shift;
        }
        if distinct {
            // One group a word (all confidences distinct, the fused path's usual case): one
            // pass with no dependency between words.
            self.conf.clear();
            self.conf
                .extend(words.iter().map(|&w| key_f64(!((w >> shift) + base))));
            self.count.clear();
            self.count.resize(m, 1.0);
            self.sum.clear();
            self.sum.extend(words.iter().map(|&w| (w & 1) as f64));
            return;
        }
        for v in [&mut self.conf, &mut self.count, &mut self.sum] {
            v.clear();
            v.resize(m, 0.0);
        }
        let Some(first) = words.first() else {
            return;
        };
        // The open group's count and failures live in registers and are stored to its slot
        // at every word (the last store wins): no load of a slot just stored, whose
        // store-to-load latency chained the words of a group. The integers are exact in f64.
        let (mut g, mut cur, mut k_n, mut k_s) = (0, first >> shift, 0i64, 0i64);
        let (conf, count, sum) = (
            &mut self.conf[..m],
            &mut self.count[..m],
            &mut self.sum[..m],
        );
        for &w in words {
            let k = w >> shift;
            let keep = -i64::from(k == cur); // all ones within a group, 0 at a new one
            g += usize::from(k != cur);
            cur = k;
            k_n = (k_n & keep) + 1;
            k_s = (k_s & keep) + (w & 1) as i64;
            // SAFETY: `g` counts the key changes before this word, so it is at most the
            // word's index, below `m`, the length of the three slices.
            unsafe {
                // The key, parked in the confidence slot as bits, is converted below.
                *conf.get_unchecked_mut(g) = f64::from_bits(k);
                *count.get_unchecked_mut(g) = k_n as f64;
                *sum.get_unchecked_mut(g) = k_s as f64;
            }
        }
        for v in [&mut self.conf, &mut self.count, &mut self.sum] {
            v.truncate(g + 1);
        }
        for c in &mut self.conf {
            *c = key_f64(!(c.to_bits() + base));
        }
    }

    /// The groups of [`ValueBuckets`] when every bucket holds one key: the nonempty buckets
    /// in order, each with its word count and residual sum (exact integers in f64) and its
    /// confidence (`+ 0.0`: the key of `-0.0` and `0.0` alike, as [`f64_key`] gives).
    /// Branch-free: every bucket's values are written to the next slot, which advances past a
    /// nonempty one only. Leaves every bucket zeroed (for the next input).
    /// `n`: the words counted in all buckets (the caller's input length; not summed again).
    fn fill_from_buckets(&mut self, buckets: &mut [Bucket], n: usize) {
        let (conf, count, sum) = (
            spare(&mut self.conf, n + 1),
            spare(&mut self.count, n + 1),
            spare(&mut self.sum, n + 1),
        );
        let mut g = 0;
        for b in buckets {
            // An empty bucket's values are written and then overwritten (or left past the
            // end): slots below the final `g` hold the nonempty buckets' values.
            let at = g.min(n);
            conf[at].write(f64::from_bits(b.key) + 0.0);
            count[at].write(f64::from(b.count));
            sum[at].write(f64::from(b.ones));
            g += usize::from(b.count != 0);
            *b = Bucket::default();
        }
        // SAFETY: the loop wrote every slot below `g` (the slot of each nonempty bucket, in
        // order), and `g <= n` (the buckets hold `n` words) is within the reserved capacity.
        unsafe {
            self.conf.set_len(g);
            self.count.set_len(g);
            self.sum.set_len(g);
        }
    }
}

/// `v` emptied, with room for `len` values: its uninitialised slots, written before use
/// (no zeroing pass over memory that is overwritten anyway).
fn spare(v: &mut Vec<f64>, len: usize) -> &mut [std::mem::MaybeUninit<f64>] {
    v.clear();
    v.reserve(len);
    &mut v.spare_capacity_mut()[..len]
}

/// Groups of a small unlabelled input (see [`with_small_groups`]) as owned arrays.
fn groups_small(conf: &[f64], res: &[f64], scan: &Scan) -> Groups {
    with_small_groups(conf, res, scan, |c, k, s| Groups {
        binary: scan.binary,
        conf: c.to_vec(),
        count: k.to_vec(),
        sum: s.to_vec(),
        ..Default::default()
    })
}

/// Call `f(confidences, counts, residual sums)` with the groups of a small unlabelled input in
/// descending confidence order, from one comparison sort held in per-thread buffers: no index
/// permutation, no gather from random positions. Binary residuals (`scan.binary`: every
/// residual is 0 or 1) take the packed path when it applies ([`packed_groups`]); otherwise one sort of
/// (confidence key, residual key) pairs, whose residuals come out ascending within a group,
/// the order the comparison path sums them in, so the sums are the same bits (`-0.0` and `0.0`
/// share a key and add the same to a sum that starts at `0.0`).
fn with_small_groups<R>(
    conf: &[f64],
    res: &[f64],
    scan: &Scan,
    f: impl FnOnce(&[f64], &[f64], &[f64]) -> R,
) -> R {
    SMALL.with_borrow_mut(|b| {
        if !(scan.binary && packed_groups(conf, res, (scan.lo, scan.hi), b)) {
            pair_groups(conf, res, b);
        }
        f(&b.groups.conf, &b.groups.count, &b.groups.sum)
    })
}

/// The pair path of [`with_small_groups`].
fn pair_groups(conf: &[f64], res: &[f64], b: &mut SmallBuffers) {
    let pairs = &mut b.pairs;
    pairs.clear();
    pairs.extend(
        conf.iter()
            .zip(res)
            .map(|(&c, &r)| (!f64_key(c), f64_key(r))),
    );
    pairs.sort_unstable();
    let g = &mut b.groups;
    for v in [&mut g.conf, &mut g.count, &mut g.sum] {
        v.clear();
    }
    let mut i = 0;
    while i < pairs.len() {
        let k = pairs[i].0;
        let mut j = i;
        let mut s = 0.0;
        while j < pairs.len() && pairs[j].0 == k {
            s += key_f64(pairs[j].1);
            j += 1;
        }
        g.conf.push(key_f64(!k));
        g.count.push((j - i) as f64);
        g.sum.push(s);
        i = j;
    }
}

/// The groups of binary residuals from one sort of single words instead of pairs (half the
/// bytes moved, one compare per step): each word is the confidence's descending key minus the
/// smallest such key of the input, shifted left by one, with the residual (0 or 1) in the low
/// bit. The shift is lossless when the keys span less than 2^63, which holds for any input
/// that does not mix magnitudes above 2 of both signs (confidences in [-2, 2], any input of
/// one sign, ...); otherwise it returns `false` and the caller takes the pair path. From
/// [`COUNTING_SORT_FROM`] words on, confidences on a coarse grid take the groups from value
/// buckets without a sort ([`ValueBuckets`]: the 2000-group x 1000-row polars bench), others
/// sort by counting passes (linear time).
///
/// Same groups and same bits as the pair path: the words sort by confidence key (the
/// comparison sort by the whole word, the counting sort by the key alone: ties in any order),
/// and a group's residual sum is its exact count of ones, whatever the order, which is what
/// the pair path's `0.0 + ...` over 0/1 values gives (`-0.0` counts as 0 in both).
///
/// `(lo, hi)`: the smallest and largest `!f64_key` of the confidences (the caller's scan,
/// [`scan_chunk`]). The counting sort's histograms are filled as the words are
/// written, so the sort reads the words three times (two scatters, the insertion pass), not
/// five (with a min / max and a counting pass of its own).
fn packed_groups(conf: &[f64], res: &[f64], (lo, hi): (u64, u64), b: &mut SmallBuffers) -> bool {
    if conf.is_empty() || hi - lo >= 1 << 63 {
        return false;
    }
    let words = &mut b.words;
    words.clear();
    let pack = |(&c, &r): (&f64, &f64)| ((!f64_key(c) - lo) << 1) | u64::from(r == 1.0);
    if conf.len() < COUNTING_SORT_FROM {
        words.extend(conf.iter().zip(res).map(pack));
        words.sort_unstable();
    } else if b.buckets.groups(conf, res, (lo, hi), &mut b.groups) {
        return true;
    } else {
        let mut d = Digits::new(0, ((hi - lo) << 1) | 1);
        words.extend(conf.iter().zip(res).map(|p| {
            let w = pack(p);
            d.count(w);
            w
        }));
        sort_counted(words, &mut b.scratch, 1, &mut d);
    }
    b.groups.fill_from_packed(words, 1, lo);
    true
}

/// The groups of [`packed_groups`] without a sort when the confidences lie on a grid coarser
/// than the input's share of their range (3-decimal confidences, as in the polars bench, ...):
/// buckets of equal width in value between the smallest and the largest confidence, one per
/// word (a power of two, at least [`MIN_BUCKETS`]), each counting its words and failures and
/// keeping its key. The bucket of `c`, `min(((c_max - c) * scale) as usize, last)`, never decreases as `c`
/// decreases (a rounded subtraction and a rounded product by a positive factor are monotone),
/// so when no bucket holds two keys the nonempty buckets in order are the groups: one pass
/// over the input and one over the buckets, no sort.
///
/// Distinct confidences (a softmax's) put two keys in one bucket within the first few dozen
/// words (evenly spread ones after about `sqrt(pi / 2 * 2^k)` of them, any other spread
/// sooner): the pass stops at its next check (every 32 words), zeroes the buckets it wrote
/// and the caller sorts, having spent a few percent of the group's time. `tools/ab_builds.py`
/// against the sort alone, both orders: 3-decimal groups of 1,000 rows (`groups-1000`) 0.74
/// to 0.81 of the time; distinct ones 1.01-1.06 (`distinct-groups-1000`), crowded near 1
/// 1.00-1.02 (`crowded-groups-1000`); 300 rows on the 3-decimal grid ([`MIN_BUCKETS`]) 0.86 /
/// 0.93 (`groups-300`).
#[derive(Default)]
struct ValueBuckets {
    /// All zeros between calls: a call zeroes the buckets it wrote before it returns.
    buckets: Vec<Bucket>,
}

/// One bucket of [`ValueBuckets`], its fields side by side (one cache line a word).
#[derive(Clone, Copy, Default)]
struct Bucket {
    count: u32,
    /// Residuals equal to 1.
    ones: u32,
    /// The bits of the bucket's confidence; read only once the bucket has a word.
    key: u64,
}

impl ValueBuckets {
    /// Fill `groups` with the groups of `conf` and `res` (binary residuals; `(lo, hi)` the
    /// range of the descending keys): `false` (nothing written) when a bucket holds two keys,
    /// or the confidences' span is 0 or gives no finite scale.
    fn groups(
        &mut self,
        conf: &[f64],
        res: &[f64],
        (lo, hi): (u64, u64),
        groups: &mut GroupArrays,
    ) -> bool {
        let (c_max, c_min) = (key_f64(!lo), key_f64(!hi));
        // At least MIN_BUCKETS: a 3-decimal grid fits groups of 256-1023 rows too.
        let nb = conf.len().next_power_of_two().max(MIN_BUCKETS);
        let scale = nb as f64 / (c_max - c_min);
        if !(scale.is_finite() && scale > 0.0) {
            return false;
        }
        let last = nb - 1;
        // The table is all zeros between calls (see below): no clearing of 16 B a bucket.
        if self.buckets.len() < nb {
            self.buckets.resize(nb, Bucket::default());
        }
        let buckets = &mut self.buckets[..nb];
        // The product lies in [0, nb (1 + eps)]: `c` is finite and in [c_min, c_max], and the
        // span and the scale are finite (checked above). One conversion instruction, without
        // the NaN and saturation fix-ups of `as`.
        // SAFETY: the value is finite and within i64's range (see above).
        let bucket = |c: f64| {
            (unsafe { ((c_max - c) * scale).to_int_unchecked::<i64>() } as usize).min(last)
        };
        // Checked every `CHECK` words, so that distinct confidences stop after a few dozen
        // (the first collision of evenly spread ones comes after about sqrt(pi / 2 * nb)).
        const CHECK: usize = 32;
        let mut read = 0;
        for (c, r) in conf.chunks(CHECK).zip(res.chunks(CHECK)) {
            let mut mixed = false;
            for (&c, &r) in c.iter().zip(r) {
                // The bits themselves are the key: equal confidences have equal bits, but for
                // `-0.0` and `0.0`, whose shared bucket then counts as a collision (the sort
                // takes the input, as for any other).
                let key = c.to_bits();
                let b = &mut buckets[bucket(c)];
                // `&`, not `&&`: no branch on whether the bucket is new (a coin toss).
                mixed |= (b.count != 0) & (b.key != key);
                b.count += 1;
                // A binary residual is 0.0, -0.0 or 1.0: the low exponent bit is 1 for 1.0 only.
                b.ones += (r.to_bits() >> 52) as u32 & 1;
                b.key = key;
            }
            read += c.len();
            if mixed {
                for &c in &conf[..read] {
                    buckets[bucket(c)] = Bucket::default();
                }
                return false;
            }
        }
        groups.fill_from_buckets(buckets, conf.len());
        true
    }
}

/// The fewest buckets of [`ValueBuckets`] (the table is kept zeroed between calls, so a
/// larger one costs its fill pass only, and only when the input lies on a grid).
const MIN_BUCKETS: usize = 1024;

/// Words from which [`packed_groups`] sorts by counting passes ([`sort_counted`]: linear,
/// its two histograms (256 and 512 entries) a fixed cost) rather than by comparisons.
const COUNTING_SORT_FROM: usize = 256;

/// The groups of a small unlabelled input walked from the per-thread group arrays of
/// [`with_small_groups`] (no allocation per call), given the caller's scan of the input
/// ([`super::fused::scan_chunk`]: the residuals' kind and the key range): the finished walk
/// and the total residual, the sum of the group sums in group order (`Iterator::sum`), so
/// that every value is the bit of `metrics_from_counts` on [`groups_small`]'s groups. With 0/1
/// residuals that sum is exact, every partial sum an integer: the scan's count of ones, taken
/// as it is (a serial chain of additions a group cost a 1,000-row group about 4% of its time).
pub(crate) fn walk_small(conf: &[f64], res: &[f64], scan: &Scan, setup: WalkSetup) -> (Walk, f64) {
    with_small_groups(conf, res, scan, |c, k, s| {
        let mut w = Walk::new(setup);
        w.push_all(c, k, s);
        let total: f64 = if scan.binary {
            scan.ones as f64
        } else {
            s.iter().sum()
        };
        (w, total)
    })
}

/// Call `f(key, start, end)` for each run of equal keys of sorted `keys`, in order.
fn for_each_run(keys: &[u64], mut f: impl FnMut(u64, usize, usize)) {
    let n = keys.len();
    let mut i = 0;
    while i < n {
        let k = keys[i];
        let mut j = i + 1;
        while j < n && keys[j] == k {
            j += 1;
        }
        f(k, i, j);
        i = j;
    }
}

pub(crate) fn group_by_sort(
    conf: &[f64],
    res: &[f64],
    labels: Option<&[f64]>,
    want_ids: bool,
) -> Result<Grouped> {
    let n = conf.len();
    let Scan {
        nan: any_nan,
        binary,
        ..
    } = scan(conf, res);
    if any_nan {
        return Err(nan_error());
    }
    let classes = labels.map(dense_classes).transpose()?;
    if classes.is_none() && !want_ids && n >= RADIX_FROM {
        return Ok(Grouped {
            groups: groups_from_radix(conf, res, binary),
            ids: Vec::new(),
            entry_ids: Vec::new(),
        });
    }
    // Confidence descending; within a group, by class and then residual ascending, so that
    // every sum below is summed in an order fixed by the values alone.
    let order = if n >= RADIX_FROM {
        radix_order(conf, res, classes.as_ref().map(|c| &c.0[..]), binary)
    } else {
        comparison_order(conf, res, classes.as_ref().map(|c| &c.0[..]), binary)
    };
    Ok(groups_from_order(
        conf, res, classes, binary, &order, want_ids,
    ))
}

/// Groups (and sample ids) from the samples in group order.
fn groups_from_order(
    conf: &[f64],
    res: &[f64],
    classes: Option<(Vec<u32>, usize)>,
    binary: bool,
    order: &[u32],
    want_ids: bool,
) -> Grouped {
    let n = conf.len();
    let mut g = Groups {
        binary,
        classes: classes.as_ref().map(|(_, k)| ClassEntries {
            n_classes: *k,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut ids = if want_ids { vec![0u32; n] } else { Vec::new() };
    let want_entries = want_ids && classes.is_some();
    let mut entry_ids = if want_entries {
        vec![0u32; n]
    } else {
        Vec::new()
    };
    let mut last = None;
    let mut last_class = u32::MAX;
    for &i in order {
        let i = i as usize;
        let k = f64_key(conf[i]);
        let new_group = last != Some(k);
        if new_group {
            last = Some(k);
            g.conf.push(conf[i]);
            g.count.push(0.0);
            g.sum.push(0.0);
        }
        let j = g.conf.len() - 1;
        g.count[j] += 1.0;
        g.sum[j] += res[i];
        if want_ids {
            ids[i] = j as u32;
        }
        if let (Some(e), Some((cls, _))) = (g.classes.as_mut(), &classes) {
            let c = cls[i];
            if new_group {
                e.start.push(e.class.len());
            }
            if new_group || c != last_class {
                e.class.push(c);
                e.count.push(0.0);
                e.sum.push(0.0);
                last_class = c;
            }
            let x = e.class.len() - 1;
            e.count[x] += 1.0;
            e.sum[x] += res[i];
            if want_entries {
                entry_ids[i] = x as u32;
            }
        }
    }
    if let Some(e) = g.classes.as_mut() {
        e.start.push(e.class.len());
    }
    // The group's confidence is the first sample's value; -0.0 and 0.0 share a group, so
    // normalise through the key to keep it independent of which came first.
    for c in g.conf.iter_mut() {
        *c = key_f64(f64_key(*c));
    }
    Grouped {
        groups: g,
        ids,
        entry_ids,
    }
}

/// Unlabelled groups by the plain comparison sort, whatever the size (the oracle of the
/// faster paths' tests).
#[cfg(test)]
pub(crate) fn group_by_comparison_sort(conf: &[f64], res: &[f64]) -> Groups {
    let binary = scan(conf, res).binary;
    let order = comparison_order(conf, res, None, binary);
    groups_from_order(conf, res, None, binary, &order, false).groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_sort_of_small_groups_handles_one_and_two_keys() {
        // From COUNTING_SORT_FROM rows the packed path sorts by counting passes; a single
        // confidence (key range 0) and two confidences must give the comparison path's groups.
        let n = COUNTING_SORT_FROM + 44;
        let res: Vec<f64> = (0..n).map(|i| ((i * 7) % 3 == 0) as u8 as f64).collect();
        for conf in [vec![0.3; n], (0..n).map(|i| [0.3, -0.0][i % 2]).collect()] {
            let a = groups_small(&conf, &res, &scan_chunk(&conf, &res));
            assert_eq!(a, group_by_comparison_sort(&conf, &res));
        }
    }

    #[test]
    fn value_buckets_match_the_comparison_sort_on_grids_and_collisions() {
        // The bucket path of the packed groups (`ValueBuckets`): distinct confidences crowded
        // into one bucket by a far outlier (a collision within the probe), a grid whose
        // collision comes after the probe, infinities and a subnormal span (no finite scale),
        // a grid of negative values with -0.0 and 0.0 (one bucket, two bit patterns: a
        // collision, so the sort's groups), and a grid with -0.0 but no 0.0 (the bucket path,
        // whose group of -0.0 must come out as the sort's 0.0).
        let n = COUNTING_SORT_FROM + 700;
        let mut rng = crate::rng::Rng::new(3);
        let res: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
        let crowded: Vec<f64> = (0..n)
            .map(|i| {
                if i == 5 {
                    0.0
                } else {
                    0.999 + rng.next_f64() * 1e-3
                }
            })
            .collect();
        let infinite: Vec<f64> = (0..n)
            .map(|i| [f64::INFINITY, f64::NEG_INFINITY, 0.5, 0.25][i % 4])
            .collect();
        let subnormal: Vec<f64> = (0..n).map(|i| [0.0, 5e-324][i % 2]).collect();
        let signed: Vec<f64> = (0..n)
            .map(|_| [-0.0, 0.0, -0.5, 0.75][rng.below(4) as usize] * (rng.below(3) as f64))
            .collect();
        let late: Vec<f64> = (0..n)
            .map(|i| match i {
                0..=599 => [0.0, 0.5, 1.0][i % 3],
                _ => 0.5 + i as f64 * 1e-9,
            })
            .collect();
        let negative_zero: Vec<f64> = (0..n)
            .map(|_| [-0.0, 0.25, 0.5, 1.0][rng.below(4) as usize])
            .collect();
        let probe = |conf: &[f64]| {
            let scan = scan_chunk(conf, &res);
            let mut b = SmallBuffers::default();
            b.buckets
                .groups(conf, &res, (scan.lo, scan.hi), &mut b.groups)
        };
        assert!(probe(&negative_zero) && probe(&late[..600]));
        assert!(!probe(&signed) && !probe(&late) && !probe(&crowded));
        for conf in [crowded, late, infinite, subnormal, signed, negative_zero] {
            let a = groups_small(&conf, &res, &scan_chunk(&conf, &res));
            let b = group_by_comparison_sort(&conf, &res);
            assert_eq!(a.conf.len(), b.conf.len());
            for j in 0..a.conf.len() {
                assert_eq!(a.conf[j].to_bits(), b.conf[j].to_bits());
                assert_eq!((a.count[j], a.sum[j]), (b.count[j], b.sum[j]));
            }
        }
    }

    #[test]
    fn hash_and_sort_paths_agree() {
        let n = 3 * CHUNK + 17;
        let mut rng = crate::rng::Rng::new(5);
        let conf: Vec<f64> = (0..n).map(|_| (rng.below(1000) as f64) / 1000.0).collect();
        let res: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
        let a = group_by_hash(&conf, &res)
            .expect("ok")
            .expect("few distinct");
        let b = group_by_sort(&conf, &res, None, false).expect("ok").groups;
        assert_eq!(a, b);
    }

    #[test]
    fn many_distinct_or_continuous_falls_back_to_sort() {
        let n = 2 * CHUNK;
        let conf: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let res: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        assert!(group_by_hash(&conf, &res).expect("ok").is_none());
        let g = group_by_confidence(&conf, &res, None).expect("ok");
        assert_eq!(g.conf.len(), n);
        assert_eq!(g.conf[0], (n - 1) as f64);
        let few: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let cont: Vec<f64> = (0..n).map(|i| (i % 7) as f64 / 7.0).collect();
        assert!(group_by_hash(&few, &cont).expect("ok").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The small-input pair path equals the comparison path bit for bit: ties, -0.0 and
        /// 0.0 in both columns, binary and continuous residuals, one-sample inputs.
        #[test]
        fn small_pair_path_matches_comparison_path(
            seed in proptest::prelude::any::<u64>(),
            n in 1usize..1500,
            levels in 1u64..40,
            continuous in proptest::prelude::any::<bool>(),
        ) {
            let mut rng = crate::rng::Rng::new(seed);
            // +-1e300 together span more than 2^63 keys: the pair path for binary residuals.
            let specials = [-0.0, 0.0, 1.0, -1.5, 1e300, -1e300];
            let wide = rng.below(2) == 0;
            let conf: Vec<f64> = (0..n)
                .map(|_| match rng.below(10) {
                    0 => specials[rng.below(if wide { 6 } else { 4 }) as usize],
                    _ => rng.below(levels) as f64 / 7.0,
                })
                .collect();
            let res: Vec<f64> = (0..n)
                .map(|_| match (continuous, rng.below(8)) {
                    (true, 0) => -0.0,
                    (true, _) => rng.next_f64() * 3.0 - 1.0,
                    (false, _) => rng.below(2) as f64,
                })
                .collect();
            let a = groups_small(&conf, &res, &scan_chunk(&conf, &res));
            let b = group_by_sort(&conf, &res, None, false).expect("ok").groups;
            proptest::prop_assert_eq!(a.conf.len(), b.conf.len());
            for j in 0..a.conf.len() {
                proptest::prop_assert_eq!(a.conf[j].to_bits(), b.conf[j].to_bits());
                proptest::prop_assert_eq!(a.count[j].to_bits(), b.count[j].to_bits());
                proptest::prop_assert_eq!(a.sum[j].to_bits(), b.sum[j].to_bits());
            }
            proptest::prop_assert_eq!(a.binary, b.binary);
            proptest::prop_assert_eq!(&group_by_confidence(&conf, &res, None).expect("ok"), &b);
        }
    }

    #[test]
    fn a_failed_chunk_anywhere_stops_the_hash_path() {
        // Tied chunks first, an all-distinct chunk last: the shared flag must not turn a
        // failure into a partial result, and NaN in a skipped chunk is still reported (by the
        // sort path the call falls back to).
        let n = 4 * CHUNK;
        let mut conf: Vec<f64> = (0..n).map(|i| (i % 5) as f64).collect();
        for (i, c) in conf[3 * CHUNK..].iter_mut().enumerate() {
            *c = 10.0 + i as f64;
        }
        let res: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        assert!(group_by_hash(&conf, &res).expect("ok").is_none());
        let g = group_by_confidence(&conf, &res, None).expect("ok");
        assert_eq!(
            g,
            group_by_sort(&conf, &res, None, false).expect("ok").groups
        );
        let mut distinct_first = conf.clone();
        distinct_first.rotate_left(3 * CHUNK);
        distinct_first[n - 1] = f64::NAN;
        assert!(group_by_confidence(&distinct_first, &res, None).is_err());
    }

    #[test]
    fn the_probe_skips_the_hash_path_on_distinct_data_only() {
        let n = 2 * CHUNK + 7;
        let res: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
        let distinct: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        assert!(sample_all_distinct(&distinct));
        assert!(hash_groups(&distinct, &res).expect("ok").is_none());
        // CHUNK / 4 values, scattered: every chunk holds each about four times (the most the
        // hash path takes), and the probe finds repeats.
        let levels = (CHUNK / 4) as u64;
        let tied: Vec<f64> = (0..n as u64)
            .map(|i| ((i * 7919) % levels) as f64)
            .collect();
        assert!(!sample_all_distinct(&tied));
        let g = hash_groups(&tied, &res)
            .expect("ok")
            .expect("the hash path applies");
        assert_eq!(
            g,
            group_by_sort(&tied, &res, None, false).expect("ok").groups
        );
    }

    #[test]
    fn parallel_input_scan_matches_the_serial_one() {
        let n = 3 * CHUNK + 5;
        let conf: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut res: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let facts = |s: Scan| (s.nan, s.binary, s.unit, s.lo, s.hi, s.ones);
        let both = |c: &[f64], r: &[f64]| {
            let (par, serial) = (facts(scan(c, r)), facts(scan_chunk(c, r)));
            assert_eq!(par, serial);
            (par.0, par.1)
        };
        assert_eq!(both(&conf, &res), (false, true));
        res[2 * CHUNK + 1] = 0.5;
        assert_eq!(both(&conf, &res), (false, false));
        let mut c2 = conf.clone();
        c2[n - 1] = f64::NAN;
        assert_eq!(both(&c2, &res), (true, false));
        assert_eq!(both(&c2[..10], &res[..10]), (false, true));
    }

    #[test]
    fn radix_paths_match_the_comparison_sort() {
        // Sizes over the radix cutoff; ties, continuous and binary residuals (with -0.0 and
        // 0.0), labels: the radix order equals the comparison order, and the pair path gives
        // the groups of the order path, bit for bit.
        let n = RADIX_FROM + 999;
        let mut rng = crate::rng::Rng::new(11);
        for levels in [0u64, 7, 3000] {
            let conf: Vec<f64> = (0..n)
                .map(|_| match levels {
                    0 => rng.next_f64() * 2.0 - 1.0,
                    l => rng.below(l) as f64 / l as f64 - 0.5,
                })
                .collect();
            let cont: Vec<f64> = (0..n)
                .map(|i| match i % 5 {
                    0 => -0.0,
                    1 => 0.0,
                    _ => (rng.below(50) as f64) / 7.0,
                })
                .collect();
            let bin: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
            let (cls, _) = dense_classes(&bin).expect("ok");
            for (res, binary) in [(&cont, false), (&bin, true)] {
                for c in [None, Some(&cls[..])] {
                    assert_eq!(
                        radix_order(&conf, res, c, binary),
                        comparison_order(&conf, res, c, binary)
                    );
                }
                let by_order = group_by_sort(&conf, res, None, true).expect("ok").groups;
                let by_pairs = groups_from_radix(&conf, res, binary);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
                assert_eq!(bits(&by_order.conf), bits(&by_pairs.conf));
                assert_eq!(bits(&by_order.count), bits(&by_pairs.count));
                assert_eq!(bits(&by_order.sum), bits(&by_pairs.sum));
            }
        }
    }

    #[test]
    fn class_entries_follow_groups_and_classes() {
        let conf = [0.5, 0.9, 0.5, 0.5, 0.9];
        let res = [1.0, 0.0, 0.0, 1.0, 1.0];
        let labels = [7.0, 3.0, 3.0, 7.0, 7.0];
        let gr = group_with_ids(&conf, &res, Some(&labels)).expect("ok");
        let e = gr.groups.classes.as_ref().expect("labels");
        assert_eq!(e.n_classes, 2);
        assert_eq!(e.start, vec![0, 2, 4]);
        assert_eq!(e.class, vec![0, 1, 0, 1]);
        assert_eq!(e.count, vec![1.0, 1.0, 1.0, 2.0]);
        assert_eq!(e.sum, vec![0.0, 1.0, 0.0, 2.0]);
        assert_eq!(gr.entry_ids, vec![3, 0, 2, 3, 1]);
        assert_eq!(gr.ids, vec![1, 0, 1, 1, 0]);
    }

    #[test]
    fn dense_classes_follow_label_order() {
        let (ids, k) = dense_classes(&[5.0, -1.0, 5.0, 2.0]).expect("ok");
        assert_eq!((ids, k), (vec![2, 0, 2, 1], 3));
        assert!(dense_classes(&[f64::NAN]).is_err());
        assert_eq!(dense_classes(&[]).expect("ok"), (vec![], 0));
    }

    #[test]
    fn key_roundtrip_and_order() {
        let xs = [
            -3.5,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for &x in &xs {
            assert_eq!(key_f64(f64_key(x)), if x == 0.0 { 0.0 } else { x });
        }
        assert!(f64_key(-1.0) < f64_key(0.0));
        assert!(f64_key(0.0) < f64_key(1e-300));
        assert_eq!(f64_key(-0.0), f64_key(0.0));
    }
}
