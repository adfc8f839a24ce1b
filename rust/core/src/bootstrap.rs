//! Bootstrap of the risk-coverage metric family, paired across confidence scoring functions.
//!
//! Each set is grouped once. A resample is a list of n drawn sample indices from the stream
//! `Rng::derive(seed, [b])`; for every set the drawn indices are scattered into per-group
//! counts and residual sums (O(n) per resample, no sort), and the metrics are computed from those
//! groups. All sets see the same draws (paired). Results do not depend on the thread count.

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::parallel;
use crate::risk::{
    balanced_areas, group_with_ids, metrics_from_counts, optimal_binary, optimal_continuous,
    BalancedScratch, Groups, Targets, METRIC_NAMES,
};
use crate::rng::Rng;
use rayon::prelude::*;

/// One set of samples prepared for resampling.
pub struct Prepared {
    groups: Groups,
    /// (group index, residual) per sample: one memory access per draw in the hot loop.
    packed: Vec<(u32, f64)>,
    /// (group, class) entry of each sample (empty without labels).
    entry_ids: Vec<u32>,
    /// Continuous residuals only: ascending order of residuals and each sample's rank in it.
    sorted: Option<(Vec<f64>, Vec<u32>)>,
}

impl Prepared {
    /// Group one (confids, residuals[, class labels]) set.
    ///
    /// # Errors
    /// As [`crate::risk::group_by_confidence`].
    pub fn new(conf: &[f64], res: &[f64], labels: Option<&[f64]>) -> Result<Self> {
        let grouped = group_with_ids(conf, res, labels)?;
        let (groups, ids) = (grouped.groups, grouped.ids);
        let sorted = if groups.binary {
            None
        } else {
            let mut order: Vec<u32> = (0..res.len() as u32).collect();
            order.sort_by(|&a, &b| res[a as usize].total_cmp(&res[b as usize]).then(a.cmp(&b)));
            let mut rank = vec![0u32; res.len()];
            for (r, &i) in order.iter().enumerate() {
                rank[i as usize] = r as u32;
            }
            let vals = order.iter().map(|&i| res[i as usize]).collect();
            Some((vals, rank))
        };
        let packed = ids.iter().zip(res).map(|(&g, &r)| (g, r)).collect();
        Ok(Prepared {
            groups,
            packed,
            entry_ids: grouped.entry_ids,
            sorted,
        })
    }
}

/// Largest number of resamples (far beyond any CI's need; keeps typos from the allocator).
pub const MAX_RESAMPLES: usize = 100_000_000;

/// Per-thread buffers, reused across resamples (no allocation in the resample loop).
struct Scratch {
    draws: Vec<u32>,
    count: Vec<f64>,
    sum: Vec<f64>,
    e_count: Vec<f64>,
    e_sum: Vec<f64>,
    balanced: BalancedScratch,
    mult: Vec<u32>,
}

/// Metrics of `n_resamples` paired bootstrap resamples of every prepared set.
///
/// Returns a row-major array of shape `[n_resamples, sets.len(), METRIC_NAMES.len()]`.
///
/// # Errors
/// Invalid targets, no sets, sets of different sizes, `n_resamples == 0`, or an output too
/// large to allocate (checked before any work).
pub fn bootstrap_metrics(
    sets: &[Prepared],
    n_resamples: usize,
    seed: u64,
    t: Targets,
) -> Result<Vec<f64>> {
    let Some(first) = sets.first() else {
        return Err(CoreError::Empty { name: "sets" });
    };
    if n_resamples == 0 || n_resamples > MAX_RESAMPLES {
        return Err(CoreError::InvalidArgument(format!(
            "n_resamples must lie in [1, {MAX_RESAMPLES}], got {n_resamples}"
        )));
    }
    t.validate()?;
    let n = first.packed.len();
    for s in sets {
        if s.packed.len() != n {
            return Err(CoreError::lengths(
                "paired sets must have the same number of samples",
                n,
                s.packed.len(),
            ));
        }
    }
    let width = METRIC_NAMES.len();
    let row = sets.len() * width;
    let mut out = alloc::zeroed::<f64>(
        n_resamples.checked_mul(row),
        "n_resamples (the bootstrap output n_resamples x sets x metrics)",
    )?;
    let max_groups = sets.iter().map(|s| s.groups.conf.len()).max().unwrap_or(0);
    let max_entries = sets
        .iter()
        .filter_map(|s| s.groups.classes.as_ref().map(|e| e.class.len()))
        .max()
        .unwrap_or(0);
    let max_classes = sets
        .iter()
        .filter_map(|s| s.groups.classes.as_ref().map(|e| e.n_classes))
        .max()
        .unwrap_or(0);
    let need_mult = sets.iter().any(|s| s.sorted.is_some());
    let run = |scratch: &mut Scratch, (b, out_row): (usize, &mut [f64])| {
        let mut rng = Rng::derive(seed, &[b as u64]);
        for d in scratch.draws.iter_mut() {
            *d = rng.below(n as u64) as u32;
        }
        for (si, s) in sets.iter().enumerate() {
            let k = s.groups.conf.len();
            let (count, sum) = (&mut scratch.count[..k], &mut scratch.sum[..k]);
            count.fill(0.0);
            sum.fill(0.0);
            for &d in &scratch.draws {
                let (g, r) = s.packed[d as usize];
                count[g as usize] += 1.0;
                sum[g as usize] += r;
            }
            // A resample is a data set of its own: its classes, counts and residuals.
            let balanced = match &s.groups.classes {
                Some(e) => {
                    let m = e.class.len();
                    let (ec, es) = (&mut scratch.e_count[..m], &mut scratch.e_sum[..m]);
                    ec.fill(0.0);
                    es.fill(0.0);
                    for &d in &scratch.draws {
                        let x = s.entry_ids[d as usize] as usize;
                        ec[x] += 1.0;
                        es[x] += s.packed[d as usize].1;
                    }
                    balanced_areas(count, e, ec, es, &mut scratch.balanced)
                }
                None => (f64::NAN, f64::NAN),
            };
            let optimal = match &s.sorted {
                None => optimal_binary(sum.iter().sum::<f64>() / n as f64),
                Some((vals, rank)) => {
                    scratch.mult.fill(0);
                    for &d in &scratch.draws {
                        scratch.mult[rank[d as usize] as usize] += 1;
                    }
                    optimal_continuous(vals, Some(&scratch.mult))
                }
            };
            let m = metrics_from_counts(
                &s.groups.conf,
                count,
                sum,
                s.groups.binary,
                optimal,
                balanced,
                t,
            );
            out_row[si * width..(si + 1) * width].copy_from_slice(&m.to_array());
        }
    };
    let new_scratch = || Scratch {
        draws: vec![0; n],
        count: vec![0.0; max_groups],
        sum: vec![0.0; max_groups],
        e_count: vec![0.0; max_entries],
        e_sum: vec![0.0; max_entries],
        balanced: BalancedScratch::new(max_classes),
        mult: if need_mult { vec![0; n] } else { Vec::new() },
    };
    parallel::install(|| {
        out.par_chunks_mut(row)
            .enumerate()
            .for_each_init(new_scratch, run)
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::risk_metrics;

    #[test]
    fn resample_of_identity_multiplicities_matches_full_metrics() {
        // With n = 1 every resample is the sample itself.
        let conf = [0.3];
        let res = [1.0];
        let p = Prepared::new(&conf, &res, None).expect("ok");
        let out = bootstrap_metrics(&[p], 3, 1, Targets::default()).expect("ok");
        let full = risk_metrics(&conf, &res, None, Targets::default()).expect("ok");
        assert_eq!(out[0], full.aurc);
    }

    #[test]
    fn deterministic_for_a_seed() {
        let conf: Vec<f64> = (0..500).map(|i| ((i * 7919) % 97) as f64).collect();
        let res: Vec<f64> = (0..500).map(|i| ((i * 31) % 3 == 0) as u8 as f64).collect();
        let a = bootstrap_metrics(
            &[Prepared::new(&conf, &res, None).expect("ok")],
            20,
            9,
            Targets::default(),
        )
        .expect("ok");
        let b = bootstrap_metrics(
            &[Prepared::new(&conf, &res, None).expect("ok")],
            20,
            9,
            Targets::default(),
        )
        .expect("ok");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn resample_equals_direct_evaluation_of_the_drawn_samples() {
        let conf: Vec<f64> = (0..50).map(|i| ((i * 13) % 7) as f64).collect();
        let res: Vec<f64> = (0..50).map(|i| ((i * 5) % 11) as f64 / 10.0).collect();
        let out = bootstrap_metrics(
            &[Prepared::new(&conf, &res, None).expect("ok")],
            1,
            4,
            Targets::default(),
        )
        .expect("ok");
        let mut rng = Rng::derive(4, &[0]);
        let idx: Vec<usize> = (0..50).map(|_| rng.below(50) as usize).collect();
        let c2: Vec<f64> = idx.iter().map(|&i| conf[i]).collect();
        let r2: Vec<f64> = idx.iter().map(|&i| res[i]).collect();
        let full = risk_metrics(&c2, &r2, None, Targets::default()).expect("ok");
        let names = METRIC_NAMES;
        for (j, v) in full.to_array().iter().enumerate() {
            let got = out[j];
            assert!(
                (got - v).abs() < 1e-12 || (got.is_nan() && v.is_nan()),
                "{}: {got} vs {v}",
                names[j]
            );
        }
    }
}
