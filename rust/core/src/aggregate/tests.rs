use super::*;
use crate::rng::Rng;
use proptest::prelude::*;

fn naive_patch_min(x: &[f64], s: [usize; 3], p: usize) -> f64 {
    let w = [p.min(s[0]), p.min(s[1]), p.min(s[2])];
    let mut best = f64::INFINITY;
    for i in 0..=s[0] - w[0] {
        for j in 0..=s[1] - w[1] {
            for k in 0..=s[2] - w[2] {
                let mut acc = 0.0;
                for a in i..i + w[0] {
                    for b in j..j + w[1] {
                        for c in k..k + w[2] {
                            acc += x[(a * s[1] + b) * s[2] + c];
                        }
                    }
                }
                best = best.min(acc / (w[0] * w[1] * w[2]) as f64);
            }
        }
    }
    best
}

#[test]
fn boundary_and_band_of_a_square() {
    // 1-D view: labels 0 0 0 1 1 1 1 0 0 0 -> boundary at 2,3 and 6,7.
    let l = [0u8, 0, 0, 1, 1, 1, 1, 0, 0, 0];
    let b = boundary(&l, &[10]).expect("ok");
    let idx: Vec<usize> = (0..10).filter(|&i| b[i]).collect();
    assert_eq!(idx, vec![2, 3, 6, 7]);
    let band = boundary_band(&l, &[10], 4).expect("ok");
    let idx: Vec<usize> = (0..10).filter(|&i| band[i]).collect();
    assert_eq!(idx, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(boundary_band(&l, &[10], 3).is_err());
}

#[test]
fn aggregates_of_a_small_map() {
    let l = [0u8, 0, 0, 1, 1, 1, 1, 0, 0, 0];
    let c: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
    let opts = Options {
        width: 2,
        patch: 3,
        ..Default::default()
    };
    let a = aggregate(&c, &l, &[10], &opts).expect("ok");
    assert!((a.mean - 0.45).abs() < 1e-12);
    // outside the band {2,3,6,7}: 0,1,4,5,8,9 -> mean 4.5 / 10
    assert!((a.non_boundary_mean - 0.45).abs() < 1e-12);
    // foreground outside the band: 4, 5
    assert!((a.foreground_mean - 0.45).abs() < 1e-12);
    assert!((a.patch_min - 0.1).abs() < 1e-12);
    assert!((a.volume_weighted_mean - 0.45 / 4.0).abs() < 1e-12);
    assert_eq!((a.n_foreground, a.n_band), (4, 4));
}

#[test]
fn empty_foreground_falls_back_to_the_mean() {
    let l = [0u8; 6];
    let c = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6];
    let a = aggregate(&c, &l, &[2, 3], &Options::default()).expect("ok");
    assert!((a.foreground_mean - a.mean).abs() < 1e-12);
    assert!((a.distance_weighted_mean - a.mean).abs() < 1e-12);
    assert_eq!(a.n_foreground, 0);
}

#[test]
fn rejects_nan_and_bad_shapes() {
    let l = [0u8; 4];
    assert!(aggregate(&[0.1f32, f32::NAN, 0.0, 0.0], &l, &[4], &Options::default()).is_err());
    assert!(aggregate(&[0.1f32; 4], &l, &[3], &Options::default()).is_err());
    assert!(aggregate(&[0.1f32; 3], &l, &[4], &Options::default()).is_err());
    assert!(patch_min(&[0.1f32; 4], &[4], 0).is_err());
}

proptest! {
    #[test]
    fn patch_min_matches_naive(n0 in 1usize..6, n1 in 1usize..7, n2 in 1usize..8,
                               p in 1usize..5, seed in 0u64..500) {
        let mut rng = Rng::new(seed);
        let s = [n0, n1, n2];
        let x: Vec<f64> = (0..n0 * n1 * n2).map(|_| rng.next_f64()).collect();
        let got = patch_min(&x, &s, p).expect("ok");
        let want = naive_patch_min(&x, s, p);
        prop_assert!((got - want).abs() < 1e-9);
    }
}

#[test]
fn streamed_patch_min_spans_batches_row_blocks_and_column_blocks() {
    // 90 x 100 planes: two row blocks per plane, several planes per batch, 2+ column blocks.
    let s = [30, 90, 100];
    let mut rng = Rng::new(9);
    let x: Vec<f64> = (0..s.iter().product::<usize>())
        .map(|_| rng.next_f64())
        .collect();
    for p in [1, 3, 40] {
        let got = patch_min(&x, &s, p).expect("ok");
        let want = naive_patch_min(&x, s, p);
        assert!((got - want).abs() < 1e-9, "{p}: {got} vs {want}");
    }
}

#[test]
fn many_maps_equal_one_map_at_a_time() {
    struct Two<'a>(&'a [f32], &'a [f64]);
    impl MapSource for Two<'_> {
        type Scratch = ();
        fn n_maps(&self) -> usize {
            2
        }
        fn scratch(&self, _n: usize) {}
        fn fill(&self, r: Range<usize>, outs: &mut [Vec<f64>], _s: &mut ()) {
            for (o, x) in outs[0].iter_mut().zip(&self.0[r.clone()]) {
                *o = *x as f64;
            }
            for (o, x) in outs[1].iter_mut().zip(&self.1[r]) {
                *o = *x;
            }
        }
    }
    let s = [12, 30, 301];
    let n: usize = s.iter().product();
    let mut rng = Rng::new(2);
    let a: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32).collect();
    let b: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
    let labels: Vec<u8> = (0..n)
        .map(|v| {
            let (i, j, k) = (v / (30 * 301), v / 301 % 30, v % 301);
            (i > 3 && j > 8 && j < 20 && k > 50 && k < 200) as u8 + (k > 250) as u8
        })
        .collect();
    let opts = Options {
        spacing: Some(vec![2.0, 0.7, 0.7]),
        width: 6,
        ..Default::default()
    };
    let both = aggregate_many(&Two(&a, &b), &labels, &s, &opts).expect("ok");
    assert_eq!(both[0], aggregate(&a, &labels, &s, &opts).expect("ok"));
    assert_eq!(both[1], aggregate(&b, &labels, &s, &opts).expect("ok"));
    assert!(both[0].n_band > 0 && both[0].n_foreground > 0);
}
