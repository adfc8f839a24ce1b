//! Calibration of confidences read as P(correct): ECE, MCE and failure NLL.
//!
//! Computed from confidence groups (see [`crate::risk::Groups`]), so they cost O(groups) after
//! the grouping the risk metrics need anyway. Accuracy is 1 - mean residual, so continuous
//! residuals in [0, 1] act as soft failure labels.

/// (ECE, MCE, NLL) from groups; NaN for all three when a confidence lies outside [0, 1].
///
/// Bin b of `bins` equal-width bins holds confidences in [b/bins, (b+1)/bins) (the last bin
/// includes 1). ECE = sum_b (n_b / n) |acc_b - conf_b|; MCE = max over non-empty bins.
/// NLL = -mean[(1 - l) ln g + l ln(1 - g)] with g clipped to [1e-12, 1 - 1e-12].
pub fn calibration_from_groups(
    conf: &[f64],
    count: &[f64],
    sum: &[f64],
    bins: usize,
) -> (f64, f64, f64) {
    let nan = (f64::NAN, f64::NAN, f64::NAN);
    if bins == 0 || conf.iter().any(|c| !(0.0..=1.0).contains(c)) {
        return nan;
    }
    let mut n_b = vec![0.0f64; bins];
    let mut conf_b = vec![0.0f64; bins];
    let mut acc_b = vec![0.0f64; bins];
    let (mut n, mut nll) = (0.0, 0.0);
    for j in 0..conf.len() {
        let (c, k, s) = (conf[j], count[j], sum[j]);
        if k == 0.0 {
            continue;
        }
        let b = ((c * bins as f64) as usize).min(bins - 1);
        n_b[b] += k;
        conf_b[b] += c * k;
        acc_b[b] += k - s;
        n += k;
        nll -= crate::risk::nll::nll_term(c, k, s);
    }
    let (mut ece, mut mce) = (0.0f64, 0.0f64);
    for b in 0..bins {
        if n_b[b] > 0.0 {
            let gap = ((acc_b[b] - conf_b[b]) / n_b[b]).abs();
            ece += n_b[b] / n * gap;
            mce = mce.max(gap);
        }
    }
    (ece, mce, nll / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_calibrated_bin_has_zero_error() {
        // One group at 0.5 with one failure out of two: accuracy 0.5.
        let (ece, mce, _) = calibration_from_groups(&[0.5], &[2.0], &[1.0], 20);
        assert_eq!((ece, mce), (0.0, 0.0));
    }

    #[test]
    fn hand_example() {
        // 0.9 correct (gap .1) and 0.2 correct (gap .8): ECE .45, MCE .8.
        let (ece, mce, _) = calibration_from_groups(&[0.9, 0.2], &[1.0, 1.0], &[0.0, 0.0], 20);
        assert!((ece - 0.45).abs() < 1e-12 && (mce - 0.8).abs() < 1e-12);
        let (_, _, nll) = calibration_from_groups(&[0.5], &[1.0], &[1.0], 20);
        assert!((nll - std::f64::consts::LN_2).abs() < 1e-12);
    }

    #[test]
    fn outside_unit_interval_is_nan() {
        let (e, m, l) = calibration_from_groups(&[1.5], &[1.0], &[0.0], 20);
        assert!(e.is_nan() && m.is_nan() && l.is_nan());
    }
}
