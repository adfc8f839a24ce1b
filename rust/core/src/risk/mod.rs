//! Risk-coverage curves and the selective-classification metric family.
//!
//! Everything is computed from [`Groups`]: distinct confidences in descending order with the
//! count and residual sum of each group (and, with class labels, of each (group, class) pair).
//! - [`grouping`]: the grouping itself (hash or sort; the only super-linear step), in an order
//!   fixed by the values so that results never depend on input order, bit for bit;
//! - [`curve`]: curve points and areas (plain, optimal, class-balanced), ROC and working points;
//! - [`radix`]: the parallel LSD radix sort of the all-distinct path;
//! - [`fused`]: the fused sort path (inputs to metrics without materialised groups);
//! - [`walk`]: one walk over the groups that produces every metric's running sums;
//! - [`metrics`]: the metric list (written once), the targets and the evaluation.

pub mod curve;
pub mod fused;
pub mod grouping;
pub mod metrics;
pub mod nll;
pub mod radix;
pub mod walk;

pub use curve::{
    areas, balanced_areas, curve_from_groups, optimal_binary, optimal_continuous, roc_from_groups,
    working_points, BalancedScratch, Curve,
};
pub use grouping::{
    dense_classes, f64_key, group_by_confidence, group_with_ids, key_f64, ClassEntries, Grouped,
    Groups,
};
pub use metrics::{
    from_walk, metrics_from_counts, RiskMetrics, Targets, MAX_BINS, METRIC_NAMES, N_METRICS,
};

use crate::describe::describe;
use crate::error::Result;
use crate::parallel;
use fused::Fused;
use grouping::{check_inputs, group_by_sort, hash_groups, nan_error, walk_small};
use radix::RADIX_FROM;
use rayon::prelude::*;
use walk::WalkSetup;

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

/// All metrics of one set of samples, from one grouping pass. `labels` (class labels, any
/// finite values) enable the class-balanced `aurc_ba` / `augrc_ba`.
///
/// # Errors
/// Invalid targets, empty input, length mismatch, NaN.
pub fn risk_metrics(
    conf: &[f64],
    res: &[f64],
    labels: Option<&[f64]>,
    t: Targets,
) -> Result<RiskMetrics> {
    let out = evaluate(conf, res, labels, t, None)?;
    Ok(out
        .expect("without screening every outcome is metrics or an error")
        .0)
}

/// [`risk_metrics`] with the input checks of the Python layer folded into the kernel's own
/// passes: `None` when a confidence, residual or label is NaN or infinite, a label is not an
/// integer, or (with `check_range`) a residual lies outside [0, 1] (the caller's validation
/// then reports it, or applies its NaN policy); else the metrics and whether every residual is
/// 0 or 1. On the fused sort path the checks cost nothing (its first pass reads the inputs
/// anyway); elsewhere they are one parallel pass.
///
/// # Errors
/// Invalid targets, empty input, length mismatch.
pub fn risk_metrics_screened(
    conf: &[f64],
    res: &[f64],
    labels: Option<&[f64]>,
    t: Targets,
    check_range: bool,
) -> Result<Option<(RiskMetrics, bool)>> {
    evaluate(conf, res, labels, t, Some(check_range))
}

/// Small unlabelled inputs (one call per group of a polars query): one read of the inputs
/// (the screening, the residuals' kind and the key range: [`fused::scan_chunk`], vectorised),
/// one sort in a reused per-thread buffer and one walk over its groups, on the caller's
/// thread (the pool costs more than the work).
fn small_unlabelled(
    conf: &[f64],
    res: &[f64],
    t: Targets,
    screening: Option<bool>,
) -> Result<Option<(RiskMetrics, bool)>> {
    let scan = fused::scan_chunk(conf, res);
    match screening {
        // As `screen`: NaN or infinity anywhere, or a residual outside [0, 1] when checked.
        Some(check_range) if scan.nonfinite || (check_range && scan.out_of_range) => {
            return Ok(None)
        }
        _ if scan.nan => return Err(nan_error()),
        _ => {}
    }
    let (n, binary) = (conf.len() as f64, scan.binary);
    let setup = WalkSetup {
        n,
        neg_total: scan.ones as f64,
        roc: binary,
        calibration: scan.unit,
        targets: t,
    };
    let (w, total) = walk_small(conf, res, &scan, setup);
    let optimal = if binary {
        optimal_binary(total / n)
    } else {
        optimal_continuous(&sorted_residuals(res), None)
    };
    let m = from_walk(&w, total / n, optimal, (f64::NAN, f64::NAN));
    Ok(Some((m, binary)))
}

/// Whether the inputs pass the screening of [`risk_metrics_screened`], and if so whether the
/// residuals are binary.
fn screen(conf: &[f64], res: &[f64], labels: Option<&[f64]>, check_range: bool) -> Option<bool> {
    let (dc, dr) = if conf.len() >= parallel::SERIAL_BELOW {
        parallel::install(|| rayon::join(|| describe(conf), || describe(res)))
    } else {
        (describe(conf), describe(res))
    };
    let bad_labels = || labels.is_some_and(|l| l.iter().any(|x| !x.is_finite() || x.round() != *x));
    let ok = dc.n_nonfinite == 0
        && dr.n_nonfinite == 0
        && !(check_range && (dr.min < 0.0 || dr.max > 1.0))
        && !bad_labels();
    ok.then_some(dr.binary)
}

fn evaluate(
    conf: &[f64],
    res: &[f64],
    labels: Option<&[f64]>,
    t: Targets,
    screening: Option<bool>,
) -> Result<Option<(RiskMetrics, bool)>> {
    t.validate()?;
    check_inputs(conf, res, labels)?;
    if labels.is_none() && conf.len() < parallel::SERIAL_BELOW {
        return small_unlabelled(conf, res, t, screening);
    }
    let large_unlabelled = labels.is_none() && conf.len() >= RADIX_FROM;
    let mut hashed = None;
    if large_unlabelled {
        // Few distinct confidences: the hash path's groups; many: the fused sort path.
        hashed = match parallel::install(|| hash_groups(conf, res)) {
            Err(_) if screening.is_some() => return Ok(None),
            h => h?,
        };
        if hashed.is_none() {
            match parallel::install(|| fused::binary_metrics(conf, res, t, screening))? {
                Fused::Metrics(m) => return Ok(Some((m, true))),
                Fused::Rejected => return Ok(None),
                Fused::NotBinary => {}
            }
        }
    }
    if let Some(check_range) = screening {
        if screen(conf, res, labels, check_range).is_none() {
            return Ok(None);
        }
    }
    let g = match hashed {
        Some(g) => g,
        // The hash and fused paths do not apply: straight to the sort path.
        None if large_unlabelled => {
            parallel::install(|| group_by_sort(conf, res, None, false))?.groups
        }
        None => group_by_confidence(conf, res, labels)?,
    };
    let optimal = if g.binary {
        optimal_binary(g.sum.iter().sum::<f64>() / g.count.iter().sum::<f64>())
    } else {
        optimal_continuous(&sorted_residuals(res), None)
    };
    let balanced = match &g.classes {
        Some(e) => balanced_areas(
            &g.count,
            e,
            &e.count,
            &e.sum,
            &mut BalancedScratch::new(e.n_classes),
        ),
        None => (f64::NAN, f64::NAN),
    };
    let m = metrics_from_counts(&g.conf, &g.count, &g.sum, g.binary, optimal, balanced, t);
    Ok(Some((m, g.binary)))
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
    use crate::error::CoreError;

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
    fn nan_and_empty_are_errors() {
        assert!(matches!(
            risk_metrics(&[], &[], None, Targets::default()),
            Err(CoreError::Empty { .. })
        ));
        assert!(risk_metrics(&[f64::NAN], &[0.0], None, Targets::default()).is_err());
        assert!(risk_metrics(&[0.1, 0.2], &[0.0], None, Targets::default()).is_err());
        let bad = Targets {
            bins: 1 << 40,
            ..Default::default()
        };
        assert!(matches!(
            risk_metrics(&[0.1], &[0.0], None, bad),
            Err(CoreError::InvalidArgument(_))
        ));
    }

    fn ba(conf: &[f64], res: &[f64], labels: &[f64]) -> RiskMetrics {
        risk_metrics(conf, res, Some(labels), Targets::default()).expect("valid")
    }

    #[test]
    fn aurc_ba_follows_fd_shifts_example() {
        // Accepted sets by coverage: .25 {3}: SR_ba (1 + 0) / 2; .5 {3, 2}: (1/2 + 0) / 2;
        // .75: (1/2 + 1) / 2; 1: (1/2 + 1/2) / 2. Trapezoid with the coverage-0 end point:
        // .25 * .5 + .25 * (.5 + .25) / 2 + .25 * (.25 + .75) / 2 + .25 * (.75 + .5) / 2 = .5.
        let r = ba(
            &[0.0, 1.0, 2.0, 3.0],
            &[0.0, 1.0, 0.0, 1.0],
            &[0.0, 0.0, 1.0, 1.0],
        );
        assert!(close(r.aurc_ba, 0.5, 1e-15), "{}", r.aurc_ba);
        // GR_ba = (err_0 / 2 + err_1 / 2) / 2: .25, .25, .5, .5 -> .3125.
        assert!(close(r.augrc_ba, 0.3125, 1e-15), "{}", r.augrc_ba);
    }

    #[test]
    fn balanced_with_ties_and_unequal_classes() {
        // Groups .9 {l0 r1, l1 r0}, .5 {l1 r0, l1 r1}, .1 {l0 r1}; n_0 = 2, n_1 = 3.
        // SR_ba at coverage .4 / .8 / 1: 1/2, 2/3, 2/3 -> AURC_ba 17/30;
        // GR_ba: 1/4, 5/12, 2/3 -> AUGRC_ba 7/24 (labels need not be 0..K).
        let r = ba(
            &[0.9, 0.9, 0.5, 0.5, 0.1],
            &[1.0, 0.0, 0.0, 1.0, 1.0],
            &[-4.0, 10.0, 10.0, 10.0, -4.0],
        );
        assert!(close(r.aurc_ba, 17.0 / 30.0, 1e-15), "{}", r.aurc_ba);
        assert!(close(r.augrc_ba, 7.0 / 24.0, 1e-15), "{}", r.augrc_ba);
        // One class: the balanced metrics equal the plain ones.
        let one = ba(&[0.9, 0.5, 0.1], &[1.0, 0.0, 1.0], &[3.0, 3.0, 3.0]);
        assert!(close(one.aurc_ba, one.aurc, 1e-15));
        assert!(close(one.augrc_ba, one.augrc, 1e-15));
    }

    #[test]
    fn order_of_tied_continuous_residuals_does_not_matter() {
        let a = m(&[0.0, 0.0, 0.0], &[0.1, 0.2, 0.3]);
        let b = m(&[0.0, 0.0, 0.0], &[0.3, 0.2, 0.1]);
        assert_eq!(a.aurc.to_bits(), b.aurc.to_bits());
        assert_eq!(a.augrc.to_bits(), b.augrc.to_bits());
        assert_eq!(a.mean_risk.to_bits(), b.mean_risk.to_bits());
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

    /// Balanced (AURC, AUGRC) by re-evaluating each accepted set from scratch.
    fn naive_balanced(conf: &[f64], res: &[f64], lab: &[f64]) -> (f64, f64) {
        let n = conf.len() as f64;
        let mut classes: Vec<f64> = lab.to_vec();
        classes.sort_by(f64::total_cmp);
        classes.dedup();
        let k = classes.len() as f64;
        let mut th: Vec<f64> = conf.to_vec();
        th.sort_by(|a, b| b.total_cmp(a));
        th.dedup();
        let mut pts = vec![];
        for &t in &th {
            let (mut sr, mut gr, mut acc) = (0.0, 0.0, 0.0);
            for &c in &classes {
                let in_c = |i: &usize| lab[*i] == c;
                let all: Vec<usize> = (0..conf.len()).filter(in_c).collect();
                let accepted: Vec<usize> = all.iter().copied().filter(|&i| conf[i] >= t).collect();
                let err: f64 = accepted.iter().map(|&i| res[i]).sum();
                if !accepted.is_empty() {
                    sr += err / accepted.len() as f64;
                }
                gr += err / all.len() as f64;
                acc += accepted.len() as f64;
            }
            pts.push((acc / n, sr / k, gr / k));
        }
        let (mut a, mut g) = (pts[0].0 * pts[0].1, pts[0].0 * pts[0].2 * 0.5);
        for w in pts.windows(2) {
            let ((c0, s0, g0), (c1, s1, g1)) = (w[0], w[1]);
            a += (c1 - c0) * (s0 + s1) * 0.5;
            g += (c1 - c0) * (g0 + g1) * 0.5;
        }
        (a, g)
    }

    proptest! {
        #[test]
        fn augrc_matches_midrank(v in prop::collection::vec((0u8..6, 0.0f64..1.0), 1..60)) {
            let conf: Vec<f64> = v.iter().map(|x| x.0 as f64 / 5.0).collect();
            let res: Vec<f64> = v.iter().map(|x| x.1).collect();
            let r = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
            prop_assert!((r.augrc - augrc_midrank(&conf, &res)).abs() < 1e-12);
        }

        /// Any permutation of the samples gives the same bits for every metric (continuous
        /// and binary residuals, with and without labels).
        #[test]
        fn permutation_invariant_bit_for_bit(
            v in prop::collection::vec((0u8..4, 0.0f64..1.0, 0u8..3, any::<bool>()), 1..60),
            perm_seed in any::<u64>(),
            binary in any::<bool>(),
        ) {
            let conf: Vec<f64> = v.iter().map(|x| x.0 as f64 / 3.0).collect();
            let res: Vec<f64> = v
                .iter()
                .map(|x| if binary { f64::from(u8::from(x.3)) } else { x.1 })
                .collect();
            let lab: Vec<f64> = v.iter().map(|x| x.2 as f64).collect();
            let mut order: Vec<usize> = (0..conf.len()).collect();
            let mut rng = crate::rng::Rng::new(perm_seed);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let pick = |x: &[f64]| order.iter().map(|&i| x[i]).collect::<Vec<f64>>();
            let a = risk_metrics(&conf, &res, Some(&lab), Targets::default()).expect("ok");
            let b = risk_metrics(&pick(&conf), &pick(&res), Some(&pick(&lab)), Targets::default())
                .expect("ok");
            let bits = |m: &RiskMetrics| m.to_array().map(f64::to_bits);
            prop_assert_eq!(bits(&a), bits(&b));
            let a = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
            let b = risk_metrics(&pick(&conf), &pick(&res), None, Targets::default()).expect("ok");
            prop_assert_eq!(bits(&a), bits(&b));
        }

        /// Small unlabelled inputs (walked straight from the sorted pairs) against the plain
        /// path: groups by the comparison sort, then `metrics_from_counts`, bit for bit; ties,
        /// -0.0 and 0.0, continuous and binary residuals, confidences outside [0, 1].
        #[test]
        fn small_walk_matches_the_comparison_path(
            seed in any::<u64>(),
            n in 1usize..1500,
            levels in 1u64..60,
            continuous in any::<bool>(),
            wide in any::<bool>(),
        ) {
            let mut rng = crate::rng::Rng::new(seed);
            let conf: Vec<f64> = (0..n)
                .map(|_| match rng.below(12) {
                    0 => [-0.0, 0.0, 1.0][rng.below(3) as usize],
                    _ => rng.below(levels) as f64 / levels as f64 * if wide { 3.0 } else { 1.0 },
                })
                .collect();
            let res: Vec<f64> = (0..n)
                .map(|_| match (continuous, rng.below(8)) {
                    (true, 0) => -0.0,
                    (true, _) => rng.next_f64(),
                    (false, _) => rng.below(2) as f64,
                })
                .collect();
            let g = grouping::group_by_comparison_sort(&conf, &res);
            let err = g.sum.iter().sum::<f64>() / g.count.iter().sum::<f64>();
            let optimal = if g.binary {
                optimal_binary(err)
            } else {
                optimal_continuous(&sorted_residuals(&res), None)
            };
            let want = metrics_from_counts(
                &g.conf, &g.count, &g.sum, g.binary, optimal, (f64::NAN, f64::NAN),
                Targets::default(),
            );
            let got = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
            prop_assert_eq!(got.to_array().map(f64::to_bits), want.to_array().map(f64::to_bits));
        }

        /// Balanced metrics against a direct evaluation of every accepted set.
        #[test]
        fn balanced_matches_naive(
            v in prop::collection::vec((0u8..5, 0.0f64..1.0, 0u8..4), 1..40),
        ) {
            let conf: Vec<f64> = v.iter().map(|x| x.0 as f64).collect();
            let res: Vec<f64> = v.iter().map(|x| x.1).collect();
            let lab: Vec<f64> = v.iter().map(|x| x.2 as f64).collect();
            let (want_sr, want_gr) = naive_balanced(&conf, &res, &lab);
            let r = risk_metrics(&conf, &res, Some(&lab), Targets::default()).expect("ok");
            prop_assert!((r.aurc_ba - want_sr).abs() < 1e-12, "{} vs {}", r.aurc_ba, want_sr);
            prop_assert!((r.augrc_ba - want_gr).abs() < 1e-12, "{} vs {}", r.augrc_ba, want_gr);
        }
    }
}
