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
use super::nll::{self, nll_term, sub_terms};

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

/// The `bin` of [`BinRun::NONE`].
const NO_BIN: usize = usize::MAX;

impl BinRun {
    /// No run (the start of a walk's bins).
    const NONE: BinRun = BinRun {
        bin: NO_BIN,
        n: 0.0,
        conf: 0.0,
        acc: 0.0,
    };
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
    /// sum of its own, takes its terms from the vectorised term loop of [`super::nll`] and
    /// subtracts them in group order: a block's inside its areas loop, the other groups' by
    /// [`sub_terms`].
    ///
    /// Groups go through in blocks of [`BLOCK`] (see [`Walk::block`]); the first curve point
    /// (its segment has its own formula) and any block holding an empty group take the
    /// per-group [`Walk::step`].
    pub fn push_all(&mut self, conf: &[f64], count: &[f64], sum: &[f64]) {
        let avx2 = crate::simd::avx2();
        let calibration = self.s.calibration;
        let mut i = 0;
        while i < conf.len() && self.trap.prev.is_none() {
            self.step(conf[i], count[i], sum[i]);
            i += 1;
        }
        // The NLL subtracts every group's term in group order: here for the groups taken one
        // at a time, inside the areas loop for a block (its chain then overlaps the others).
        if calibration {
            self.nll = sub_terms(self.nll, &conf[..i], &count[..i], &sum[..i]);
        }
        if i < conf.len() {
            // The thread's scratch: a fresh one per call (allocated and zeroed, 5 KB) cost a
            // 100-row group a tenth of its walk. Every entry is written before it is read.
            SCRATCH.with_borrow_mut(|b| {
                while i < conf.len() {
                    let e = (i + BLOCK).min(conf.len());
                    let (c, k, x) = (&conf[i..e], &count[i..e], &sum[i..e]);
                    if k.contains(&0.0) {
                        for j in 0..c.len() {
                            self.step(c[j], k[j], x[j]);
                        }
                        if calibration {
                            self.nll = sub_terms(self.nll, c, k, x);
                        }
                    } else {
                        self.block(c, k, x, b, avx2);
                    }
                    i = e;
                }
            });
        }
    }

    /// [`Walk::step`] over a block of nonempty groups after the first curve point, in three
    /// passes with the same bits: (1) the running sums, serial and in group order (counts,
    /// residual sums, the ROC sums); (2) the three divisions of each point (coverage, SR, GR),
    /// with no dependency between groups, so that they vectorise: they were most of the
    /// per-group walk's time; (3) the float sums (areas, bins) in group order and the working
    /// points, with the NLL and, when the whole block lies in the open calibration bin, that
    /// bin's sums (else the bins follow by [`bin_runs`]). Each serial pass is one loop over
    /// locals, so its independent sums overlap.
    fn block(&mut self, c: &[f64], k: &[f64], s: &[f64], b: &mut BlockScratch, avx2: bool) {
        let m = c.len();
        // (1) Running sums. Groups of one sample each with 0/1 residuals (all confidences
        // distinct, the fused path's usual block) take copies with the count a constant 1.0:
        // `x * 1.0` is `x` and `1.0 - s` is what `k - s` gave, so the bits are the same, with
        // fewer loads and multiplications (and exact integer sums added once a block, see
        // `area_sums`).
        let unit = self.roc && k.iter().all(|&x| x == 1.0);
        match (self.roc, unit) {
            (true, true) => self.running_sums::<true, true>(k, s, b),
            (true, false) => self.running_sums::<true, false>(k, s, b),
            (false, _) => self.running_sums::<false, false>(k, s, b),
        }
        // (2) The points.
        let (pc, psr, pgr) = self.trap.prev.expect("a block follows the first point");
        (b.cov[0], b.sr[0], b.gr[0]) = (pc, psr, pgr);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is set only where the CPU has AVX2.
            unsafe { points_avx2(b, self.s.n, m) };
        } else {
            points(b, self.s.n, m);
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = avx2;
            points(b, self.s.n, m);
        }
        // (3) Float sums, working points, bins.
        if self.first_sr.is_nan() {
            self.first_sr = b.sr[1];
        }
        if !self.s.calibration {
            self.area_sums::<false, false, false>(b, m, (c, k, s));
        } else {
            nll::terms(c, k, s, &mut b.nll[..m]);
            if self.open_run_holds(c) {
                // The usual block of a large input: one loop for the areas, the bin's sums and
                // the NLL, whose dependency chains then overlap (an addition a group each).
                if unit {
                    self.area_sums::<true, true, true>(b, m, (c, k, s));
                } else {
                    self.area_sums::<true, true, false>(b, m, (c, k, s));
                }
            } else {
                self.area_sums::<false, true, false>(b, m, (c, k, s));
                self.bin_sums(c, k, s);
            }
        }
        self.trap.prev = Some((b.cov[m], b.sr[m], b.gr[m]));
    }

    /// Pass (1) of [`Walk::block`]: the running count and residual sum after each group, and
    /// with `ROC` the ROC sums, as [`Walk::step`] forms them.
    ///
    /// The ROC's false positives are the running failures `cs` (see [`Walk::step`]). With
    /// `UNIT` as well (`k == 1`), the AUROC term `pos * ((neg_total - fp - neg) + 0.5 * neg)`
    /// is `neg_total - fp` for a success and `+0` for a failure, as `pos * (neg_total - fp)`
    /// gives. The FPR at the target TPR is looked for after the loop, in a block whose last
    /// true-positive count reaches the target (once a walk): the true positives `cn - cs` never
    /// decrease along it, so the first group of that block to reach it is the walk's first, as
    /// a test a group inside the loop found (a branch and two compares a group fewer).
    #[inline(always)]
    fn running_sums<const ROC: bool, const UNIT: bool>(
        &mut self,
        k: &[f64],
        s: &[f64],
        b: &mut BlockScratch,
    ) {
        let (mut cn, mut cs, mut auc) = (self.cn, self.cs, self.auc_num);
        let (neg_total, tp_min) = (self.s.neg_total, self.tp_min);
        let m = k.len();
        let (bcn, bcs) = (&mut b.cn[..m], &mut b.cs[..m]);
        for j in 0..m {
            let (kj, neg) = (if UNIT { 1.0 } else { k[j] }, s[j]);
            if ROC {
                let pos = kj - neg; // `cs` is the false positives before this group
                auc += pos
                    * if UNIT {
                        neg_total - cs
                    } else {
                        (neg_total - cs - neg) + 0.5 * neg
                    };
            }
            cn += kj;
            cs += neg;
            bcn[j] = cn;
            bcs[j] = cs;
        }
        if ROC && self.fpr_at.is_nan() && cn - cs >= tp_min {
            let first = bcn.iter().zip(&*bcs).position(|(&n, &f)| n - f >= tp_min);
            if let Some(j) = first {
                self.fpr_at = bcs[j] / neg_total;
            }
        }
        (self.cn, self.cs) = (cn, cs);
        if ROC {
            self.auc_num = auc;
        }
    }

    /// Pass (3) of [`Walk::block`], first part: the trapezoids summed in group order and the
    /// working points: the best SR at the target coverage, and the largest coverage at the
    /// target risk (coverage grows along the walk: the last qualifying point's; a select a
    /// group, where a backward search for it ran through most blocks whole).
    ///
    /// With `RUN` (see [`Walk::open_run_holds`]) the same loop also adds every group to the
    /// open calibration run, as [`bin_runs`] would: the same additions in the same order; with
    /// `NLL` it subtracts the block's NLL terms (`b.nll`) in group order. With `UNIT` (groups
    /// of one sample, 0/1 residuals) the run's count and correct count, and `calib_n`, are
    /// sums of integers, exact in any order: they are added once for the block, the bits the
    /// additions one group at a time give (every partial sum an integer below 2^53).
    #[inline(always)]
    fn area_sums<const RUN: bool, const NLL: bool, const UNIT: bool>(
        &mut self,
        b: &BlockScratch,
        m: usize,
        (c, k, s): (&[f64], &[f64], &[f64]),
    ) {
        let (mut aurc, mut augrc) = (self.trap.aurc, self.trap.augrc);
        let mut best_sr = self.best_sr;
        let (target_cov, target_risk) = (self.s.targets.coverage, self.s.targets.risk);
        let mut last_cov = f64::NAN;
        let mut run = self.runs.last().copied().unwrap_or(BinRun::NONE);
        let mut calib_n = self.calib_n;
        let mut nll = self.nll;
        for j in 0..m {
            if NLL {
                nll -= b.nll[j];
            }
            if RUN && UNIT {
                run.conf += c[j];
            } else if RUN {
                let kj = k[j];
                run.n += kj;
                run.conf += c[j] * kj;
                run.acc += kj - s[j];
                calib_n += kj;
            }
            let (cov, sr) = (b.cov[j + 1], b.sr[j + 1]);
            let dc = cov - b.cov[j];
            aurc += dc * (sr + b.sr[j]) * 0.5;
            augrc += dc * (b.gr[j + 1] + b.gr[j]) * 0.5;
            // The minimum is exact in any order; NaN never occurs (every count is positive).
            best_sr = if cov >= target_cov && sr < best_sr {
                sr
            } else {
                best_sr
            };
            last_cov = if sr <= target_risk { cov } else { last_cov };
        }
        if RUN && UNIT && m > 0 {
            let fails = b.cs[m - 1] - (b.cs[0] - s[0]); // the block's (exact) failure count
            run.n += m as f64;
            run.acc += m as f64 - fails;
            calib_n += m as f64;
        }
        (self.trap.aurc, self.trap.augrc) = (aurc, augrc);
        self.best_sr = best_sr;
        self.nll = nll;
        if RUN {
            if let Some(open) = self.runs.last_mut() {
                *open = run;
            }
            self.calib_n = calib_n;
        }
        if !last_cov.is_nan() && (self.best_cov.is_nan() || last_cov > self.best_cov) {
            self.best_cov = last_cov;
        }
    }

    /// Whether every confidence of a block (descending) lies in the open calibration run's
    /// bin: then the first and the last do.
    fn open_run_holds(&self, c: &[f64]) -> bool {
        let (Some(run), Some(&first), Some(&end)) = (self.runs.last(), c.first(), c.last()) else {
            return false;
        };
        let (lo, hi) = bin_edges(run.bin, self.s.targets.bins - 1);
        let inside = |c: f64| c * self.bins_f >= lo && c * self.bins_f < hi;
        inside(first) && inside(end)
    }

    /// Pass (3) of [`Walk::block`], second part: the calibration bins, as [`Walk::calibrate`],
    /// by [`bin_runs`]. A bin is one run of a whole walk (module notes on [`BinRun`]), so the
    /// block's runs, the current one included, fit in `bins` slots: they are set aside at the
    /// end of `runs` and the unused ones dropped after the loop, which thus makes no call.
    #[inline(always)]
    fn bin_sums(&mut self, c: &[f64], k: &[f64], s: &[f64]) {
        let bins = self.s.targets.bins;
        let run = self.runs.pop().unwrap_or(BinRun::NONE);
        let len = self.runs.len();
        self.runs.resize(len + bins, BinRun::NONE);
        let (written, calib_n) = bin_runs(
            (c, k, s),
            self.bins_f,
            bins - 1,
            (run, self.calib_n),
            &mut self.runs[len..],
        );
        self.runs.truncate(len + written);
        self.calib_n = calib_n;
    }

    /// Everything of [`Walk::push`] but the NLL.
    #[inline(always)]
    fn step(&mut self, c: f64, k: f64, sum: f64) {
        if self.roc {
            // As `roc_from_groups`: every group, empty ones included. With 0/1 residuals every
            // sum is an exact integer, so the ROC's false positives so far are the failures so
            // far (`fp == cs`) and its true positives the successes (`tp == cn - cs`): the walk
            // reads them from the running sums instead of keeping sums of its own (an empty
            // group adds nothing to either).
            let neg = sum;
            let pos = k - neg;
            self.auc_num += pos * ((self.s.neg_total - self.cs - neg) + 0.5 * neg);
            let fp = self.cs + neg;
            if self.fpr_at.is_nan() && (self.cn + k) - fp >= self.tp_min {
                self.fpr_at = fp / self.s.neg_total;
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

/// The calibration runs of a block's groups `(c, k, s)` in order: `run` (the walk's current
/// run, [`BinRun::NONE`] at its start) takes groups while `x = c * bins` lies in its bin's
/// `[bin, bin + 1)` (`[bin, inf)` for the last bin; exactly the test that the truncating
/// conversion `x as usize` equals the bin); a group outside it closes the run into `out` and
/// opens the next. Every group also adds its count to `calib_n`. Returns how many runs were
/// written (the last one, still open, included) and the new `calib_n`.
///
/// A loop with no call: with a push of finished runs inside it (or a call per run) the
/// running sums were kept on the stack, a store-to-load round trip a group or run.
#[inline(never)]
fn bin_runs(
    (c, k, s): (&[f64], &[f64], &[f64]),
    bins_f: f64,
    last: usize,
    (mut run, mut calib_n): (BinRun, f64),
    out: &mut [BinRun],
) -> (usize, f64) {
    let (mut lo, mut hi) = bin_edges(run.bin, last);
    let mut written = 0;
    for ((&cj, &kj), &sj) in c.iter().zip(k).zip(s) {
        let x = cj * bins_f;
        if x >= lo && x < hi {
            run.n += kj;
            run.conf += cj * kj;
            run.acc += kj - sj;
        } else {
            if run.bin != NO_BIN {
                out[written] = run;
                written += 1;
            }
            run = BinRun {
                bin: (x as usize).min(last),
                n: kj,
                conf: 0.0 + cj * kj,
                acc: 0.0 + (kj - sj),
            };
            (lo, hi) = bin_edges(run.bin, last);
        }
        calib_n += kj;
    }
    if run.bin != NO_BIN {
        out[written] = run;
        written += 1;
    }
    (written, calib_n)
}

/// The range of `x = c * bins` of a calibration bin: `[bin, bin + 1)`, `[bin, inf)` for the
/// last bin, empty for [`NO_BIN`]. `x` lies in it exactly when its truncation `x as usize`
/// (capped at `last`) is the bin.
fn bin_edges(bin: usize, last: usize) -> (f64, f64) {
    match bin {
        NO_BIN => (f64::INFINITY, f64::INFINITY),
        b if b == last => (b as f64, f64::INFINITY),
        b => (b as f64, (b + 1) as f64),
    }
}

/// Groups per block of [`Walk::block`]: its scratch arrays (5 x 8 bytes a group) stay in L1.
const BLOCK: usize = 128;

/// The points of one block; index 0 holds the point before the block, so that group `j`'s
/// segment runs from index `j` to `j + 1`.
struct BlockScratch {
    cn: [f64; BLOCK],
    cs: [f64; BLOCK],
    cov: [f64; BLOCK + 1],
    sr: [f64; BLOCK + 1],
    gr: [f64; BLOCK + 1],
    /// The NLL terms of the block's groups.
    nll: [f64; BLOCK],
}

thread_local! {
    /// The block scratch of [`Walk::push_all`] on this thread (no walk nests in another).
    static SCRATCH: std::cell::RefCell<Box<BlockScratch>> =
        std::cell::RefCell::new(Box::new(BlockScratch::new()));
}

impl BlockScratch {
    fn new() -> Self {
        BlockScratch {
            cn: [0.0; BLOCK],
            cs: [0.0; BLOCK],
            cov: [0.0; BLOCK + 1],
            sr: [0.0; BLOCK + 1],
            gr: [0.0; BLOCK + 1],
            nll: [0.0; BLOCK],
        }
    }
}

/// Pass (2) of [`Walk::block`]: each point from the running sums, the divisions of
/// [`Walk::step`].
#[inline(always)]
fn points(b: &mut BlockScratch, n: f64, m: usize) {
    for j in 0..m {
        b.cov[j + 1] = b.cn[j] / n;
        b.sr[j + 1] = b.cs[j] / b.cn[j];
        b.gr[j + 1] = b.cs[j] / n;
    }
}

/// [`points`] compiled for AVX2 (four divisions per instruction, the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn points_avx2(b: &mut BlockScratch, n: f64, m: usize) {
    points(b, n, m);
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

    fn outputs(w: &Walk) -> [u64; 9] {
        let (a, g) = w.areas();
        let (au, fpr) = w.roc();
        let (sr, cov) = w.working_points();
        let (e, m, l) = w.calibration();
        bits9([a, g, au, fpr, sr, cov, e, m, l])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The blocked walk (`push_all`) equals pushing one group at a time bit for bit, over
        /// many blocks: nonempty groups (the block path), groups of one sample each (its
        /// unit-count copies), occasional empty groups (a block falls back to the per-group
        /// step), binary and continuous residuals, ties of the calibration bins, confidences
        /// on bin edges, walks starting mid-data, the groups split between two calls anywhere.
        #[test]
        fn blocked_walk_equals_the_per_group_walk(
            seed in any::<u64>(),
            m in 1usize..1200,
            binary in any::<bool>(),
            empty_every in prop_oneof![Just(0usize), 1usize..400],
            bins in 1usize..40,
            edges in any::<bool>(),
            cov in prop_oneof![Just(0.0f64), 0.0f64..1.0],
            risk in 0.0f64..0.6,
            tpr in 0.0f64..1.0,
            start in 0u32..3,
            unit in any::<bool>(),
            split in any::<prop::sample::Index>(),
        ) {
            let mut rng = crate::rng::Rng::new(seed);
            let mut conf: Vec<f64> = (0..m)
                .map(|_| if edges { rng.below(bins as u64 + 1) as f64 / bins as f64 } else { rng.next_f64() })
                .collect();
            conf.sort_by(|a, b| b.total_cmp(a));
            let count: Vec<f64> = (0..m)
                .map(|i| match (empty_every > 0 && i % empty_every == 7, unit) {
                    (true, _) => 0.0,
                    (false, true) => 1.0,
                    (false, false) => (1 + rng.below(3)) as f64,
                })
                .collect();
            let sum: Vec<f64> = count
                .iter()
                .map(|&k| if binary { rng.below(k as u64 + 1) as f64 } else { rng.next_f64() * k })
                .collect();
            let (cn0, cs0) = match start {
                0 => (0.0, 0.0),
                _ => (17.0 * start as f64, 5.0 * start as f64),
            };
            let setup = WalkSetup {
                n: cn0 + count.iter().sum::<f64>(),
                neg_total: cs0 + sum.iter().sum::<f64>(),
                roc: binary,
                calibration: true,
                targets: Targets { tpr, coverage: cov, risk, bins },
            };
            let mut blocked = Walk::starting_at(setup, cn0, cs0);
            let cut = split.index(m + 1);
            blocked.push_all(&conf[..cut], &count[..cut], &sum[..cut]);
            blocked.push_all(&conf[cut..], &count[cut..], &sum[cut..]);
            let mut single = Walk::starting_at(setup, cn0, cs0);
            for i in 0..m {
                single.push(conf[i], count[i], sum[i]);
            }
            prop_assert_eq!(outputs(&blocked), outputs(&single));
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
