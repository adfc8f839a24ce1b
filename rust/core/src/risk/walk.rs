//! One walk over the groups that produces every metric's running sums at once: the curve areas
//! (AURC / AUGRC), the working points, the failure ROC (AUROC, FPR at the target TPR) and the
//! calibration bins with the NLL. The four separate passes it replaces each re-read the grouped
//! arrays (3 x 8 bytes a group); with 10^7 groups (all confidences distinct) that dominated the
//! time after the sort.
//!
//! Bits: over one run of groups every accumulator sees exactly the operations, in the order,
//! of the separate pass it replaces ([`super::areas`], [`super::working_points`],
//! [`super::roc_from_groups`], [`crate::calibration::calibration_from_groups`]), so a serial
//! walk gives the same bits as those passes; a unit test and a proptest check it. A walk can
//! also start in the middle of the groups ([`Walk::starting_at`]), from exact prefix counts
//! (integer counts and 0/1 residual sums are exact in f64), so that disjoint runs are walked in
//! parallel and [`Walk::then`] combines them in a fixed order (the bucket path of
//! [`super::fused`]): integer sums (counts, ROC numerator) stay exact, the float sums (areas,
//! NLL, a calibration bin's confidence sum) are summed per run and then across runs in run
//! order, an order fixed by the data, never by the thread count.

use super::curve::Trapezoid;
use super::metrics::Targets;
use super::nll::{nll_term, sub_terms};

/// One calibration bin's sums over consecutive groups. Groups come in descending confidence
/// order, so the bin index never increases along a walk: a bin is one contiguous run, and its
/// sums start from 0 and add the bin's groups in order, exactly as a per-bin array would.
#[derive(Clone, Copy, Debug)]
struct BinRun {
    bin: usize,
    n: f64,
    conf: f64,
    acc: f64,
}

/// The parameters of a walk, fixed for the whole data.
#[derive(Clone, Copy, Debug)]
pub struct WalkSetup {
    /// Total count (the sum of the group counts).
    pub n: f64,
    /// Total residual sum (failures, for binary residuals).
    pub neg_total: f64,
    /// Whether the ROC metrics are computed (binary residuals).
    pub roc: bool,
    /// Whether calibration is computed (every confidence in [0, 1]).
    pub calibration: bool,
    /// The metric targets.
    pub targets: Targets,
}

/// Running sums of every metric over consecutive groups (descending confidence).
#[derive(Clone, Debug)]
pub struct Walk {
    s: WalkSetup,
    pos_total: f64,
    roc: bool,
    /// The smallest true-positive count whose TPR reaches the target (see [`min_tp`]).
    tp_min: f64,
    bins_f: f64,
    // Curve, areas, working points.
    cn: f64,
    cs: f64,
    trap: Trapezoid,
    first_sr: f64,
    best_sr: f64,
    best_cov: f64,
    // ROC.
    tp: f64,
    fp: f64,
    auc_num: f64,
    fpr_at: f64,
    // Calibration.
    runs: Vec<BinRun>,
    calib_n: f64,
    nll: f64,
}

impl Walk {
    /// A walk from the first group.
    pub fn new(s: WalkSetup) -> Self {
        Self::starting_at(s, 0.0, 0.0)
    }

    /// A walk that starts after groups holding `cn` samples with residual sum `cs` (both exact:
    /// integer counts and, for a run after the first, 0/1 residuals). Its first curve segment
    /// starts from the point those groups end at, computed as the serial walk computes it.
    pub fn starting_at(s: WalkSetup, cn: f64, cs: f64) -> Self {
        let pos_total = s.n - s.neg_total;
        let trap = Trapezoid {
            prev: (cn != 0.0).then(|| (cn / s.n, cs / cn, cs / s.n)),
            ..Default::default()
        };
        let roc = s.roc && pos_total > 0.0 && s.neg_total > 0.0;
        Walk {
            pos_total,
            roc,
            // Only binary residuals have whole counts (continuous ones can make `pos_total`
            // negative); without ROC metrics no count is compared.
            tp_min: if roc {
                min_tp(pos_total, s.targets.tpr - 0.0005)
            } else {
                f64::INFINITY
            },
            bins_f: s.targets.bins as f64,
            cn,
            cs,
            trap,
            first_sr: f64::NAN,
            best_sr: f64::INFINITY,
            best_cov: f64::NAN,
            tp: cn - cs,
            fp: cs,
            auc_num: 0.0,
            fpr_at: f64::NAN,
            runs: Vec::new(),
            calib_n: 0.0,
            nll: 0.0,
            s: WalkSetup {
                calibration: s.calibration && s.targets.bins > 0,
                ..s
            },
        }
    }

    /// One more group: confidence `c`, `k` samples, residual sum `sum`.
    #[inline]
    pub fn push(&mut self, c: f64, k: f64, sum: f64) {
        self.step(c, k, sum);
        if self.s.calibration {
            self.nll -= nll_term(c, k, sum); // 0 for an empty group
        }
    }

    /// Every group of the arrays in order: the same bits as [`Walk::push`] on each. The NLL, a
    /// sum of its own, is added after the other sums, over the same groups in the same order,
    /// by the vectorised term loop of [`super::nll`].
    pub fn push_all(&mut self, conf: &[f64], count: &[f64], sum: &[f64]) {
        for ((&c, &k), &x) in conf.iter().zip(count).zip(sum) {
            self.step(c, k, x);
        }
        if self.s.calibration {
            self.nll = sub_terms(self.nll, conf, count, sum);
        }
    }

    /// Everything of [`Walk::push`] but the NLL.
    #[inline(always)]
    fn step(&mut self, c: f64, k: f64, sum: f64) {
        if self.roc {
            // As `roc_from_groups`: every group, empty ones included.
            let neg = sum;
            let pos = k - neg;
            self.auc_num += pos * ((self.s.neg_total - self.fp - neg) + 0.5 * neg);
            self.tp += pos;
            self.fp += neg;
            if self.fpr_at.is_nan() && self.tp >= self.tp_min {
                self.fpr_at = self.fp / self.s.neg_total;
            }
        }
        if k == 0.0 {
            return; // empty groups (bootstrap resamples) add no curve point
        }
        self.cn += k;
        self.cs += sum;
        let (cov, sr, gr) = (self.cn / self.s.n, self.cs / self.cn, self.cs / self.s.n);
        self.trap.point(cov, sr, gr);
        if self.first_sr.is_nan() {
            self.first_sr = sr;
        }
        if cov >= self.s.targets.coverage && sr < self.best_sr {
            self.best_sr = sr;
        }
        if sr <= self.s.targets.risk && (self.best_cov.is_nan() || cov > self.best_cov) {
            self.best_cov = cov;
        }
        if self.s.calibration {
            self.calibrate(c, k, sum);
        }
    }

    /// The calibration bins (the caller adds the NLL, see [`super::nll`]).
    #[inline(always)]
    fn calibrate(&mut self, c: f64, k: f64, s: f64) {
        let b = ((c * self.bins_f) as usize).min(self.s.targets.bins - 1);
        match self.runs.last_mut() {
            Some(r) if r.bin == b => {
                r.n += k;
                r.conf += c * k;
                r.acc += k - s;
            }
            _ => self.runs.push(BinRun {
                bin: b,
                n: k,
                conf: 0.0 + c * k,
                acc: 0.0 + (k - s),
            }),
        }
        self.calib_n += k;
    }

    /// This walk followed by `next`, which starts where this one ends.
    pub fn then(mut self, next: Walk) -> Walk {
        self.trap.aurc += next.trap.aurc;
        self.trap.augrc += next.trap.augrc;
        self.trap.prev = next.trap.prev.or(self.trap.prev);
        self.cn = next.cn;
        self.cs = next.cs;
        if self.first_sr.is_nan() {
            self.first_sr = next.first_sr;
        }
        if next.best_sr < self.best_sr {
            self.best_sr = next.best_sr;
        }
        if !next.best_cov.is_nan() && (self.best_cov.is_nan() || next.best_cov > self.best_cov) {
            self.best_cov = next.best_cov;
        }
        self.tp = next.tp;
        self.fp = next.fp;
        self.auc_num += next.auc_num;
        if self.fpr_at.is_nan() {
            self.fpr_at = next.fpr_at;
        }
        let mut runs = next.runs.into_iter();
        if let (Some(last), Some(first)) = (self.runs.last_mut(), runs.as_slice().first()) {
            if last.bin == first.bin {
                last.n += first.n;
                last.conf += first.conf;
                last.acc += first.acc;
                runs.next();
            }
        }
        self.runs.extend(runs);
        self.calib_n += next.calib_n;
        self.nll += next.nll;
        self
    }

    /// The total count the walk was set up with.
    pub fn total_count(&self) -> f64 {
        self.s.n
    }

    /// (AURC, AUGRC).
    pub fn areas(&self) -> (f64, f64) {
        (self.trap.aurc, self.trap.augrc)
    }

    /// (failure AUROC, FPR at the target TPR); NaN unless binary with both classes.
    pub fn roc(&self) -> (f64, f64) {
        if !self.roc {
            return (f64::NAN, f64::NAN);
        }
        (
            self.auc_num / (self.pos_total * self.s.neg_total),
            self.fpr_at,
        )
    }

    /// (selective risk at the target coverage, coverage at the target risk), as
    /// [`super::working_points`].
    pub fn working_points(&self) -> (f64, f64) {
        let mut best_sr = self.best_sr;
        // The coverage-0 end point (SR = first SR) counts for a target coverage of 0.
        if self.s.targets.coverage <= 0.0 && self.first_sr < best_sr {
            best_sr = self.first_sr;
        }
        if best_sr.is_infinite() {
            best_sr = f64::NAN;
        }
        (best_sr, self.best_cov)
    }

    /// (ECE, MCE, failure NLL), as [`crate::calibration::calibration_from_groups`].
    pub fn calibration(&self) -> (f64, f64, f64) {
        if !self.s.calibration {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let n = self.calib_n;
        let (mut ece, mut mce) = (0.0f64, 0.0f64);
        // Runs are in descending bin order; the per-bin pass sums in ascending order.
        for r in self.runs.iter().rev() {
            if r.n > 0.0 {
                let gap = ((r.acc - r.conf) / r.n).abs();
                ece += r.n / n * gap;
                mce = mce.max(gap);
            }
        }
        (ece, mce, self.nll / n)
    }
}

/// The smallest whole true-positive count `t` in `[0, pos_total]` with
/// `t / pos_total >= tpr_min` (infinite when none; NaN for a NaN target, which no count
/// reaches). True-positive counts are exact integers (binary residuals), and IEEE division is
/// monotone in its numerator, so `tp >= min_tp(..)` is exactly `tp / pos_total >= tpr_min`
/// without a division per group.
fn min_tp(pos_total: f64, tpr_min: f64) -> f64 {
    if tpr_min.is_nan() {
        return f64::NAN;
    }
    let mut t = (tpr_min * pos_total).ceil().max(0.0).min(pos_total);
    while t > 0.0 && (t - 1.0) / pos_total >= tpr_min {
        t -= 1.0;
    }
    while t <= pos_total && t / pos_total < tpr_min {
        t += 1.0;
    }
    if t > pos_total {
        f64::INFINITY
    } else {
        t
    }
}

/// Walk every group in order (one serial pass; the NLL by the vectorised term loop).
pub fn walk_groups(s: WalkSetup, conf: &[f64], count: &[f64], sum: &[f64]) -> Walk {
    let mut w = Walk::new(s);
    w.push_all(conf, count, sum);
    w
}

#[cfg(test)]
mod tests {
    use super::super::curve::{areas, roc_from_groups, working_points};
    use super::*;
    use crate::calibration::calibration_from_groups;
    use proptest::prelude::*;

    fn bits9(v: [f64; 9]) -> [u64; 9] {
        v.map(f64::to_bits)
    }

    /// Every output of a serial walk against the separate passes, bit for bit.
    fn check(conf: &[f64], count: &[f64], sum: &[f64], binary: bool, t: Targets) {
        let setup = WalkSetup {
            n: count.iter().sum(),
            neg_total: sum.iter().sum(),
            roc: binary,
            calibration: !conf.iter().any(|c| !(0.0..=1.0).contains(c)),
            targets: t,
        };
        let w = walk_groups(setup, conf, count, sum);
        let (a, g) = areas(count, sum);
        let (au, fpr) = if binary {
            roc_from_groups(count, sum, t.tpr)
        } else {
            (f64::NAN, f64::NAN)
        };
        let (sr, cov) = working_points(count, sum, t.coverage, t.risk);
        let (e, m, l) = calibration_from_groups(conf, count, sum, t.bins);
        let (wa, wg) = w.areas();
        let (wau, wfpr) = w.roc();
        let (wsr, wcov) = w.working_points();
        let (we, wm, wl) = w.calibration();
        assert_eq!(
            bits9([a, g, au, fpr, sr, cov, e, m, l]),
            bits9([wa, wg, wau, wfpr, wsr, wcov, we, wm, wl])
        );
    }

    #[test]
    fn hand_example_matches_the_passes() {
        let conf = [0.9, 0.8, 0.3];
        check(
            &conf,
            &[1.0, 2.0, 1.0],
            &[0.0, 1.0, 1.0],
            true,
            Targets::default(),
        );
        // Empty groups (bootstrap), a target coverage of 0, confidences outside [0, 1].
        let t = Targets {
            coverage: 0.0,
            ..Default::default()
        };
        check(&conf, &[0.0, 2.0, 1.0], &[0.0, 2.0, 0.0], true, t);
        check(&[3.0, 0.5], &[1.0, 1.0], &[0.25, 0.5], false, t);
    }

    #[test]
    fn losses_larger_than_one_walk_without_panicking() {
        // Continuous losses (e.g. HD95 in mm) can sum past the count, which made the positive
        // total negative; the TPR threshold must not be formed (or panic) for them.
        let conf = [0.9, 0.5];
        check(&conf, &[1.0, 1.0], &[20.0, 3.5], false, Targets::default());
    }

    #[test]
    fn min_tp_is_the_first_count_reaching_the_target() {
        for pos in [1.0, 2.0, 3.0, 7.0, 20.0, 999.0, 1000.0, 12345.0] {
            for tpr in [
                -0.5,
                0.0,
                0.0005,
                0.1,
                0.3,
                1.0 / 3.0,
                0.9495,
                0.95,
                1.0,
                1.5,
            ] {
                let first = (0..=pos as u64)
                    .map(|t| t as f64)
                    .find(|&t| t / pos >= tpr)
                    .unwrap_or(f64::INFINITY);
                assert_eq!(min_tp(pos, tpr), first, "pos {pos} tpr {tpr}");
            }
            assert!(min_tp(pos, f64::NAN).is_nan());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// A serial walk equals the four passes bit for bit (ties, empty groups, continuous
        /// residuals, many bins), and walks split anywhere and joined with `then` equal it
        /// exactly when the prefix sums are integers (0/1 residuals).
        #[test]
        fn walk_matches_the_separate_passes(
            v in prop::collection::vec((0u32..1000, 0u8..4, 0u8..4, 0.0f64..1.0), 1..200),
            binary in any::<bool>(),
            bins in 1usize..70,
            cov in 0.0f64..1.0,
            risk in 0.0f64..0.6,
            split in any::<prop::sample::Index>(),
        ) {
            let mut conf: Vec<f64> = v.iter().map(|x| x.0 as f64 / 999.0).collect();
            conf.sort_by(|a, b| b.total_cmp(a));
            conf.dedup();
            let m = conf.len();
            let count: Vec<f64> = v[..m].iter().map(|x| x.1 as f64).collect();
            let sum: Vec<f64> = v[..m]
                .iter()
                .zip(&count)
                .map(|(x, &k)| if binary { (x.2 as f64).min(k) } else { x.3 * k })
                .collect();
            let t = Targets { tpr: 0.95, coverage: cov, risk, bins };
            if count.iter().sum::<f64>() == 0.0 {
                return Ok(());
            }
            check(&conf, &count, &sum, binary, t);
            if binary {
                let setup = WalkSetup {
                    n: count.iter().sum(),
                    neg_total: sum.iter().sum(),
                    roc: true,
                    calibration: true,
                    targets: t,
                };
                let whole = walk_groups(setup, &conf, &count, &sum);
                let j = split.index(m + 1);
                let first = walk_groups(setup, &conf[..j], &count[..j], &sum[..j]);
                let (cn, cs) = (count[..j].iter().sum(), sum[..j].iter().sum());
                let mut second = Walk::starting_at(setup, cn, cs);
                for i in j..m {
                    second.push(conf[i], count[i], sum[i]);
                }
                let joined = first.then(second);
                // Exact integer sums and the first / best points agree bit for bit; the float
                // sums differ at most by the rounding of one extra addition per sum.
                prop_assert_eq!(whole.roc().0.to_bits(), joined.roc().0.to_bits());
                prop_assert_eq!(whole.roc().1.to_bits(), joined.roc().1.to_bits());
                prop_assert_eq!(whole.working_points().0.to_bits(), joined.working_points().0.to_bits());
                prop_assert_eq!(whole.working_points().1.to_bits(), joined.working_points().1.to_bits());
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + a.abs());
                prop_assert!(close(whole.areas().0, joined.areas().0));
                prop_assert!(close(whole.areas().1, joined.areas().1));
                let (c1, c2) = (whole.calibration(), joined.calibration());
                prop_assert!(close(c1.0, c2.0) && close(c1.1, c2.1) && close(c1.2, c2.2));
            }
        }
    }
}
