//! Power noising of patch scores and Gumbel-top-k sampling.
//!
//! Power sampling draws patches without replacement with probability proportional to
//! `S^beta`. With the Gumbel-max trick this is the top-k of `S' = ln S + G / beta`,
//! `G ~ Gumbel(0, 1)` i.i.d. per patch position (after pooling, never per voxel). `beta = inf`
//! means no noise (plain top-k by score). Scores must be >= 0; a zero score maps to `-inf` and
//! comes after every positive one.
//!
//! The noise of position `i` comes from the stream `Rng::derive(seed, ids ++ [i / CHUNK])`,
//! so the values depend only on (seed, ids, i), never on the thread count.

use crate::error::{CoreError, Result};
use crate::parallel;
use crate::rng::Rng;
use rayon::prelude::*;

/// Positions per independent noise stream.
pub const CHUNK: usize = 4096;

fn check_scores(scores: &[f64]) -> Result<()> {
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(CoreError::InvalidValue(format!(
            "score at index {i} is NaN"
        )));
    }
    if let Some(i) = scores.iter().position(|&s| s < 0.0) {
        return Err(CoreError::InvalidValue(format!(
            "scores must be >= 0 for power sampling; index {i} is {}",
            scores[i]
        )));
    }
    Ok(())
}

/// Noisy log scores `ln S + Gumbel(0, 1/beta)` for every position.
///
/// # Errors
/// NaN or negative scores; `beta` not > 0 (NaN included). `beta = +inf` gives `ln S`.
pub fn power_noise(scores: &[f64], beta: f64, seed: u64, ids: &[u64]) -> Result<Vec<f64>> {
    check_scores(scores)?;
    if beta.is_nan() || beta <= 0.0 {
        return Err(CoreError::InvalidArgument(format!(
            "beta must be > 0 (or inf for no noise), got {beta}"
        )));
    }
    let mut out: Vec<f64> = scores.iter().map(|&s| s.ln()).collect();
    if beta.is_infinite() {
        return Ok(out);
    }
    let scale = 1.0 / beta;
    let run = |(c, chunk): (usize, &mut [f64])| {
        let mut key = ids.to_vec();
        key.push(c as u64);
        let mut rng = Rng::derive(seed, &key);
        for v in chunk.iter_mut() {
            // Draw for every position (also -inf ones) so streams stay aligned.
            let g = rng.gumbel();
            *v += g * scale;
        }
    };
    if scores.len() < parallel::SERIAL_BELOW {
        out.chunks_mut(CHUNK).enumerate().for_each(run);
    } else {
        parallel::install(|| out.par_chunks_mut(CHUNK).enumerate().for_each(run));
    }
    Ok(out)
}

/// Indices of the `k` best values, best first, ties by ascending index; NaN refused.
///
/// # Errors
/// NaN values.
pub fn top_k(values: &[f64], k: usize) -> Result<Vec<usize>> {
    if let Some(i) = values.iter().position(|s| s.is_nan()) {
        return Err(CoreError::InvalidValue(format!(
            "value at index {i} is NaN"
        )));
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    let cmp = |a: &usize, b: &usize| {
        values[*b]
            .partial_cmp(&values[*a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    };
    let k = k.min(values.len());
    if k < order.len() && k > 0 {
        order.select_nth_unstable_by(k - 1, cmp);
        order.truncate(k);
    }
    order.sort_unstable_by(cmp);
    order.truncate(k);
    Ok(order)
}

/// Sample `k` indices without replacement with probability proportional to `scores^beta`
/// (Gumbel-top-k); returns them in order of their noisy keys, best first.
///
/// # Errors
/// As [`power_noise`].
pub fn gumbel_top_k(
    scores: &[f64],
    k: usize,
    beta: f64,
    seed: u64,
    ids: &[u64],
) -> Result<Vec<usize>> {
    let keys = power_noise(scores, beta, seed, ids)?;
    top_k(&keys, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_noise_at_infinite_beta() {
        let s = [0.5, 0.0, 2.0];
        let n = power_noise(&s, f64::INFINITY, 1, &[0]).expect("ok");
        assert_eq!(n[0], 0.5f64.ln());
        assert_eq!(n[1], f64::NEG_INFINITY);
        assert_eq!(top_k(&n, 3).expect("ok"), vec![2, 0, 1]);
    }

    #[test]
    fn zero_scores_come_last_and_bad_inputs_fail() {
        let s = [0.0, 1e-300, 0.0, 3.0];
        let idx = gumbel_top_k(&s, 4, 1.0, 7, &[1, 2]).expect("ok");
        assert_eq!(&idx[2..], &[0, 2]);
        assert!(power_noise(&[-1.0], 1.0, 0, &[]).is_err());
        assert!(power_noise(&[f64::NAN], 1.0, 0, &[]).is_err());
        assert!(power_noise(&[1.0], 0.0, 0, &[]).is_err());
        assert!(power_noise(&[1.0], f64::NAN, 0, &[]).is_err());
    }

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let s = vec![1.0; 10_000];
        let a = power_noise(&s, 1.0, 3, &[0, 1]).expect("ok");
        let b = power_noise(&s, 1.0, 3, &[0, 1]).expect("ok");
        let c = power_noise(&s, 1.0, 3, &[0, 2]).expect("ok");
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Position i's noise does not depend on the array's length.
        let short = power_noise(&s[..5000], 1.0, 3, &[0, 1]).expect("ok");
        assert_eq!(&a[..5000], &short[..]);
    }

    #[test]
    fn first_pick_frequencies_follow_s_to_the_beta() {
        // P(first = i) = S_i^beta / sum S^beta.
        let s = [1.0, 2.0, 3.0, 4.0];
        for beta in [1.0, 2.0] {
            let w: Vec<f64> = s.iter().map(|v: &f64| v.powf(beta)).collect();
            let tot: f64 = w.iter().sum();
            let n = 40_000;
            let mut counts = [0usize; 4];
            for r in 0..n {
                counts[gumbel_top_k(&s, 1, beta, 11, &[r as u64]).expect("ok")[0]] += 1;
            }
            for i in 0..4 {
                let p = w[i] / tot;
                let sd = (p * (1.0 - p) / n as f64).sqrt();
                let got = counts[i] as f64 / n as f64;
                assert!(
                    (got - p).abs() < 5.0 * sd,
                    "beta {beta} i {i}: {got} vs {p}"
                );
            }
        }
    }

    #[test]
    fn top_k_ties_by_index() {
        assert_eq!(
            top_k(&[1.0, 2.0, 2.0, 0.0, 2.0], 2).expect("ok"),
            vec![1, 2]
        );
        assert_eq!(top_k(&[1.0], 5).expect("ok"), vec![0]);
        assert!(top_k(&[], 3).expect("ok").is_empty());
    }
}
