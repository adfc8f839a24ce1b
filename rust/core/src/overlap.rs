//! Overlap of label maps: per-class confusion counts and pairwise agreement of ensemble members.
//!
//! Both kernels read every voxel once. Counts are 64-bit integers (no float accumulation, so
//! results never depend on the thread count). Label maps arrive as flat slices of any
//! [`Label`] type. The classes counted are [`Classes::Range`] (`0..n`) or [`Classes::Listed`]
//! (an ascending list, typically the labels present from [`present_labels`]): costs follow the
//! number of classes counted, never the largest label value. A label outside the classes is an
//! error naming the map and the value.
//!
//! Over 400 lines because the class lookup and the two kernels that share it belong together
//! (a third of the file is tests).
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

pub use crate::label::Label;

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

fn out_of_range(name: &str, value: i64, classes: &Classes<'_>) -> CoreError {
    let what = match classes {
        Classes::Range(n) => format!("outside [0, {n})"),
        Classes::Listed(l) => format!("not among the {} classes counted", l.len()),
    };
    CoreError::InvalidValue(format!(
        "{name} holds label {value}, {what} (pass n_classes / labels covering every label, or \
         ignore_label for a void label of the reference)"
    ))
}

/// Largest number of classes counted at once.
pub const MAX_CLASSES: usize = 1 << 24;

/// The classes a kernel counts; result arrays hold one entry per class, in this order.
#[derive(Clone, Copy, Debug)]
pub enum Classes<'a> {
    /// Classes `0..n`.
    Range(usize),
    /// These labels, strictly ascending (e.g. from [`present_labels`]).
    Listed(&'a [i64]),
}

impl Classes<'_> {
    /// Number of classes.
    pub fn len(&self) -> usize {
        match self {
            Classes::Range(n) => *n,
            Classes::Listed(l) => l.len(),
        }
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<()> {
        let n = self.len();
        if n == 0 || n > MAX_CLASSES {
            return Err(CoreError::InvalidArgument(format!(
                "n_classes (classes counted) must lie in [1, 2^24], got {n}"
            )));
        }
        if let Classes::Listed(l) = self {
            if l.windows(2).any(|w| w[0] >= w[1]) {
                return Err(CoreError::InvalidArgument(
                    "classes must be strictly ascending".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Label -> class index. The kernels are generic over it, so the hot loops carry no dispatch.
trait ClassIndex: Sync {
    fn index(&self, l: i64) -> Option<usize>;
}

/// Classes `0..n`: a bounds check.
struct RangeIndex(u64);

impl ClassIndex for RangeIndex {
    #[inline(always)]
    fn index(&self, l: i64) -> Option<usize> {
        ((l as u64) < self.0).then_some(l as usize)
    }
}

/// Listed classes spanning not much more than their number: a table over the span.
struct TableIndex {
    lo: i64,
    idx: Vec<u32>,
}

impl ClassIndex for TableIndex {
    #[inline(always)]
    fn index(&self, l: i64) -> Option<usize> {
        let k = *self.idx.get(l.wrapping_sub(self.lo) as u64 as usize)?;
        (k != u32::MAX).then_some(k as usize)
    }
}

/// Listed classes spread wide (one huge label costs nothing extra): a binary search.
struct SearchIndex(Vec<i64>);

impl ClassIndex for SearchIndex {
    #[inline(always)]
    fn index(&self, l: i64) -> Option<usize> {
        self.0.binary_search(&l).ok()
    }
}

/// Run `$body` with `$ix` bound to the class index of `$classes` (validated first).
macro_rules! with_index {
    ($classes:expr, $ix:ident => $body:expr) => {
        match *$classes {
            Classes::Range(n) => {
                let $ix = &RangeIndex(n as u64);
                $body
            }
            Classes::Listed(l) => {
                let (lo, hi) = (l[0], l[l.len() - 1]);
                let span = hi.abs_diff(lo);
                if span < (4 * l.len() as u64).max(1 << 12) {
                    let mut idx = vec![u32::MAX; span as usize + 1];
                    for (k, &v) in l.iter().enumerate() {
                        idx[(v - lo) as usize] = k as u32;
                    }
                    let $ix = &TableIndex { lo, idx };
                    $body
                } else {
                    let $ix = &SearchIndex(l.to_vec());
                    $body
                }
            }
        }
    };
}

/// Labels below this are collected in a bitmap; larger ones (rare) in a sorted list.
const SMALL_LABELS: usize = 1 << 12;

/// The distinct labels of `maps` (ascending), leaving out `skip` (e.g. an ignore label).
///
/// # Errors
/// A negative label (other than `skip`), naming the map (`names[k]`) and the value.
pub fn present_labels<L: Label>(
    maps: &[&[L]],
    names: &[&str],
    skip: Option<i64>,
) -> Result<Vec<i64>> {
    let chunk = |k: usize, c: &[L]| -> Result<(Vec<bool>, Vec<i64>)> {
        let mut small = vec![false; SMALL_LABELS];
        let mut large = Vec::new();
        for &l in c {
            let l = l.index();
            // One predictable branch per voxel; `skip` is removed from the result at the end.
            if (l as u64) < SMALL_LABELS as u64 {
                small[l as usize] = true;
            } else if Some(l) != skip {
                if l < 0 {
                    return Err(CoreError::InvalidValue(format!(
                        "{} holds the negative label {l}; labels are class indices >= 0 (pass \
                         ignore_label for a void label of the target)",
                        names.get(k).copied().unwrap_or("a label map")
                    )));
                }
                large.push(l);
            }
        }
        large.sort_unstable();
        large.dedup();
        Ok((small, large))
    };
    let parts: Vec<(Vec<bool>, Vec<i64>)> = parallel::install(|| {
        maps.par_iter()
            .enumerate()
            .flat_map(|(k, m)| m.par_chunks(CHUNK).map(move |c| (k, c)))
            .map(|(k, c)| chunk(k, c))
            .collect::<Result<Vec<_>>>()
    })?;
    let mut small = vec![false; SMALL_LABELS];
    let mut out = Vec::new();
    for (sm, lg) in parts {
        for (a, b) in small.iter_mut().zip(sm) {
            *a |= b;
        }
        out.extend(lg);
    }
    out.extend((0..SMALL_LABELS as i64).filter(|&l| small[l as usize]));
    out.sort_unstable();
    out.dedup();
    out.retain(|&l| Some(l) != skip);
    Ok(out)
}

/// Confusion counts of `pred` against `target` (same length) in one parallel pass.
///
/// A voxel whose target equals `ignore` counts nowhere (only in `n_ignored`); every other voxel
/// must hold labels among `classes` in both maps. Entry k of the result is class k of `classes`.
///
/// # Errors
/// Length mismatch, empty input, 0 or more than 2^24 classes, a label not among the classes.
pub fn confusion_counts<L: Label>(
    pred: &[L],
    target: &[L],
    classes: Classes<'_>,
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
    classes.check()?;
    with_index!(&classes, ix => confusion_with(pred, target, &classes, ignore, ix))
}

fn confusion_with<L: Label, I: ClassIndex>(
    pred: &[L],
    target: &[L],
    classes: &Classes<'_>,
    ignore: Option<i64>,
    lookup: &I,
) -> Result<Confusion> {
    let n_classes = classes.len();
    let chunk = |(p, t): (&[L], &[L])| -> Result<Confusion> {
        let mut c = Confusion::zeros(n_classes);
        for (&p, &t) in p.iter().zip(t) {
            let (p, t) = (p.index(), t.index());
            if Some(t) == ignore {
                c.n_ignored += 1;
                continue;
            }
            let Some(pi) = lookup.index(p) else {
                return Err(out_of_range("pred", p, classes));
            };
            let Some(ti) = lookup.index(t) else {
                return Err(out_of_range("target", t, classes));
            };
            c.pred[pi] += 1;
            c.target[ti] += 1;
            c.tp[pi] += (pi == ti) as u64;
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

/// Joint histogram of one chunk: `hist[sum_m k_m C^m] += 1` (k_m: member m's class index).
fn joint_chunk<L: Label, I: ClassIndex>(
    members: &[&[L]],
    lo: usize,
    hi: usize,
    classes: &Classes<'_>,
    lookup: &I,
    hist: &mut [u64],
) -> Result<()> {
    let n = classes.len() as u64;
    // The all-background fast path below needs label 0 to be class index 0.
    let zero_first = lookup.index(0) == Some(0);
    let mut i = lo;
    while i < hi {
        let end = (i + RUN).min(hi);
        // Fast path: a run where every member holds label 0 (the background of most voxels).
        if zero_first
            && end - i == RUN
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
                let Some(ci) = lookup.index(l) else {
                    return Err(out_of_range(&format!("member {k}"), l, classes));
                };
                key += ci as u64 * mult;
                mult *= n;
            }
            hist[key as usize] += 1;
        }
        i = end;
    }
    Ok(())
}

/// Direct per-voxel comparison (for label spaces too large for a joint histogram).
fn direct_chunk<L: Label, I: ClassIndex>(
    members: &[&[L]],
    lo: usize,
    hi: usize,
    classes: &Classes<'_>,
    lookup: &I,
    pairs: &[(usize, usize)],
    out: &mut PairwiseCounts,
) -> Result<()> {
    let n_classes = classes.len();
    let m = members.len();
    let mut labels = vec![0usize; m];
    for v in lo..hi {
        for (k, mm) in members.iter().enumerate() {
            let l = mm[v].index();
            let Some(ci) = lookup.index(l) else {
                return Err(out_of_range(&format!("member {k}"), l, classes));
            };
            labels[k] = ci;
            out.volume[k * n_classes + ci] += 1;
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
/// Entry c of each row is class c of `classes`.
///
/// # Errors
/// Fewer than 2 members, members of different lengths, empty members, 0 or more than 2^24
/// classes, a label not among the classes.
pub fn pairwise_counts<L: Label>(members: &[&[L]], classes: Classes<'_>) -> Result<PairwiseCounts> {
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
    classes.check()?;
    with_index!(&classes, ix => pairwise_with(members, &classes, ix))
}

fn pairwise_with<L: Label, I: ClassIndex>(
    members: &[&[L]],
    classes: &Classes<'_>,
    lookup: &I,
) -> Result<PairwiseCounts> {
    let m = members.len();
    let len = members[0].len();
    let n_classes = classes.len();
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
                        let hi = (lo + CHUNK).min(len);
                        joint_chunk(members, lo, hi, classes, lookup, &mut h)?;
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
                    classes,
                    lookup,
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
        let c = confusion_counts(&p, &t, Classes::Range(3), Some(255)).expect("ok");
        assert_eq!(c.tp, vec![1, 1, 1]);
        assert_eq!(c.pred, vec![2, 2, 1]);
        assert_eq!(c.target, vec![1, 2, 2]);
        assert_eq!((c.n_counted, c.n_ignored), (5, 1));
    }

    #[test]
    fn confusion_rejects_out_of_range_and_mismatch() {
        assert!(matches!(
            confusion_counts(&[0u8, 3], &[0u8, 1], Classes::Range(3), None),
            Err(CoreError::InvalidValue(_))
        ));
        assert!(matches!(
            confusion_counts(&[0i32, -1], &[0i32, 1], Classes::Range(3), None),
            Err(CoreError::InvalidValue(_))
        ));
        assert!(matches!(
            confusion_counts(&[0u8], &[0u8, 1], Classes::Range(3), None),
            Err(CoreError::ShapeMismatch { .. })
        ));
        assert!(confusion_counts::<u8>(&[], &[], Classes::Range(3), None).is_err());
        assert!(confusion_counts(&[0u8], &[0u8], Classes::Range(0), None).is_err());
    }

    #[test]
    fn confusion_large_matches_naive_across_chunks() {
        let mut rng = Rng::new(3);
        let n = 300_001;
        let p = random_map(&mut rng, n, 4, 0.5);
        let t = random_map(&mut rng, n, 4, 0.5);
        let got = confusion_counts(&p, &t, Classes::Range(4), None).expect("ok");
        assert_eq!(got, naive_confusion(&p, &t, 4, None));
    }

    #[test]
    fn bool_maps_work() {
        let p = [true, false, true];
        let t = [true, true, false];
        let c = confusion_counts(&p, &t, Classes::Range(2), None).expect("ok");
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
            pairwise_counts(&refs, Classes::Range(3)).expect("ok"),
            naive_pairwise(&members, 3)
        );
        // 40 classes, 4 members: 2.56e6 bins -> direct path.
        let members: Vec<Vec<u8>> = (0..4).map(|_| random_map(&mut rng, n, 40, 0.5)).collect();
        let refs: Vec<&[u8]> = members.iter().map(|m| m.as_slice()).collect();
        assert_eq!(
            pairwise_counts(&refs, Classes::Range(40)).expect("ok"),
            naive_pairwise(&members, 40)
        );
    }

    #[test]
    fn pairwise_errors() {
        let a = [0u8, 1];
        assert!(pairwise_counts(&[&a[..]], Classes::Range(2)).is_err());
        assert!(pairwise_counts(&[&a[..], &a[..1]], Classes::Range(2)).is_err());
        assert!(matches!(
            pairwise_counts(&[&a[..], &[0u8, 5][..]], Classes::Range(2)),
            Err(CoreError::InvalidValue(_))
        ));
    }

    #[test]
    fn present_labels_skip_and_reject_negative() {
        let a = [0i64, 5, 5, 1 << 40, 255];
        let b = [3i64, 0, 255];
        let got = present_labels(&[&a[..], &b[..]], &["a", "b"], Some(255)).expect("ok");
        assert_eq!(got, vec![0, 3, 5, 1 << 40]);
        let e = present_labels(&[&[0i32, -2][..]], &["target"], None).expect_err("must fail");
        assert!(
            e.to_string().contains("target holds the negative label -2"),
            "{e}"
        );
    }

    #[test]
    fn one_huge_label_costs_what_the_labels_present_cost() {
        // One voxel labelled 2^24 - 1 in a 12^3 map (issue 10.6): listed classes keep every
        // array at 2 entries and the lookup at a binary search.
        let n = 12 * 12 * 12;
        let mut p = vec![0i32; n];
        p[7] = (1 << 24) - 1;
        let t = vec![0i32; n];
        let classes = present_labels(&[&p[..], &t[..]], &["pred", "target"], None).expect("ok");
        assert_eq!(classes, vec![0, (1 << 24) - 1]);
        let c = confusion_counts(&p, &t, Classes::Listed(&classes), None).expect("ok");
        assert_eq!(
            (c.tp, c.pred, c.target),
            (
                vec![n as u64 - 1, 0],
                vec![n as u64 - 1, 1],
                vec![n as u64, 0]
            )
        );
        let pc = pairwise_counts(&[&p[..], &t[..], &p[..]], Classes::Listed(&classes)).expect("ok");
        assert_eq!(
            pc.volume,
            vec![n as u64 - 1, 1, n as u64, 0, n as u64 - 1, 1]
        );
        assert_eq!(
            pc.intersection,
            vec![n as u64 - 1, 0, n as u64 - 1, 1, n as u64 - 1, 0]
        );
        // A label outside the listed classes is an error naming the map.
        let e = confusion_counts(&p, &t, Classes::Listed(&[0]), None).expect_err("must fail");
        assert!(e.to_string().contains("pred holds label 16777215"), "{e}");
        assert!(confusion_counts(&p, &t, Classes::Listed(&[3, 1]), None).is_err());
    }

    proptest! {
        /// Listed classes (table or search lookup) give the dense counts of the listed labels.
        #[test]
        fn listed_classes_match_dense_counts(
            p in proptest::collection::vec(0u8..6, 1..300),
            seed in 0u64..1000,
            scale in prop_oneof![Just(1i64), Just(1i64 << 33)],
        ) {
            let mut rng = Rng::new(seed);
            let t: Vec<u8> = p.iter().map(|_| rng.below(6) as u8).collect();
            let dense = confusion_counts(&p, &t, Classes::Range(6), None).expect("ok");
            let wide = |v: &[u8]| v.iter().map(|&l| l as i64 * scale).collect::<Vec<i64>>();
            let (pw, tw) = (wide(&p), wide(&t));
            let classes = present_labels(&[&pw[..], &tw[..]], &["p", "t"], None).expect("ok");
            let sparse = confusion_counts(&pw, &tw, Classes::Listed(&classes), None).expect("ok");
            for (k, &c) in classes.iter().enumerate() {
                let d = (c / scale) as usize;
                prop_assert_eq!(sparse.tp[k], dense.tp[d]);
                prop_assert_eq!(sparse.pred[k], dense.pred[d]);
                prop_assert_eq!(sparse.target[k], dense.target[d]);
            }
            let pd = pairwise_counts(&[&p[..], &t[..]], Classes::Range(6)).expect("ok");
            let ps = pairwise_counts(&[&pw[..], &tw[..]], Classes::Listed(&classes)).expect("ok");
            for (k, &c) in classes.iter().enumerate() {
                let d = (c / scale) as usize;
                prop_assert_eq!(ps.intersection[k], pd.intersection[d]);
                prop_assert_eq!(ps.volume[k], pd.volume[d]);
            }
        }

        #[test]
        fn confusion_matches_naive(
            p in proptest::collection::vec(0u8..4, 1..400),
            seed in 0u64..1000,
        ) {
            let mut rng = Rng::new(seed);
            let t: Vec<u8> = p.iter().map(|_| if rng.next_f64() < 0.1 { 9 } else { rng.below(4) as u8 }).collect();
            let got = confusion_counts(&p, &t, Classes::Range(4), Some(9)).expect("ok");
            prop_assert_eq!(got, naive_confusion(&p, &t, 4, Some(9)));
        }

        #[test]
        fn pairwise_matches_naive(m in 2usize..6, n in 1usize..300, seed in 0u64..1000) {
            let mut rng = Rng::new(seed);
            let members: Vec<Vec<u8>> = (0..m).map(|_| random_map(&mut rng, n, 3, 0.6)).collect();
            let refs: Vec<&[u8]> = members.iter().map(|x| x.as_slice()).collect();
            prop_assert_eq!(pairwise_counts(&refs, Classes::Range(3)).expect("ok"), naive_pairwise(&members, 3));
        }
    }
}
