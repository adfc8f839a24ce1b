//! Property tests of the core kernels' argument validation: sizes, empty inputs and extreme
//! values (NaN, infinities, huge labels and counts). Every call must return `Ok` or a
//! `CoreError` (never panic, never abort on an allocation), and must accept exactly the inputs
//! its documentation accepts. Sizes stay small so the whole file runs in CI time; where a size
//! argument is exercised, the valid range is sampled small and the invalid range anywhere.

use medtrust_core::bootstrap::{bootstrap_metrics, Prepared, MAX_RESAMPLES};
use medtrust_core::overlap::{confusion_counts, pairwise_counts, present_labels, Classes};
use medtrust_core::patches::{select_greedy, Grid};
use medtrust_core::risk::{dense_classes, risk_metrics, Targets, MAX_BINS};
use medtrust_core::sampling::{power_noise, top_k};
use medtrust_core::surface::{surface_distances, Surface};
use medtrust_core::CoreError;
use proptest::prelude::*;

/// Any f64, weighted towards the values that break code: NaN, infinities, signed zeros,
/// subnormals and the extremes.
fn nasty_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..1.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(f64::MIN_POSITIVE / 2.0),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => any::<f64>(),
    ]
}

/// A size argument: small valid values or anything up to `usize::MAX`.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..8, 1 => any::<usize>(), 1 => Just(usize::MAX)]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn risk_metrics_accepts_exactly_finite_inputs_of_one_length(
        conf in prop::collection::vec(nasty_f64(), 0..20),
        res in prop::collection::vec(nasty_f64(), 0..20),
        labels in prop::option::of(prop::collection::vec(nasty_f64(), 0..20)),
        bins in size(),
        tpr in nasty_f64(),
    ) {
        let t = Targets { bins, tpr, ..Targets::default() };
        let got = risk_metrics(&conf, &res, labels.as_deref(), t);
        let lengths_ok = conf.len() == res.len()
            && labels.as_ref().is_none_or(|l| l.len() == conf.len());
        let no_nan = conf.iter().chain(&res).all(|x| !x.is_nan())
            && labels.as_ref().is_none_or(|l| l.iter().all(|x| x.is_finite()));
        let targets_ok = (1..=MAX_BINS).contains(&bins) && !tpr.is_nan();
        let valid = !conf.is_empty() && lengths_ok && no_nan && targets_ok;
        prop_assert_eq!(got.is_ok(), valid, "{:?}", got);
        if let Err(e) = got {
            if !targets_ok {
                prop_assert!(matches!(e, CoreError::InvalidArgument(_)));
            }
        }
    }

    #[test]
    fn dense_classes_refuses_non_finite_labels(labels in prop::collection::vec(nasty_f64(), 0..30)) {
        match dense_classes(&labels) {
            Ok((ids, k)) => {
                prop_assert!(labels.iter().all(|l| l.is_finite()));
                prop_assert_eq!(ids.len(), labels.len());
                prop_assert!(ids.iter().all(|&i| (i as usize) < k.max(1)));
            }
            Err(_) => prop_assert!(labels.iter().any(|l| !l.is_finite())),
        }
    }

    #[test]
    fn bootstrap_sizes_are_checked_before_any_allocation(
        n_resamples in prop_oneof![Just(0usize), 1usize..5, (MAX_RESAMPLES + 1)..=usize::MAX],
        n_sets in 0usize..4,
        seed in any::<u64>(),
    ) {
        let conf = [0.9, 0.5, 0.5, 0.1];
        let res = [0.0, 1.0, 0.0, 1.0];
        let sets: Vec<Prepared> = (0..n_sets)
            .map(|_| Prepared::new(&conf, &res, Some(&[1.0, 2.0, 1.0, 2.0])).expect("valid"))
            .collect();
        let got = bootstrap_metrics(&sets, n_resamples, seed, Targets::default());
        let valid = n_sets > 0 && (1..=MAX_RESAMPLES).contains(&n_resamples);
        prop_assert_eq!(got.is_ok(), valid);
        if let Ok(v) = got {
            prop_assert_eq!(v.len(), n_resamples * n_sets * medtrust_core::risk::N_METRICS);
        }
    }

    #[test]
    fn overlap_classes_and_labels_are_validated(
        pred in prop::collection::vec(prop_oneof![0i64..4, any::<i64>()], 0..40),
        shift in any::<bool>(),
        classes in prop_oneof![
            size().prop_map(|n| (n, None)),
            prop::collection::vec(prop_oneof![0i64..5, any::<i64>()], 0..5)
                .prop_map(|v| (0, Some(v))),
        ],
        ignore in prop::option::of(prop_oneof![Just(255i64), any::<i64>()]),
    ) {
        // Sizes above 2^24 must be refused; keep the valid range small (allocation per call).
        let (n, listed) = classes;
        prop_assume!(listed.is_some() || n <= 16 || n > 1 << 24);
        let target: Vec<i64> = pred.iter().map(|&l| if shift { l.wrapping_add(1) } else { l }).collect();
        let cls = match &listed {
            Some(v) => Classes::Listed(v),
            None => Classes::Range(n),
        };
        let got = confusion_counts(&pred, &target, cls, ignore);
        let classes_ok = match &listed {
            Some(v) => !v.is_empty() && v.windows(2).all(|w| w[0] < w[1]),
            None => (1..=1 << 24).contains(&n),
        };
        let member = |l: i64| match &listed {
            Some(v) => v.contains(&l),
            None => l >= 0 && (l as u64) < n as u64,
        };
        let labels_ok = pred.iter().zip(&target).all(|(&p, &t)| Some(t) == ignore || (member(p) && member(t)));
        let valid = !pred.is_empty() && classes_ok && labels_ok;
        prop_assert_eq!(got.is_ok(), valid, "{:?}", got);
        let members = [&pred[..], &target[..]];
        let pw = pairwise_counts(&members, cls);
        let pw_labels_ok = pred.iter().chain(&target).all(|&l| member(l));
        prop_assert_eq!(pw.is_ok(), !pred.is_empty() && classes_ok && pw_labels_ok);
    }

    #[test]
    fn present_labels_is_the_sorted_set_or_names_the_negative_label(
        a in prop::collection::vec(prop_oneof![0i64..6, any::<i64>()], 0..40),
        skip in prop::option::of(prop_oneof![Just(-1i64), 0i64..6]),
    ) {
        let got = present_labels(&[&a[..]], &["a"], skip);
        let kept: std::collections::BTreeSet<i64> = a.iter().copied().filter(|&l| Some(l) != skip).collect();
        if kept.iter().any(|&l| l < 0) {
            let e = got.expect_err("a negative label");
            prop_assert!(e.to_string().contains("a holds the negative label"));
        } else {
            prop_assert_eq!(got.expect("valid"), kept.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn patch_grids_refuse_degenerate_sizes(
        shape in [size(), size(), size()],
        patch in [size(), size(), size()],
        stride in [size(), size(), size()],
        clip in any::<bool>(),
        n in size(),
    ) {
        if let Ok(g) = Grid::new(shape, patch, stride, clip) {
            prop_assert!(g.dims.iter().all(|&d| d >= 1));
            let cells = g.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            // Selection on a small grid: any n, scores of the grid's size.
            if let Some(c) = cells.filter(|&c| c <= 4096) {
                let scores = vec![1.0; c];
                let picked = select_greedy(&scores, &g, &[], n).expect("valid scores");
                prop_assert!(picked.len() <= n.min(c));
            }
        }
    }

    #[test]
    fn sampling_refuses_nan_negative_scores_and_bad_beta(
        scores in prop::collection::vec(nasty_f64(), 0..30),
        beta in nasty_f64(),
        k in size(),
    ) {
        let scores_ok = scores.iter().all(|s| !s.is_nan() && *s >= 0.0);
        let got = power_noise(&scores, beta, 1, &[2]);
        prop_assert_eq!(got.is_ok(), scores_ok && !beta.is_nan() && beta > 0.0);
        if let Ok(v) = top_k(&scores, k) {
            prop_assert!(v.len() <= k.min(scores.len()));
        }
    }

    #[test]
    fn surface_distances_validate_shape_and_spacing(
        bits in prop::collection::vec(any::<bool>(), 0..64),
        shape in prop::collection::vec(0usize..5, 0..4),
        spacing in prop::collection::vec(nasty_f64(), 0..4),
        surfels in any::<bool>(),
    ) {
        let kind = if surfels { Surface::Surfels } else { Surface::Voxels };
        let got = surface_distances(&bits, &bits, &shape, &spacing, kind);
        if got.is_ok() {
            prop_assert_eq!(shape.iter().product::<usize>(), bits.len());
            prop_assert_eq!(spacing.len(), shape.len());
        }
    }
}
