//! Overlap of label maps: per-class confusion counts and pairwise agreement of ensemble members.
//!
//! Both kernels read every voxel once. Counts are 64-bit integers (no float accumulation, so
//! results never depend on the thread count). Label maps arrive as flat slices of any
//! [`Label`] type; a label outside `[0, n_classes)` is an error naming the map and the value.
//!
//! - [`confusion_counts`]: per class, true positives and the predicted / reference volumes (FP and
//!   FN follow), skipping voxels whose reference holds the ignore label.
//! - [`pairwise_counts`]: per member and class the volume, and per member pair and class the
//!   intersection, from one joint histogram keyed by the members' labels (`n_classes^M` bins)
//!   or, when that table would be too large, by comparing labels pairwise per voxel. Either way
//!   it is one pass over the voxels, never one pass per pair.

use crate::error::{CoreError, Result};
use crate::parallel;
use rayon::prelude::*;

/// An integer (or boolean) label type. `index` widens to i64 without loss.
pub trait Label: Copy + Send + Sync + 'static {
    /// The label as a signed integer.
    fn index(self) -> i64;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline(always)]
            fn index(self) -> i64 {
                self as i64
            }
        }
    )*};
}
impl_label!(u8, u16, i32, i64);

impl Label for bool {
    #[inline(always)]
    fn index(self) -> i64 {
        self as i64
    }
}

/// Voxels per parallel work item (fixed, so work splits never depend on the thread count).
const CHUNK: usize = 1 << 16;

/// Per-class confusion counts of a prediction against a reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Voxels of class c in both maps.
    pub tp: Vec<u64>,
    /// Voxels of class c in the prediction (TP + FP).
    pub pred: Vec<u64>,
    /// Voxels of class c in the reference (TP + FN).
    pub target: Vec<u64>,
    /// Voxels counted (not ignored).
    pub n_counted: u64,
    /// Voxels skipped because the reference holds the ignore label.
    pub n_ignored: u64,
}

impl Confusion {
    fn zeros(c: usize) -> Self {
        Confusion {
            tp: vec![0; c],
            pred: vec![0; c],
            target: vec![0; c],
            n_counted: 0,
            n_ignored: 0,
        }
    }

    fn merge(mut self, o: Confusion) -> Self {
        for c in 0..self.tp.len() {
            self.tp[c] += o.tp[c];
            self.pred[c] += o.pred[c];
            self.target[c] += o.target[c];
        }
        self.n_counted += o.n_counted;
        self.n_ignored += o.n_ignored;
        self
    }
}

fn out_of_range(name: &str, value: i64, n_classes: usize) -> CoreError {
    CoreError::InvalidValue(format!(
        "{name} holds label {value}, outside [0, {n_classes}) (pass n_classes / labels covering \
         every label, or ignore_label for a void label of the reference)"
    ))
}

fn check_classes(n_classes: usize) -> Result<()> {
    if n_classes == 0 || n_classes > (1 << 24) {
        return Err(CoreError::InvalidArgument(format!(
            "n_classes must lie in [1, 2^24], got {n_classes}"
        )));
    }
    Ok(())
}

/// Confusion counts of `pred` against `target` (same length) in one parallel pass.
///
/// A voxel whose target equals `ignore` counts nowhere (only in `n_ignored`); every other voxel
/// must hold labels in `[0, n_classes)` in both maps.
///
/// # Errors
/// Length mismatch, empty input, `n_classes` of 0 or above 2^24, a label out of range.
pub fn confusion_counts<L: Label>(
    pred: &[L],
    target: &[L],
    n_classes: usize,
    ignore: Option<i64>,
) -> Result<Confusion> {
    if pred.len() != target.len() {
        return Err(CoreError::lengths(
            "pred and target voxels",
            pred.len(),
            target.len(),
        ));
    }
    if pred.is_empty() {
        return Err(CoreError::Empty { name: "pred" });
    }
    check_classes(n_classes)?;
    let n = n_classes as u64;
    let chunk = |(p, t): (&[L], &[L])| -> Result<Confusion> {
        let mut c = Confusion::zeros(n_classes);
        for (&p, &t) in p.iter().zip(t) {
            let (p, t) = (p.index(), t.index());
            if Some(t) == ignore {
                c.n_ignored += 1;
                continue;
            }
            if p as u64 >= n {
                return Err(out_of_range("pred", p, n_classes));
            }
            if t as u64 >= n {
                return Err(out_of_range("target", t, n_classes));
            }
            c.pred[p as usize] += 1;
            c.target[t as usize] += 1;
            c.tp[p as usize] += (p == t) as u64;
        }
        c.n_counted = p.len() as u64 - c.n_ignored;
        Ok(c)
    };
    if pred.len() < parallel::SERIAL_BELOW {
        return chunk((pred, target));
    }
    parallel::install(|| {
        pred.par_chunks(CHUNK)
            .zip(target.par_chunks(CHUNK))
            .map(chunk)
            .try_reduce(|| Confusion::zeros(n_classes), |a, b| Ok(a.merge(b)))
    })
}

/// Volumes and pairwise intersections of M ensemble members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairwiseCounts {
    /// Number of members M.
    pub n_members: usize,
    /// Number of classes C.
    pub n_classes: usize,
    /// `volume[m * C + c]`: voxels of class c in member m.
    pub volume: Vec<u64>,
    /// `intersection[p * C + c]`: voxels of class c in both members of pair p; pairs in the
    /// order (0,1), (0,2), ..., (0,M-1), (1,2), ...
    pub intersection: Vec<u64>,
}

/// Member pairs (a, b), a < b, in the order of [`PairwiseCounts::intersection`].
pub fn member_pairs(m: usize) -> Vec<(usize, usize)> {
    let mut v = Vec::with_capacity(m * m.saturating_sub(1) / 2);
    for a in 0..m {
        for b in a + 1..m {
            v.push((a, b));
        }
    }
    v
}

/// Largest joint histogram (bins) used by [`pairwise_counts`]; larger label spaces compare
/// labels pairwise per voxel instead.
pub const MAX_JOINT_BINS: usize = 1 << 16;

/// Voxels checked at once by the all-background fast path.
const RUN: usize = 32;

/// Joint histogram of one chunk: `hist[sum_m l_m C^m] += 1`.
fn joint_chunk<L: Label>(
    members: &[&[L]],
    lo: usize,
    hi: usize,
    n_classes: usize,
    hist: &mut [u64],
) -> Result<()> {
    let n = n_classes as u64;
    let mut i = lo;
    while i < hi {
        let end = (i + RUN).min(hi);
        // Fast path: a run where every member holds label 0 (the background of most voxels).
        if end - i == RUN
            && members
                .iter()
                .all(|mm| mm[i..end].iter().fold(0i64, |acc, &l| acc | l.index()) == 0)
        {
            hist[0] += RUN as u64;
            i = end;
            continue;
        }
        for v in i..end {
            let mut key = 0u64;
            let mut mult = 1u64;
            for (k, mm) in members.iter().enumerate() {
                let l = mm[v].index();
                if l as u64 >= n {
                    return Err(out_of_range(&format!("member {k}"), l, n_classes));
                }
                key += l as u64 * mult;
                mult *= n;
            }
            hist[key as usize] += 1;
        }
        i = end;
    }
    Ok(())
}

/// Direct per-voxel comparison (for label spaces too large for a joint histogram).
fn direct_chunk<L: Label>(
    members: &[&[L]],
    lo: usize,
    hi: usize,
    n_classes: usize,
    pairs: &[(usize, usize)],
    out: &mut PairwiseCounts,
) -> Result<()> {
    let n = n_classes as u64;
    let m = members.len();
    let mut labels = vec![0usize; m];
    for v in lo..hi {
        for (k, mm) in members.iter().enumerate() {
            let l = mm[v].index();
            if l as u64 >= n {
                return Err(out_of_range(&format!("member {k}"), l, n_classes));
            }
            labels[k] = l as usize;
            out.volume[k * n_classes + l as usize] += 1;
        }
        for (p, &(a, b)) in pairs.iter().enumerate() {
            if labels[a] == labels[b] {
                out.intersection[p * n_classes + labels[a]] += 1;
            }
        }
    }
    Ok(())
}

/// Volumes per member and intersections per member pair and class, in one pass over voxels.
///
/// # Errors
/// Fewer than 2 members, members of different lengths, empty members, `n_classes` of 0 or
/// above 2^24, a label out of range.
pub fn pairwise_counts<L: Label>(members: &[&[L]], n_classes: usize) -> Result<PairwiseCounts> {
    let m = members.len();
    if m < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "pairwise agreement needs at least 2 members, got {m}"
        )));
    }
    let len = members[0].len();
    for mm in members {
        if mm.len() != len {
            return Err(CoreError::lengths("member voxels", len, mm.len()));
        }
    }
    if len == 0 {
        return Err(CoreError::Empty { name: "members" });
    }
    check_classes(n_classes)?;
    let pairs = member_pairs(m);
    let zero = || PairwiseCounts {
        n_members: m,
        n_classes,
        volume: vec![0; m * n_classes],
        intersection: vec![0; pairs.len() * n_classes],
    };
    let bins = (n_classes as u128)
        .checked_pow(m as u32)
        .unwrap_or(u128::MAX);
    let n_chunks = len.div_ceil(CHUNK);
    if bins <= MAX_JOINT_BINS as u128 {
        let bins = bins as usize;
        let hist = parallel::install(|| {
            (0..n_chunks)
                .into_par_iter()
                .try_fold(
                    || vec![0u64; bins],
                    |mut h, ci| {
                        let lo = ci * CHUNK;
                        joint_chunk(members, lo, (lo + CHUNK).min(len), n_classes, &mut h)?;
                        Ok::<_, CoreError>(h)
                    },
                )
                .try_reduce(
                    || vec![0u64; bins],
                    |mut a, b| {
                        for (x, y) in a.iter_mut().zip(&b) {
                            *x += *y;
                        }
                        Ok(a)
                    },
                )
        })?;
        let mut out = zero();
        let mut labels = vec![0usize; m];
        for (key, &count) in hist.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let mut k = key;
            for l in labels.iter_mut() {
                *l = k % n_classes;
                k /= n_classes;
            }
            for (mi, &l) in labels.iter().enumerate() {
                out.volume[mi * n_classes + l] += count;
            }
            for (p, &(a, b)) in pairs.iter().enumerate() {
                if labels[a] == labels[b] {
                    out.intersection[p * n_classes + labels[a]] += count;
                }
            }
        }
        return Ok(out);
    }
    parallel::install(|| {
        (0..n_chunks)
            .into_par_iter()
            .try_fold(zero, |mut acc, ci| {
                let lo = ci * CHUNK;
                direct_chunk(
                    members,
                    lo,
                    (lo + CHUNK).min(len),
                    n_classes,
                    &pairs,
                    &mut acc,
                )?;
                Ok::<_, CoreError>(acc)
            })
            .try_reduce(zero, |mut a, b| {
                for (x, y) in a.volume.iter_mut().zip(&b.volume) {
                    *x += *y;
                }
                for (x, y) in a.intersection.iter_mut().zip(&b.intersection) {
                    *x += *y;
                }
                Ok(a)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn naive_confusion(p: &[u8], t: &[u8], c: usize, ignore: Option<i64>) -> Confusion {
        let mut out = Confusion::zeros(c);
        for (&a, &b) in p.iter().zip(t) {
            if Some(b as i64) == ignore {
                out.n_ignored += 1;
                continue;
            }
            out.n_counted += 1;
            out.pred[a as usize] += 1;
            out.target[b as usize] += 1;
            if a == b {
                out.tp[a as usize] += 1;
            }
        }
        out
    }

    fn naive_pairwise(members: &[Vec<u8>], c: usize) -> PairwiseCounts {
        let m = members.len();
        let pairs = member_pairs(m);
        let mut out = PairwiseCounts {
            n_members: m,
            n_classes: c,
            volume: vec![0; m * c],
            intersection: vec![0; pairs.len() * c],
        };
        for (k, mm) in members.iter().enumerate() {
            for &l in mm {
                out.volume[k * c + l as usize] += 1;
            }
        }
        for (p, &(a, b)) in pairs.iter().enumerate() {
            for (x, y) in members[a].iter().zip(&members[b]) {
                if x == y {
                    out.intersection[p * c + *x as usize] += 1;
                }
            }
        }
        out
    }

    fn random_map(rng: &mut Rng, n: usize, c: u64, zero_frac: f64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                if rng.next_f64() < zero_frac {
                    0
                } else {
                    rng.below(c) as u8
                }
            })
            .collect()
    }

    #[test]
    fn confusion_small_example() {
        let p = [0u8, 1, 1, 2, 2, 0];
        let t = [0u8, 1, 2, 2, 255, 1];
        let c = confusion_counts(&p, &t, 3, Some(255)).expect("ok");
        assert_eq!(c.tp, vec![1, 1, 1]);
        assert_eq!(c.pred, vec![2, 2, 1]);
        assert_eq!(c.target, vec![1, 2, 2]);
        assert_eq!((c.n_counted, c.n_ignored), (5, 1));
    }

    #[test]
    fn confusion_rejects_out_of_range_and_mismatch() {
        assert!(matches!(
            confusion_counts(&[0u8, 3], &[0u8, 1], 3, None),
            Err(CoreError::InvalidValue(_))
        ));
        assert!(matches!(
            confusion_counts(&[0i32, -1], &[0i32, 1], 3, None),
            Err(CoreError::InvalidValue(_))
        ));
        assert!(matches!(
            confusion_counts(&[0u8], &[0u8, 1], 3, None),
            Err(CoreError::ShapeMismatch { .. })
        ));
        assert!(confusion_counts::<u8>(&[], &[], 3, None).is_err());
        assert!(confusion_counts(&[0u8], &[0u8], 0, None).is_err());
    }

    #[test]
    fn confusion_large_matches_naive_across_chunks() {
        let mut rng = Rng::new(3);
        let n = 300_001;
        let p = random_map(&mut rng, n, 4, 0.5);
        let t = random_map(&mut rng, n, 4, 0.5);
        let got = confusion_counts(&p, &t, 4, None).expect("ok");
        assert_eq!(got, naive_confusion(&p, &t, 4, None));
    }

    #[test]
    fn bool_maps_work() {
        let p = [true, false, true];
        let t = [true, true, false];
        let c = confusion_counts(&p, &t, 2, None).expect("ok");
        assert_eq!(c.tp, vec![0, 1]);
    }

    #[test]
    fn pairwise_joint_and_direct_paths_match_naive() {
        let mut rng = Rng::new(5);
        let n = 200_003;
        // 3 classes, 4 members: joint histogram (81 bins).
        let members: Vec<Vec<u8>> = (0..4).map(|_| random_map(&mut rng, n, 3, 0.7)).collect();
        let refs: Vec<&[u8]> = members.iter().map(|m| m.as_slice()).collect();
        assert_eq!(
            pairwise_counts(&refs, 3).expect("ok"),
            naive_pairwise(&members, 3)
        );
        // 40 classes, 4 members: 2.56e6 bins -> direct path.
        let members: Vec<Vec<u8>> = (0..4).map(|_| random_map(&mut rng, n, 40, 0.5)).collect();
        let refs: Vec<&[u8]> = members.iter().map(|m| m.as_slice()).collect();
        assert_eq!(
            pairwise_counts(&refs, 40).expect("ok"),
            naive_pairwise(&members, 40)
        );
    }

    #[test]
    fn pairwise_errors() {
        let a = [0u8, 1];
        assert!(pairwise_counts(&[&a[..]], 2).is_err());
        assert!(pairwise_counts(&[&a[..], &a[..1]], 2).is_err());
        assert!(matches!(
            pairwise_counts(&[&a[..], &[0u8, 5][..]], 2),
            Err(CoreError::InvalidValue(_))
        ));
    }

    proptest! {
        #[test]
        fn confusion_matches_naive(
            p in proptest::collection::vec(0u8..4, 1..400),
            seed in 0u64..1000,
        ) {
            let mut rng = Rng::new(seed);
            let t: Vec<u8> = p.iter().map(|_| if rng.next_f64() < 0.1 { 9 } else { rng.below(4) as u8 }).collect();
            let got = confusion_counts(&p, &t, 4, Some(9)).expect("ok");
            prop_assert_eq!(got, naive_confusion(&p, &t, 4, Some(9)));
        }

        #[test]
        fn pairwise_matches_naive(m in 2usize..6, n in 1usize..300, seed in 0u64..1000) {
            let mut rng = Rng::new(seed);
            let members: Vec<Vec<u8>> = (0..m).map(|_| random_map(&mut rng, n, 3, 0.6)).collect();
            let refs: Vec<&[u8]> = members.iter().map(|x| x.as_slice()).collect();
            prop_assert_eq!(pairwise_counts(&refs, 3).expect("ok"), naive_pairwise(&members, 3));
        }
    }
}
