//! Risk-coverage curves and the selective-classification metric family.
//!
//! Convention (fd-shifts' current one): samples are grouped by distinct confidence; a group is
//! accepted or rejected as a whole. Curve points, in order of descending coverage: one per
//! distinct confidence (the lowest gives coverage 1 and SR = GR = mean residual), then an end
//! point at coverage 0 where SR repeats its last value and GR is 0. Areas use the trapezoid rule.
//!
//! Everything here is computed from [`Groups`]: distinct confidences in descending order with the
//! count and residual sum of each group. Grouping is the only super-linear step. With many ties
//! (the common case: rounded softmax scores) it is a parallel hash aggregation, O(n); otherwise a
//! parallel sort of (key, index) pairs. Chunks have a fixed size and are merged in order, so
//! floating sums, and therefore results, do not depend on the number of threads.

use crate::calibration::calibration_from_groups;
use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;

/// Samples of one confidence value each, in descending confidence order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups {
    /// Distinct confidence values, descending.
    pub conf: Vec<f64>,
    /// Number of samples per group (float so that bootstrap multiplicities reuse the code).
    pub count: Vec<f64>,
    /// Sum of residuals per group.
    pub sum: Vec<f64>,
    /// Sum of the secondary (e.g. class-balanced) residuals per group, when given.
    pub sum2: Option<Vec<f64>>,
    /// Whether every residual is exactly 0 or 1.
    pub binary: bool,
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

/// One slot of the open-addressing table: key and running sums side by side, so an update
/// touches one cache line. `N` is the number of secondary residual sums (0 or 1), so the
/// common case stays at 24 bytes a slot.
#[derive(Clone, Copy)]
struct Slot<const N: usize> {
    key: u64,
    count: f64,
    sum: f64,
    extra: [f64; N],
}

impl<const N: usize> Slot<N> {
    const EMPTY: Self = Slot {
        key: EMPTY,
        count: 0.0,
        sum: 0.0,
        extra: [0.0; N],
    };
}

/// Open-addressing hash table (linear probing, load <= 1/2) from confidence key to sums. One is
/// kept per worker and cleared between chunks, so the hot loop never allocates.
struct GroupTable<const N: usize> {
    slots: Vec<Slot<N>>,
    shift: u32,
    len: usize,
}

impl<const N: usize> GroupTable<N> {
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

    /// Add `count` samples with sums `sum` / `extra` to `key`; true when `key` was new.
    #[inline]
    fn add(&mut self, key: u64, count: f64, sum: f64, extra: [f64; N]) -> bool {
        let mask = self.slots.len() - 1;
        let mut i =
            ((key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            let s = &mut self.slots[i];
            if s.key == key {
                s.count += count;
                s.sum += sum;
                for (a, b) in s.extra.iter_mut().zip(extra) {
                    *a += b;
                }
                return false;
            }
            if s.key == EMPTY {
                *s = Slot {
                    key,
                    count,
                    sum,
                    extra,
                };
                self.len += 1;
                if self.len * 2 > self.slots.len() {
                    self.grow();
                }
                return true;
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
        extra: [&[f64]; N],
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
            let mut j = ((key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
            loop {
                let s = &mut slots[j];
                if s.key == key {
                    s.count += 1.0;
                    s.sum += r;
                    for (a, v) in s.extra.iter_mut().zip(extra) {
                        *a += v[i];
                    }
                    break;
                }
                if s.key == EMPTY {
                    *s = Slot {
                        key,
                        count: 1.0,
                        sum: r,
                        extra: extra.map(|v| v[i]),
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
            self.add(s.key, s.count, s.sum, s.extra);
        }
    }

    /// Occupied slots, in slot order.
    fn occupied(&self) -> impl Iterator<Item = &Slot<N>> {
        self.slots.iter().filter(|s| s.key != EMPTY)
    }
}

/// A chunk's occupied slots and whether its residuals were all binary; `None` when the chunk
/// held too many distinct values.
type ChunkResult<const N: usize> = Result<Option<(Vec<Slot<N>>, bool)>>;

/// Hash-aggregate one chunk into `table` (cleared first); returns the occupied slots, or
/// `None` when the chunk holds more than `cap` distinct values (the sort path is then better).
fn aggregate_chunk<const N: usize>(
    table: &mut GroupTable<N>,
    conf: &[f64],
    res: &[f64],
    res2: [&[f64]; N],
    cap: usize,
) -> ChunkResult<N> {
    table.clear();
    let (mut any_nan, mut binary) = (false, true);
    {
        let mut i = 0;
        while i < conf.len() {
            i = table.add_run(conf, res, res2, i, &mut any_nan, &mut binary);
            if table.len > cap {
                return Ok(None);
            }
            if i < conf.len() {
                table.grow();
            }
        }
    }
    if any_nan || res2.iter().any(|v| v.iter().any(|x| x.is_nan())) {
        return Err(CoreError::InvalidValue(
            "confids or residuals contain NaN".into(),
        ));
    }
    Ok(Some((table.occupied().copied().collect(), binary)))
}

fn check_inputs(conf: &[f64], res: &[f64], res2: Option<&[f64]>) -> Result<()> {
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
    if let Some(r2) = res2 {
        if r2.len() != conf.len() {
            return Err(CoreError::lengths(
                "confids and secondary residuals differ in length",
                conf.len(),
                r2.len(),
            ));
        }
    }
    Ok(())
}

/// Group samples by distinct confidence (descending), summing residuals per group.
///
/// # Errors
/// Empty input, length mismatch, or NaN in `conf`, `res` or `res2`.
pub fn group_by_confidence(conf: &[f64], res: &[f64], res2: Option<&[f64]>) -> Result<Groups> {
    check_inputs(conf, res, res2)?;
    let n = conf.len();
    if n >= 2 * CHUNK {
        if let Some(g) = parallel::install(|| group_by_hash(conf, res, res2))? {
            return Ok(g);
        }
    }
    let (groups, _) = parallel::install(|| group_by_sort(conf, res, res2, false))?;
    Ok(groups)
}

/// Like [`group_by_confidence`], also returning each sample's group index.
///
/// # Errors
/// As [`group_by_confidence`].
pub fn group_with_ids(
    conf: &[f64],
    res: &[f64],
    res2: Option<&[f64]>,
) -> Result<(Groups, Vec<u32>)> {
    check_inputs(conf, res, res2)?;
    if conf.len() > u32::MAX as usize {
        return Err(CoreError::InvalidArgument(
            "at most 2^32 - 1 samples are supported here".into(),
        ));
    }
    parallel::install(|| group_by_sort(conf, res, res2, true))
}

fn group_by_hash(conf: &[f64], res: &[f64], res2: Option<&[f64]>) -> Result<Option<Groups>> {
    match res2 {
        None => group_by_hash_n::<0>(conf, res, []),
        Some(r2) => group_by_hash_n::<1>(conf, res, [r2]),
    }
}

fn group_by_hash_n<const N: usize>(
    conf: &[f64],
    res: &[f64],
    res2: [&[f64]; N],
) -> Result<Option<Groups>> {
    let cap = CHUNK / 4;
    let partials: Vec<ChunkResult<N>> = conf
        .par_chunks(CHUNK)
        .enumerate()
        .map_init(
            || GroupTable::<N>::with_bits(12),
            |table, (ci, c)| {
                let lo = ci * CHUNK;
                let hi = lo + c.len();
                aggregate_chunk(table, c, &res[lo..hi], res2.map(|r| &r[lo..hi]), cap)
            },
        )
        .collect();
    // Merge in chunk order: deterministic floating sums whatever the thread count.
    let mut merged = GroupTable::<N>::with_bits(12);
    let mut binary = true;
    for p in partials {
        let Some((slots, b)) = p? else {
            return Ok(None);
        };
        binary &= b;
        for s in slots {
            merged.add(s.key, s.count, s.sum, s.extra);
        }
    }
    let mut slots: Vec<Slot<N>> = merged.occupied().copied().collect();
    slots.sort_unstable_by_key(|s| std::cmp::Reverse(s.key));
    Ok(Some(Groups {
        conf: slots.iter().map(|s| key_f64(s.key)).collect(),
        count: slots.iter().map(|s| s.count).collect(),
        sum: slots.iter().map(|s| s.sum).collect(),
        sum2: (N == 1).then(|| slots.iter().map(|s| s.extra[0]).collect()),
        binary,
    }))
}

fn group_by_sort(
    conf: &[f64],
    res: &[f64],
    res2: Option<&[f64]>,
    want_ids: bool,
) -> Result<(Groups, Vec<u32>)> {
    let n = conf.len();
    let mut any_nan = false;
    let mut binary = true;
    for i in 0..n {
        any_nan |= conf[i].is_nan() | res[i].is_nan();
        binary &= res[i] == 0.0 || res[i] == 1.0;
    }
    if let Some(r2) = res2 {
        any_nan |= r2.iter().any(|x| x.is_nan());
    }
    if any_nan {
        return Err(CoreError::InvalidValue(
            "confids or residuals contain NaN".into(),
        ));
    }
    // (key descending, index ascending): a total order, so sums are summed in one fixed order.
    let mut pairs: Vec<(u64, u32)> = (0..n).map(|i| (!f64_key(conf[i]), i as u32)).collect();
    if n >= parallel::SERIAL_BELOW {
        pairs.par_sort_unstable();
    } else {
        pairs.sort_unstable();
    }
    let mut g = Groups {
        binary,
        sum2: res2.map(|_| Vec::new()),
        ..Default::default()
    };
    let mut ids = if want_ids { vec![0u32; n] } else { Vec::new() };
    let mut last = None;
    for &(k, i) in &pairs {
        let i = i as usize;
        if last != Some(k) {
            last = Some(k);
            g.conf.push(key_f64(!k));
            g.count.push(0.0);
            g.sum.push(0.0);
            if let Some(s2) = g.sum2.as_mut() {
                s2.push(0.0);
            }
        }
        let j = g.conf.len() - 1;
        g.count[j] += 1.0;
        g.sum[j] += res[i];
        if let (Some(s2), Some(r2)) = (g.sum2.as_mut(), res2) {
            s2[j] += r2[i];
        }
        if want_ids {
            ids[i] = j as u32;
        }
    }
    Ok((g, ids))
}

/// The risk-coverage curve: coverages (descending, ending at 0), selective risks, generalized
/// risks and thresholds (`+inf` for the coverage-0 end point).
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Coverage of each point, from 1 down to 0.
    pub coverages: Vec<f64>,
    /// Selective risk (mean residual of the accepted samples).
    pub selective_risks: Vec<f64>,
    /// Generalized risk (sum of accepted residuals / n).
    pub generalized_risks: Vec<f64>,
    /// Acceptance threshold of each point (accept `conf >= t`).
    pub thresholds: Vec<f64>,
}

/// Curve points from groups, in plotting order (coverage descending).
pub fn curve_from_groups(g: &Groups) -> Curve {
    let n: f64 = g.count.iter().sum();
    let k = g.conf.len();
    let mut cov = Vec::with_capacity(k + 1);
    let mut sr = Vec::with_capacity(k + 1);
    let mut gr = Vec::with_capacity(k + 1);
    let mut th = Vec::with_capacity(k + 1);
    let (mut cn, mut cs) = (0.0, 0.0);
    for j in 0..k {
        cn += g.count[j];
        cs += g.sum[j];
        cov.push(cn / n);
        sr.push(cs / cn);
        gr.push(cs / n);
        th.push(g.conf[j]);
    }
    cov.reverse();
    sr.reverse();
    gr.reverse();
    th.reverse();
    cov.push(0.0);
    sr.push(*sr.last().unwrap_or(&0.0));
    gr.push(0.0);
    th.push(f64::INFINITY);
    Curve {
        coverages: cov,
        selective_risks: sr,
        generalized_risks: gr,
        thresholds: th,
    }
}

/// Parameters of the metrics that take a target.
#[derive(Clone, Copy, Debug)]
pub struct Targets {
    /// TPR for `fpr_at_tpr` (0.95: points with TPR >= 0.9495 count, as in fd-shifts).
    pub tpr: f64,
    /// Coverage for `selective_risk_at_coverage`.
    pub coverage: f64,
    /// Risk for `coverage_at_risk`.
    pub risk: f64,
    /// Equal-width bins of ECE / MCE.
    pub bins: usize,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            tpr: 0.95,
            coverage: 0.95,
            risk: 0.05,
            bins: 20,
        }
    }
}

/// Names of [`RiskMetrics::to_array`]'s entries, in order.
pub const METRIC_NAMES: [&str; 18] = [
    "aurc",
    "augrc",
    "aurc_optimal",
    "augrc_optimal",
    "eaurc",
    "eaugrc",
    "naurc",
    "failure_auroc",
    "fpr_at_tpr",
    "selective_risk_at_coverage",
    "coverage_at_risk",
    "aurc_ba",
    "augrc_ba",
    "mean_risk",
    "ece",
    "mce",
    "failure_nll",
    "n",
];

/// The whole metric family of one (confids, residuals) set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RiskMetrics {
    pub aurc: f64,
    pub augrc: f64,
    pub aurc_optimal: f64,
    pub augrc_optimal: f64,
    pub eaurc: f64,
    pub eaugrc: f64,
    pub naurc: f64,
    /// NaN for continuous residuals or a single class.
    pub failure_auroc: f64,
    /// NaN for continuous residuals or a single class.
    pub fpr_at_tpr: f64,
    pub selective_risk_at_coverage: f64,
    /// NaN when no curve point reaches the target risk.
    pub coverage_at_risk: f64,
    /// NaN without secondary residuals.
    pub aurc_ba: f64,
    /// NaN without secondary residuals.
    pub augrc_ba: f64,
    pub mean_risk: f64,
    /// NaN when a confidence lies outside [0, 1].
    pub ece: f64,
    /// NaN when a confidence lies outside [0, 1].
    pub mce: f64,
    /// NaN when a confidence lies outside [0, 1].
    pub failure_nll: f64,
    pub n: f64,
}

impl RiskMetrics {
    /// Values in the order of [`METRIC_NAMES`].
    pub fn to_array(&self) -> [f64; 18] {
        [
            self.aurc,
            self.augrc,
            self.aurc_optimal,
            self.augrc_optimal,
            self.eaurc,
            self.eaugrc,
            self.naurc,
            self.failure_auroc,
            self.fpr_at_tpr,
            self.selective_risk_at_coverage,
            self.coverage_at_risk,
            self.aurc_ba,
            self.augrc_ba,
            self.mean_risk,
            self.ece,
            self.mce,
            self.failure_nll,
            self.n,
        ]
    }
}

/// Trapezoid integration of SR and GR over curve points added in ascending coverage.
struct Areas {
    n: f64,
    cn: f64,
    cs: f64,
    prev: Option<(f64, f64, f64)>,
    aurc: f64,
    augrc: f64,
}

impl Areas {
    fn new(n: f64) -> Self {
        Areas {
            n,
            cn: 0.0,
            cs: 0.0,
            prev: None,
            aurc: 0.0,
            augrc: 0.0,
        }
    }

    /// Accept `count` more samples with residual sum `sum`: one more curve point.
    #[inline]
    fn push(&mut self, count: f64, sum: f64) {
        self.cn += count;
        self.cs += sum;
        let (c, sr, gr) = (self.cn / self.n, self.cs / self.cn, self.cs / self.n);
        match self.prev {
            // Segment from the coverage-0 end point, where SR repeats this first value.
            None => {
                self.aurc += c * sr;
                self.augrc += c * gr * 0.5;
            }
            Some((pc, psr, pgr)) => {
                self.aurc += (c - pc) * (sr + psr) * 0.5;
                self.augrc += (c - pc) * (gr + pgr) * 0.5;
            }
        }
        self.prev = Some((c, sr, gr));
    }
}

/// (AURC, AUGRC) by the trapezoid rule over grouped points, in one pass. Empty groups (zero
/// count, as bootstrap resamples produce) are skipped.
pub fn areas(count: &[f64], sum: &[f64]) -> (f64, f64) {
    let mut a = Areas::new(count.iter().sum());
    for (&k, &s) in count.iter().zip(sum) {
        if k != 0.0 {
            a.push(k, s);
        }
    }
    (a.aurc, a.augrc)
}

/// Optimal (AURC, AUGRC) for binary residuals with error rate `err` (analytic, as fd-shifts,
/// with its machine-epsilon guard inside the log).
pub fn optimal_binary(err: f64) -> (f64, f64) {
    (
        err + (1.0 - err) * (1.0 - err + f64::EPSILON).ln(),
        0.5 * err * err,
    )
}

/// Optimal (AURC, AUGRC) for continuous residuals: the oracle ranking, one point per sample
/// (residuals ascending, no tie groups). `sorted` must be ascending; `mult` gives each sorted
/// sample's multiplicity (bootstrap), `None` meaning 1.
pub fn optimal_continuous(sorted: &[f64], mult: Option<&[u32]>) -> (f64, f64) {
    let n: f64 = match mult {
        Some(m) => m.iter().map(|&x| x as f64).sum(),
        None => sorted.len() as f64,
    };
    let mut a = Areas::new(n);
    for (j, &r) in sorted.iter().enumerate() {
        for _ in 0..mult.map_or(1, |m| m[j]) {
            a.push(1.0, r);
        }
    }
    (a.aurc, a.augrc)
}

/// Failure AUROC (correct = positive, ties count 1/2) and the smallest FPR among ROC points with
/// TPR >= `tpr` - 0.0005, from binary groups in descending confidence order. NaN when only one
/// class is present.
pub fn roc_from_groups(count: &[f64], sum: &[f64], tpr: f64) -> (f64, f64) {
    let neg_total: f64 = sum.iter().sum();
    let pos_total: f64 = count.iter().sum::<f64>() - neg_total;
    if pos_total <= 0.0 || neg_total <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    // Walk from the most confident group: failures seen so far rank above later positives.
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut auc_num = 0.0; // sum over positives of (#negatives ranked below + ties / 2)
    let mut fpr_at = f64::NAN;
    let tpr_min = tpr - 0.0005;
    for j in 0..count.len() {
        let neg = sum[j];
        let pos = count[j] - neg;
        // negatives strictly below this group's confidence: neg_total - fp - neg
        auc_num += pos * ((neg_total - fp - neg) + 0.5 * neg);
        tp += pos;
        fp += neg;
        if fpr_at.is_nan() && tp / pos_total >= tpr_min {
            fpr_at = fp / neg_total;
        }
    }
    (auc_num / (pos_total * neg_total), fpr_at)
}

/// min SR over points with coverage >= `target`, and max coverage over points with SR <= `risk`.
pub fn working_points(count: &[f64], sum: &[f64], target_cov: f64, risk: f64) -> (f64, f64) {
    let n: f64 = count.iter().sum();
    let (mut cn, mut cs) = (0.0, 0.0);
    let mut best_sr = f64::INFINITY;
    let mut best_cov = f64::NAN;
    let mut first_sr = f64::NAN;
    for j in 0..count.len() {
        if count[j] == 0.0 {
            continue;
        }
        cn += count[j];
        cs += sum[j];
        let (c, sr) = (cn / n, cs / cn);
        if first_sr.is_nan() {
            first_sr = sr;
        }
        if c >= target_cov && sr < best_sr {
            best_sr = sr;
        }
        if sr <= risk && (best_cov.is_nan() || c > best_cov) {
            best_cov = c;
        }
    }
    // The coverage-0 end point (SR = first SR) counts for a target coverage of 0.
    if target_cov <= 0.0 && first_sr < best_sr {
        best_sr = first_sr;
    }
    if best_sr.is_infinite() {
        best_sr = f64::NAN;
    }
    (best_sr, best_cov)
}

/// Every metric from grouped data. `optimal` is (AURC*, AUGRC*) of the oracle ranking.
pub fn metrics_from_counts(
    conf: &[f64],
    count: &[f64],
    sum: &[f64],
    sum2: Option<&[f64]>,
    binary: bool,
    optimal: (f64, f64),
    t: Targets,
) -> RiskMetrics {
    let n: f64 = count.iter().sum();
    let err = sum.iter().sum::<f64>() / n;
    let (aurc, augrc) = areas(count, sum);
    let (ao, go) = optimal;
    let (failure_auroc, fpr_at_tpr) = if binary {
        roc_from_groups(count, sum, t.tpr)
    } else {
        (f64::NAN, f64::NAN)
    };
    let (sr_at, cov_at) = working_points(count, sum, t.coverage, t.risk);
    let (aurc_ba, augrc_ba) = match sum2 {
        Some(s2) => areas(count, s2),
        None => (f64::NAN, f64::NAN),
    };
    let denom = err - ao;
    let (ece, mce, failure_nll) = calibration_from_groups(conf, count, sum, t.bins);
    RiskMetrics {
        aurc,
        augrc,
        aurc_optimal: ao,
        augrc_optimal: go,
        eaurc: aurc - ao,
        eaugrc: augrc - go,
        naurc: if denom.abs() > 0.0 {
            (aurc - ao) / denom
        } else {
            f64::NAN
        },
        failure_auroc,
        fpr_at_tpr,
        selective_risk_at_coverage: sr_at,
        coverage_at_risk: cov_at,
        aurc_ba,
        augrc_ba,
        mean_risk: err,
        ece,
        mce,
        failure_nll,
        n,
    }
}

/// Residuals sorted ascending (for the continuous oracle).
pub fn sorted_residuals(res: &[f64]) -> Vec<f64> {
    let mut s = res.to_vec();
    if s.len() >= parallel::SERIAL_BELOW {
        parallel::install(|| s.par_sort_unstable_by(f64::total_cmp));
    } else {
        s.sort_unstable_by(f64::total_cmp);
    }
    s
}

/// All metrics of one set of samples, from one grouping pass.
///
/// # Errors
/// Empty input, length mismatch, NaN.
pub fn risk_metrics(
    conf: &[f64],
    res: &[f64],
    res2: Option<&[f64]>,
    t: Targets,
) -> Result<RiskMetrics> {
    let g = group_by_confidence(conf, res, res2)?;
    let optimal = if g.binary {
        optimal_binary(g.sum.iter().sum::<f64>() / g.count.iter().sum::<f64>())
    } else {
        optimal_continuous(&sorted_residuals(res), None)
    };
    Ok(metrics_from_counts(
        &g.conf,
        &g.count,
        &g.sum,
        g.sum2.as_deref(),
        g.binary,
        optimal,
        t,
    ))
}

/// The risk-coverage curve of one set of samples.
///
/// # Errors
/// Empty input, length mismatch, NaN.
pub fn risk_coverage_curve(conf: &[f64], res: &[f64]) -> Result<Curve> {
    Ok(curve_from_groups(&group_by_confidence(conf, res, None)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(conf: &[f64], res: &[f64]) -> RiskMetrics {
        risk_metrics(conf, res, None, Targets::default()).expect("valid")
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn example_a() {
        let r = m(&[0.9, 0.8, 0.8, 0.3], &[0.0, 1.0, 0.0, 1.0]);
        assert!(close(r.aurc, 0.1875, 1e-12));
        assert!(close(r.augrc, 0.15625, 1e-12));
        assert!(close(r.failure_auroc, 0.875, 1e-12));
        assert!(close(r.eaurc, 0.034074, 1e-6));
        assert!(close(r.naurc, 0.0983, 1e-4));
        assert!(close(r.eaugrc, 0.03125, 1e-12));
        assert!(close(r.fpr_at_tpr, 0.5, 1e-12));
    }

    #[test]
    fn example_a_curve() {
        let c = risk_coverage_curve(&[0.9, 0.8, 0.8, 0.3], &[0.0, 1.0, 0.0, 1.0]).expect("ok");
        assert_eq!(c.coverages, vec![1.0, 0.75, 0.25, 0.0]);
        assert_eq!(c.generalized_risks, vec![0.5, 0.25, 0.0, 0.0]);
        assert_eq!(c.thresholds[..3], [0.3, 0.8, 0.9]);
    }

    #[test]
    fn example_h_continuous() {
        let r = m(&[0.9, 0.8, 0.7, 0.3], &[0.1, 0.6, 0.2, 0.9]);
        assert!(close(r.aurc, 0.25625, 1e-12));
        assert!(close(r.augrc, 0.1625, 1e-12));
        assert!(close(r.aurc_optimal, 0.20625, 1e-12));
        assert!(close(r.augrc_optimal, 0.1375, 1e-12));
        assert!(r.failure_auroc.is_nan());
    }

    #[test]
    fn hash_and_sort_paths_agree() {
        let n = 3 * CHUNK + 17;
        let mut rng = crate::rng::Rng::new(5);
        let conf: Vec<f64> = (0..n).map(|_| (rng.below(1000) as f64) / 1000.0).collect();
        let res: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
        let a = group_by_hash(&conf, &res, None)
            .expect("ok")
            .expect("few distinct");
        let (b, _) = group_by_sort(&conf, &res, None, false).expect("ok");
        assert_eq!(a.conf, b.conf);
        assert_eq!(a.count, b.count);
        assert_eq!(a.sum, b.sum);
    }

    #[test]
    fn many_distinct_falls_back_to_sort() {
        let n = 2 * CHUNK;
        let conf: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let res: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        assert!(group_by_hash(&conf, &res, None).expect("ok").is_none());
        let g = group_by_confidence(&conf, &res, None).expect("ok");
        assert_eq!(g.conf.len(), n);
        assert_eq!(g.conf[0], (n - 1) as f64);
    }

    #[test]
    fn nan_and_empty_are_errors() {
        assert!(matches!(
            risk_metrics(&[], &[], None, Targets::default()),
            Err(CoreError::Empty { .. })
        ));
        assert!(risk_metrics(&[f64::NAN], &[0.0], None, Targets::default()).is_err());
        assert!(risk_metrics(&[0.1, 0.2], &[0.0], None, Targets::default()).is_err());
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

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// AUGRC mid-rank closed form: (1/n^2) sum_i l_i (r_i - 1/2).
    fn augrc_midrank(conf: &[f64], res: &[f64]) -> f64 {
        let n = conf.len();
        let mut s = 0.0;
        for i in 0..n {
            let below = conf.iter().filter(|&&c| c < conf[i]).count() as f64;
            let ties = conf.iter().filter(|&&c| c == conf[i]).count() as f64;
            let rank = below + (ties + 1.0) / 2.0;
            s += res[i] * (rank - 0.5);
        }
        s / (n * n) as f64
    }

    proptest! {
        #[test]
        fn augrc_matches_midrank(v in prop::collection::vec((0u8..6, 0.0f64..1.0), 1..60)) {
            let conf: Vec<f64> = v.iter().map(|x| x.0 as f64 / 5.0).collect();
            let res: Vec<f64> = v.iter().map(|x| x.1).collect();
            let r = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
            prop_assert!((r.augrc - augrc_midrank(&conf, &res)).abs() < 1e-12);
        }

        #[test]
        fn order_invariant(v in prop::collection::vec((0u8..4, 0u8..2), 1..40), rot in 0usize..40) {
            let conf: Vec<f64> = v.iter().map(|x| x.0 as f64).collect();
            let res: Vec<f64> = v.iter().map(|x| x.1 as f64).collect();
            let k = rot % conf.len();
            let mut c2 = conf.clone(); c2.rotate_left(k); c2.reverse();
            let mut r2 = res.clone(); r2.rotate_left(k); r2.reverse();
            let a = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
            let b = risk_metrics(&c2, &r2, None, Targets::default()).expect("ok");
            prop_assert!((a.aurc - b.aurc).abs() < 1e-12);
            prop_assert!((a.augrc - b.augrc).abs() < 1e-12);
            prop_assert!(a.failure_auroc.is_nan() == b.failure_auroc.is_nan());
        }
    }
}
