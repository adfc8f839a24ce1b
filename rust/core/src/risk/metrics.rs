//! The selective-classification metric family: its one list of names, its targets and the
//! evaluation from grouped samples.

use super::walk::{walk_groups, Walk, WalkSetup};
use crate::error::{CoreError, Result};

/// Largest number of calibration bins (ECE / MCE); more bins than that only measure noise, and
/// the bound keeps a typo such as `bins=2**40` from reaching the allocator.
pub const MAX_BINS: usize = 1 << 20;

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

impl Targets {
    /// Check the targets before any work.
    ///
    /// # Errors
    /// `bins` outside `[1, MAX_BINS]`, or a NaN target.
    pub fn validate(&self) -> Result<()> {
        if self.bins == 0 || self.bins > MAX_BINS {
            return Err(CoreError::InvalidArgument(format!(
                "bins must lie in [1, {MAX_BINS}], got {}",
                self.bins
            )));
        }
        for (name, v) in [
            ("tpr", self.tpr),
            ("coverage", self.coverage),
            ("risk", self.risk),
        ] {
            if v.is_nan() {
                return Err(CoreError::InvalidArgument(format!(
                    "{name} must not be NaN"
                )));
            }
        }
        Ok(())
    }
}

/// Declares [`RiskMetrics`], [`METRIC_NAMES`] and [`RiskMetrics::to_array`] from one list, so
/// that the names, the struct and the array order cannot drift apart (Python derives its
/// `SelectiveMetrics` fields from `METRIC_NAMES` as well).
macro_rules! metric_family {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// The whole metric family of one (confids, residuals) set.
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct RiskMetrics {
            $( $(#[$doc])* pub $name: f64, )*
        }

        /// Number of metrics in the family.
        pub const N_METRICS: usize = [$(stringify!($name)),*].len();

        /// Names of [`RiskMetrics::to_array`]'s entries, in order.
        pub const METRIC_NAMES: [&str; N_METRICS] = [$(stringify!($name)),*];

        impl RiskMetrics {
            /// Values in the order of [`METRIC_NAMES`].
            pub fn to_array(&self) -> [f64; N_METRICS] {
                [$(self.$name),*]
            }
        }
    };
}

metric_family! {
    /// Area under the selective-risk curve.
    aurc,
    /// Area under the generalized-risk curve.
    augrc,
    /// AURC of the oracle ranking.
    aurc_optimal,
    /// AUGRC of the oracle ranking.
    augrc_optimal,
    /// AURC - optimal AURC.
    eaurc,
    /// AUGRC - optimal AUGRC.
    eaugrc,
    /// (AURC - optimal) / (mean risk - optimal).
    naurc,
    /// NaN for continuous residuals or a single class.
    failure_auroc,
    /// NaN for continuous residuals or a single class.
    fpr_at_tpr,
    /// Min selective risk over points with coverage >= the target.
    selective_risk_at_coverage,
    /// NaN when no curve point reaches the target risk.
    coverage_at_risk,
    /// Class-balanced AURC; NaN without labels.
    aurc_ba,
    /// Class-balanced AUGRC; NaN without labels.
    augrc_ba,
    /// Mean residual.
    mean_risk,
    /// NaN when a confidence lies outside [0, 1].
    ece,
    /// NaN when a confidence lies outside [0, 1].
    mce,
    /// NaN when a confidence lies outside [0, 1].
    failure_nll,
    /// Number of samples.
    n,
}

/// Every metric from grouped data. `optimal` is (AURC*, AUGRC*) of the oracle ranking,
/// `balanced` the class-balanced (AURC, AUGRC) (NaN without labels).
pub fn metrics_from_counts(
    conf: &[f64],
    count: &[f64],
    sum: &[f64],
    binary: bool,
    optimal: (f64, f64),
    balanced: (f64, f64),
    t: Targets,
) -> RiskMetrics {
    let n: f64 = count.iter().sum();
    let total = sum.iter().sum::<f64>();
    let setup = WalkSetup {
        n,
        neg_total: total,
        roc: binary,
        calibration: !conf.iter().any(|c| !(0.0..=1.0).contains(c)),
        targets: t,
    };
    from_walk(
        &walk_groups(setup, conf, count, sum),
        total / n,
        optimal,
        balanced,
    )
}

/// The metrics from a finished [`Walk`] over every group; `err` is the mean residual.
pub fn from_walk(w: &Walk, err: f64, optimal: (f64, f64), balanced: (f64, f64)) -> RiskMetrics {
    let n = w.total_count();
    let (ao, go) = optimal;
    let (aurc, augrc) = w.areas();
    let (failure_auroc, fpr_at_tpr) = w.roc();
    let (sr_at, cov_at) = w.working_points();
    let (ece, mce, failure_nll) = w.calibration();
    let denom = err - ao;
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
        aurc_ba: balanced.0,
        augrc_ba: balanced.1,
        mean_risk: err,
        ece,
        mce,
        failure_nll,
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_struct() {
        let m = RiskMetrics {
            aurc: 1.0,
            n: 18.0,
            ..Default::default()
        };
        let a = m.to_array();
        assert_eq!(METRIC_NAMES[0], "aurc");
        assert_eq!(a[0], 1.0);
        assert_eq!(METRIC_NAMES[N_METRICS - 1], "n");
        assert_eq!(a[N_METRICS - 1], 18.0);
    }

    #[test]
    fn targets_are_validated() {
        assert!(Targets::default().validate().is_ok());
        for bins in [0, MAX_BINS + 1, 1 << 40] {
            let t = Targets {
                bins,
                ..Default::default()
            };
            assert!(
                matches!(t.validate(), Err(CoreError::InvalidArgument(m)) if m.contains("bins"))
            );
        }
        let t = Targets {
            tpr: f64::NAN,
            ..Default::default()
        };
        assert!(t.validate().is_err());
    }
}
