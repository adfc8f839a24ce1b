//! Calibration of confidences as probabilities of being correct: ECE, MCE, failure NLL.

use crate::error::{CoreError, Result};

/// Expected and maximum calibration error with `bins` equal-width bins over [0, 1].
///
/// Bin b holds confidences in [b/bins, (b+1)/bins) (the last bin includes 1). Accuracy of a bin
/// is 1 - mean residual. ECE = sum_b (n_b / n) |acc_b - conf_b|; MCE = max over non-empty bins.
///
/// # Errors
/// Empty input, length mismatch, `bins == 0`, confidences outside [0, 1] or NaN.
pub fn calibration_errors(conf: &[f64], res: &[f64], bins: usize) -> Result<(f64, f64)> {
    if conf.is_empty() {
        return Err(CoreError::Empty { name: "confids" });
    }
    if conf.len() != res.len() {
        return Err(CoreError::lengths(
            "confids and residuals",
            conf.len(),
            res.len(),
        ));
    }
    if bins == 0 {
        return Err(CoreError::InvalidArgument("bins must be >= 1".into()));
    }
    let mut n_b = vec![0.0f64; bins];
    let mut conf_b = vec![0.0f64; bins];
    let mut acc_b = vec![0.0f64; bins];
    for (&c, &r) in conf.iter().zip(res) {
        if !(0.0..=1.0).contains(&c) {
            return Err(CoreError::InvalidValue(format!(
                "calibration needs confidences in [0, 1], got {c}"
            )));
        }
        let b = ((c * bins as f64) as usize).min(bins - 1);
        n_b[b] += 1.0;
        conf_b[b] += c;
        acc_b[b] += 1.0 - r;
    }
    let n = conf.len() as f64;
    let (mut ece, mut mce) = (0.0f64, 0.0f64);
    for b in 0..bins {
        if n_b[b] > 0.0 {
            let gap = (acc_b[b] / n_b[b] - conf_b[b] / n_b[b]).abs();
            ece += n_b[b] / n * gap;
            mce = mce.max(gap);
        }
    }
    Ok((ece, mce))
}

/// Negative log-likelihood of the failure labels under the confidence as P(correct):
/// -mean[(1 - l) ln g + l ln(1 - g)], with g clipped to [1e-12, 1 - 1e-12].
///
/// # Errors
/// Empty input, length mismatch, confidences outside [0, 1] or NaN.
pub fn failure_nll(conf: &[f64], res: &[f64]) -> Result<f64> {
    if conf.is_empty() {
        return Err(CoreError::Empty { name: "confids" });
    }
    if conf.len() != res.len() {
        return Err(CoreError::lengths(
            "confids and residuals",
            conf.len(),
            res.len(),
        ));
    }
    let mut s = 0.0;
    for (&c, &r) in conf.iter().zip(res) {
        if !(0.0..=1.0).contains(&c) {
            return Err(CoreError::InvalidValue(format!(
                "failure NLL needs confidences in [0, 1], got {c}"
            )));
        }
        let g = c.clamp(1e-12, 1.0 - 1e-12);
        s -= (1.0 - r) * g.ln() + r * (1.0 - g).ln();
    }
    Ok(s / conf.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_calibrated_bins_have_zero_ece() {
        // Bin [0.5, 0.55): confidence 0.5, accuracy 0.5.
        let (ece, mce) = calibration_errors(&[0.5, 0.5], &[0.0, 1.0], 20).expect("ok");
        assert_eq!((ece, mce), (0.0, 0.0));
    }

    #[test]
    fn hand_example() {
        // bins: 0.9 -> acc 1 (gap .1), 0.2 -> acc 1 (gap .8): ece = .45, mce = .8
        let (ece, mce) = calibration_errors(&[0.9, 0.2], &[0.0, 0.0], 20).expect("ok");
        assert!((ece - 0.45).abs() < 1e-12 && (mce - 0.8).abs() < 1e-12);
        let nll = failure_nll(&[0.5], &[1.0]).expect("ok");
        assert!((nll - std::f64::consts::LN_2).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_is_an_error() {
        assert!(calibration_errors(&[1.5], &[0.0], 20).is_err());
    }
}
