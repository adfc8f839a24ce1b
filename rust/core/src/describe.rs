//! One parallel pass of summary facts about a float array, used for input validation.
//!
//! Python validates before any work; doing it with numpy costs several passes and temporaries
//! over 10^7-element inputs, so the checks the selective metrics need are fused here.

use crate::parallel;
use rayon::prelude::*;

/// Facts about one array.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of NaN or infinite values.
    pub n_nonfinite: usize,
    /// Minimum (meaningful when `n_nonfinite == 0`; +inf for an empty array).
    pub min: f64,
    /// Maximum (meaningful when `n_nonfinite == 0`; -inf for an empty array).
    pub max: f64,
    /// Whether every value is exactly 0 or 1.
    pub binary: bool,
}

impl Summary {
    const EMPTY: Summary = Summary {
        n_nonfinite: 0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        binary: true,
    };

    fn merge(self, o: Summary) -> Summary {
        Summary {
            n_nonfinite: self.n_nonfinite + o.n_nonfinite,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            binary: self.binary && o.binary,
        }
    }
}

fn scan(x: &[f64]) -> Summary {
    // Eight independent lanes so the compiler vectorises the loop; min/max include inf, which
    // only matters when n_nonfinite > 0 (then callers take the slow path anyway).
    const L: usize = 8;
    let mut mn = [f64::INFINITY; L];
    let mut mx = [f64::NEG_INFINITY; L];
    let mut bad = [0u64; L];
    let mut nonbin = [0u64; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            let v = c[l];
            mn[l] = if v < mn[l] { v } else { mn[l] };
            mx[l] = if v > mx[l] { v } else { mx[l] };
            bad[l] += (!v.is_finite()) as u64;
            nonbin[l] += (!((v == 0.0) | (v == 1.0))) as u64;
        }
    }
    let mut s = Summary::EMPTY;
    for l in 0..L {
        s.min = s.min.min(mn[l]);
        s.max = s.max.max(mx[l]);
        s.n_nonfinite += bad[l] as usize;
        s.binary &= nonbin[l] == 0;
    }
    for &v in tail {
        s.min = s.min.min(v);
        s.max = s.max.max(v);
        s.n_nonfinite += (!v.is_finite()) as usize;
        s.binary &= v == 0.0 || v == 1.0;
    }
    s
}

/// Summarise `x` in one pass (parallel above [`parallel::SERIAL_BELOW`] elements).
pub fn describe(x: &[f64]) -> Summary {
    if x.len() < parallel::SERIAL_BELOW {
        return scan(x);
    }
    parallel::install(|| {
        x.par_chunks(1 << 16)
            .map(scan)
            .reduce(|| Summary::EMPTY, Summary::merge)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts() {
        let s = describe(&[0.0, 1.0, f64::NAN, 0.5, f64::INFINITY]);
        assert_eq!(s.n_nonfinite, 2);
        let lanes: Vec<f64> = (0..21).map(|i| i as f64 / 20.0).collect();
        let s2 = describe(&lanes);
        assert_eq!((s2.min, s2.max, s2.n_nonfinite), (0.0, 1.0, 0));
        assert!(!s.binary);
        assert!(describe(&[0.0, 1.0, 1.0]).binary);
    }

    #[test]
    fn parallel_equals_serial() {
        let x: Vec<f64> = (0..200_000)
            .map(|i| ((i * 37) % 1001) as f64 / 1000.0)
            .collect();
        assert_eq!(describe(&x), scan(&x));
    }
}
