//! Curve points and areas from grouped samples: the risk-coverage curve, AURC / AUGRC (plain,
//! optimal and class-balanced), the failure ROC and the working points.
//!
//! Convention (fd-shifts' current one): a tie group is accepted or rejected as a whole. Curve
//! points, in order of descending coverage: one per distinct confidence (the lowest gives
//! coverage 1 and SR = GR = mean residual), then an end point at coverage 0 where SR repeats its
//! last value and GR is 0. Areas use the trapezoid rule.

use super::grouping::{ClassEntries, Groups};

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

/// Trapezoid integration of SR and GR over curve points added in ascending coverage.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Trapezoid {
    pub(crate) prev: Option<(f64, f64, f64)>,
    pub(crate) aurc: f64,
    pub(crate) augrc: f64,
}

impl Trapezoid {
    /// One more curve point (coverage, SR, GR), coverage ascending.
    #[inline]
    pub(crate) fn point(&mut self, c: f64, sr: f64, gr: f64) {
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

/// Running (AURC, AUGRC) over accepted groups.
struct Areas {
    n: f64,
    cn: f64,
    cs: f64,
    t: Trapezoid,
}

impl Areas {
    fn new(n: f64) -> Self {
        Areas {
            n,
            cn: 0.0,
            cs: 0.0,
            t: Trapezoid::default(),
        }
    }

    /// Accept `count` more samples with residual sum `sum`: one more curve point.
    #[inline]
    fn push(&mut self, count: f64, sum: f64) {
        self.cn += count;
        self.cs += sum;
        self.t
            .point(self.cn / self.n, self.cs / self.cn, self.cs / self.n);
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
    (a.t.aurc, a.t.augrc)
}

/// Sum of K leaf values kept as a pairwise tree: setting a leaf costs O(log K), and the root is
/// a function of the current leaves only (no drift from repeated add / subtract, and no
/// dependence on the order of updates).
pub struct LeafSum {
    tree: Vec<f64>,
    width: usize,
}

impl LeafSum {
    /// A tree of `k` leaves, all 0.
    pub fn new(k: usize) -> Self {
        let width = k.max(1).next_power_of_two();
        LeafSum {
            tree: vec![0.0; 2 * width],
            width,
        }
    }

    /// Reset every leaf to 0, keeping the allocation when the width suffices.
    pub fn reset(&mut self, k: usize) {
        let width = k.max(1).next_power_of_two();
        if width != self.width {
            *self = LeafSum::new(k);
        } else {
            self.tree.fill(0.0);
        }
    }

    /// Set leaf `i` to `v`.
    #[inline]
    pub fn set(&mut self, i: usize, v: f64) {
        let mut j = self.width + i;
        self.tree[j] = v;
        while j > 1 {
            j /= 2;
            self.tree[j] = self.tree[2 * j] + self.tree[2 * j + 1];
        }
    }

    /// Sum of the leaves.
    #[inline]
    pub fn total(&self) -> f64 {
        self.tree[1]
    }
}

/// Reusable buffers of [`balanced_areas`].
pub struct BalancedScratch {
    class_n: Vec<f64>,
    acc: Vec<f64>,
    err: Vec<f64>,
    leaves: LeafSum,
}

impl BalancedScratch {
    /// Buffers for `k` classes.
    pub fn new(k: usize) -> Self {
        BalancedScratch {
            class_n: vec![0.0; k],
            acc: vec![0.0; k],
            err: vec![0.0; k],
            leaves: LeafSum::new(k),
        }
    }
}

/// Class-balanced (AURC, AUGRC) as fd-shifts' `selective_risk_ba_stats`: at every accepted set,
/// SR_ba is the mean over the K classes present of (residual sum of class k among the accepted)
/// / (accepted samples of class k), a class with none accepted contributing 0; GR_ba is the
/// mean over classes of (residual sum of class k among the accepted) / n_k. Ties are grouped and
/// the curve integrated exactly as [`areas`] does.
///
/// `count` holds the group counts, `e_count` / `e_sum` the counts and sums of `entries` (the
/// full data's or a bootstrap resample's). NaN when every count is 0.
pub fn balanced_areas(
    count: &[f64],
    entries: &ClassEntries,
    e_count: &[f64],
    e_sum: &[f64],
    s: &mut BalancedScratch,
) -> (f64, f64) {
    let kc = entries.n_classes;
    s.class_n[..kc].fill(0.0);
    for (&c, &k) in entries.class.iter().zip(e_count) {
        s.class_n[c as usize] += k;
    }
    let present = s.class_n[..kc].iter().filter(|&&x| x > 0.0).count() as f64;
    let n: f64 = count.iter().sum();
    if present == 0.0 || n == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    s.acc[..kc].fill(0.0);
    s.err[..kc].fill(0.0);
    s.leaves.reset(kc);
    // Entries are in class order within a group, so GR_ba's increments are summed in a fixed
    // order too.
    let (mut cn, mut gsum) = (0.0, 0.0);
    let mut t = Trapezoid::default();
    for (j, &k) in count.iter().enumerate() {
        if k == 0.0 {
            continue;
        }
        let mut gadd = 0.0;
        for x in entries.start[j]..entries.start[j + 1] {
            if e_count[x] == 0.0 {
                continue;
            }
            let c = entries.class[x] as usize;
            s.acc[c] += e_count[x];
            s.err[c] += e_sum[x];
            s.leaves.set(c, s.err[c] / s.acc[c]);
            gadd += e_sum[x] / s.class_n[c];
        }
        gsum += gadd;
        cn += k;
        t.point(cn / n, s.leaves.total() / present, gsum / present);
    }
    (t.aurc, t.augrc)
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
    (a.t.aurc, a.t.augrc)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_sum_is_a_function_of_the_leaves() {
        let mut a = LeafSum::new(5);
        let mut b = LeafSum::new(5);
        for (i, v) in [0.1, 0.2, 0.3, 0.7, 1e-17].iter().enumerate() {
            a.set(i, *v);
        }
        for (i, v) in [0.1, 0.2, 0.3, 0.7, 1e-17].iter().enumerate().rev() {
            b.set(i, 9.0);
            b.set(i, *v);
        }
        assert_eq!(a.total().to_bits(), b.total().to_bits());
        a.reset(5);
        assert_eq!(a.total(), 0.0);
    }
}
