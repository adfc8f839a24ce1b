//! Unit and property tests of the accumulator.

use super::kernels::{
    add_block_checked, add_block_dispatch, add_block_portable, check_block_kernel,
};
use super::*;
use proptest::prelude::*;

fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .map(|&x| if x > 0.0 { x * x.ln() } else { 0.0 })
        .sum::<f64>()
}

/// Members [M][C*V] of random softmax vectors.
fn members(m: usize, c: usize, v: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = crate::rng::Rng::new(seed);
    (0..m)
        .map(|_| {
            let mut out = vec![0.0f32; c * v];
            for i in 0..v {
                let w: Vec<f64> = (0..c).map(|_| rng.next_f64().powi(3)).collect();
                let s: f64 = w.iter().sum();
                for k in 0..c {
                    out[k * v + i] = (w[k] / s) as f32;
                }
            }
            out
        })
        .collect()
}

fn run(ms: &[Vec<f32>], c: usize) -> (Vec<f32>, Vec<f32>) {
    let v = ms[0].len() / c;
    let mut sp = vec![0.0; c * v];
    let mut se = vec![0.0; v];
    for m in ms {
        accumulate(m, c, &mut sp, &mut se, Some(1e-2)).expect("valid");
    }
    (sp, se)
}

/// Probabilities with the awkward values of the logarithm: 0, -0, subnormals, the smallest
/// normal, values near the sqrt(1/2) split, 1, and random softmax values in between.
fn awkward_classes(c: usize, v: usize, seed: u64) -> Vec<f32> {
    let mut p = members(1, c, v, seed).remove(0);
    let special = [
        0.0f32,
        -0.0,
        f32::from_bits(1),
        f32::from_bits(0x0040_0000),
        f32::MIN_POSITIVE,
        f32::from_bits(std::f32::consts::FRAC_1_SQRT_2.to_bits() - 1),
        std::f32::consts::FRAC_1_SQRT_2,
        1.0,
        1.0 + f32::EPSILON,
    ];
    for (i, x) in p.iter_mut().enumerate().step_by(7) {
        *x = special[(i / 7) % special.len()];
    }
    p
}

#[test]
fn vector_and_portable_paths_are_bit_identical() {
    // Ragged length (not a multiple of 8): the vector path's scalar tail is covered too.
    let (c, v) = (3usize, 3001usize);
    let p = awkward_classes(c, v, 8);
    let classes: Vec<&[f32]> = p.chunks(v).collect();
    for fresh in [false, true] {
        for keep_ent in [true, false] {
            let (mut a, mut b) = (vec![0.25f32; c * v], vec![0.25f32; c * v]);
            let (mut ea, mut eb) = (vec![0.5f32; v], vec![0.5f32; v]);
            {
                let mut sa: Vec<&mut [f32]> = a.chunks_mut(v).collect();
                let mut sb: Vec<&mut [f32]> = b.chunks_mut(v).collect();
                let (oa, ob) = if keep_ent {
                    (Some(&mut ea[..]), Some(&mut eb[..]))
                } else {
                    (None, None)
                };
                add_block_portable(&classes, &mut sa, oa, fresh);
                add_block_dispatch(&classes, &mut sb, ob, fresh);
            }
            // The checked add (the fresh-state path) writes the same sums as the plain one.
            let (mut cc, mut ec) = (vec![0.25f32; c * v], vec![0.5f32; v]);
            let (mut total, mut lo) = (vec![0.0f32; v], vec![0.0f32; v]);
            {
                let mut sc: Vec<&mut [f32]> = cc.chunks_mut(v).collect();
                let oc = keep_ent.then_some(&mut ec[..]);
                add_block_checked(&classes, &mut sc, oc, fresh, 1e-3, (&mut total, &mut lo));
            }
            assert_eq!(
                cc.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                a.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(
                ec.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                ea.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "fresh {fresh} entropies {keep_ent}");
            assert_eq!(bits(&ea), bits(&eb), "fresh {fresh} entropies {keep_ent}");
        }
    }
    let (mut a, mut ea) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    {
        let mut sa: Vec<&mut [f32]> = a.chunks_mut(v).collect();
        add_block_dispatch(&classes, &mut sa, Some(&mut ea), false);
    }
    let st = State {
        sum_p: &a,
        sum_ent: &ea,
        n_classes: c,
        n_members: 2,
    };
    let kinds = [
        MapKind::ClassWeightedEntropy(1),
        MapKind::MutualInformation,
        MapKind::PredictiveEntropy,
    ];
    let (mut o1, mut o2) = (vec![0.0f32; 3 * v], vec![0.0f32; 3 * v]);
    let mut scratch = vec![0.0f32; v];
    {
        let mut outs: Vec<&mut [f32]> = o1.chunks_mut(v).collect();
        st.fill_maps_kernel::<false>(&kinds, 0..v, &mut outs, &mut scratch);
    }
    {
        let mut outs: Vec<&mut [f32]> = o2.chunks_mut(v).collect();
        st.fill_maps(&kinds, 0..v, &mut outs, &mut scratch);
    }
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&o1), bits(&o2));
    // Odd ranges (start not a multiple of 8) give the same values as the whole.
    let mut o3 = vec![0.0f32; 3 * 995];
    {
        let mut outs: Vec<&mut [f32]> = o3.chunks_mut(995).collect();
        st.fill_maps(&kinds, 3..998, &mut outs, &mut scratch);
    }
    for k in 0..3 {
        assert_eq!(
            bits(&o3[k * 995..(k + 1) * 995]),
            bits(&o1[k * v + 3..k * v + 998])
        );
    }
}

#[test]
fn register_blocked_check_counts_like_the_portable_check() {
    // Invalid voxels of every kind (NaN, +-inf, negatives, sums off by more or less than the
    // tolerance, -0), one in a few, over a ragged length; the AVX2 count (sums and minima in
    // registers) must equal the portable kernel's for every tolerance.
    #[cfg(target_arch = "x86_64")]
    if simd::avx2() {
        let (c, v) = (4usize, 4099usize);
        let mut p = awkward_classes(c, v, 21);
        let bad = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -1e-30,
            -0.5,
            0.3,
            2.0,
            -0.0,
        ];
        let mut rng = crate::rng::Rng::new(5);
        for k in 0..400 {
            let i = rng.below((c * v) as u64) as usize;
            p[i] = bad[k % bad.len()];
        }
        let classes: Vec<&[f32]> = p.chunks(v).collect();
        for tol in [f32::INFINITY, 1e-2, 1e-3, 1e-6, 0.0] {
            let (mut total, mut lo) = (vec![0.0f32; v], vec![0.0f32; v]);
            let want = check_block_kernel(&classes, &mut total, &mut lo, tol);
            // SAFETY: AVX2 checked above; equal class lengths.
            let got = unsafe { super::avx2::count_invalid(&classes, tol) };
            assert_eq!(got, want, "tol {tol}");
            assert!(want > 0);
            // The fused add counts the same from its own loads, with and without entropies.
            for keep_ent in [true, false] {
                let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; v]);
                let mut segs: Vec<&mut [f32]> = sp.chunks_mut(v).collect();
                let ent = keep_ent.then_some(&mut se[..]);
                let fused =
                    add_block_checked(&classes, &mut segs, ent, true, tol, (&mut total, &mut lo));
                assert_eq!(fused, want, "fused, tol {tol}, entropies {keep_ent}");
            }
        }
        let ok = members(1, c, v, 3).remove(0);
        let classes: Vec<&[f32]> = ok.chunks(v).collect();
        // SAFETY: as above.
        assert_eq!(unsafe { super::avx2::count_invalid(&classes, 1e-3) }, 0);
    }
}

#[test]
fn fused_check_flags_each_single_invalid_voxel() {
    // The fused add only flags invalid voxels while it adds (a sticky lane mask) and counts a
    // flagged block afterwards: one invalid value of each kind, alone in the block, at lanes
    // of the paired step, the single step and the scalar tail, must be found under every
    // tolerance, with the count the portable check gives.
    let (c, v) = (3usize, 16 * 5 + 8 + 5);
    let ok = members(1, c, v, 9).remove(0);
    let kinds = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1e-30,
        2.0,
        0.4,
        -0.0,
    ];
    for tol in [f32::INFINITY, 1e-3, 1e-6, f32::NAN] {
        for &b in &kinds {
            for (class, voxel) in [
                (0, 0),
                (1, 7),
                (2, 21),
                (0, 47),
                (1, 83),
                (2, 90),
                (0, v - 1),
            ] {
                let mut p = ok.clone();
                p[class * v + voxel] = b;
                let classes: Vec<&[f32]> = p.chunks(v).collect();
                let (mut total, mut lo) = (vec![0.0f32; v], vec![0.0f32; v]);
                let want = check_block_kernel(&classes, &mut total, &mut lo, tol);
                for keep_ent in [true, false] {
                    let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; v]);
                    let mut segs: Vec<&mut [f32]> = sp.chunks_mut(v).collect();
                    let ent = keep_ent.then_some(&mut se[..]);
                    let (t2, l2) = (&mut total, &mut lo);
                    let got = add_block_checked(&classes, &mut segs, ent, true, tol, (t2, l2));
                    assert_eq!(got, want, "{b} at class {class} voxel {voxel}, tol {tol}");
                }
            }
        }
    }
}

#[test]
fn ln_slice_is_ln_fast_bit_for_bit() {
    // Random bit patterns over every positive finite f32 (not only (0, 1]), plus the specials;
    // on an AVX2 CPU this compares the explicit vector logarithm with the scalar one.
    let mut rng = crate::rng::Rng::new(77);
    let mut x: Vec<f32> = (0..200_003)
        .map(|_| f32::from_bits(rng.below(0x7f80_0000) as u32))
        .collect();
    x.extend(awkward_classes(1, 1001, 3));
    let mut out = vec![0.0f32; x.len()];
    ln_slice(&x, &mut out);
    for (&v, &o) in x.iter().zip(&out) {
        assert_eq!(o.to_bits(), ln_fast(v).to_bits(), "ln({v:e})");
    }
}

#[test]
fn ln_slice_mixes_subnormal_and_normal_lanes() {
    // The vector logarithm takes its subnormal form only for a vector holding a subnormal or
    // zero lane: every lane position gets such a value among normal ones (and whole vectors of
    // each kind), and every lane must still equal the scalar function.
    let tiny = [
        0.0f32,
        -0.0,
        f32::from_bits(1),
        1e-40,
        f32::MIN_POSITIVE * 0.999_999,
    ];
    let normal = [0.25f32, 1.0, f32::MIN_POSITIVE, 0.7, 3e-30, 0.999_999];
    let mut x = Vec::new();
    for lane in 0..8 {
        for (t, &v) in tiny.iter().enumerate() {
            x.extend((0..8).map(|l| {
                if l == lane {
                    v
                } else {
                    normal[(l + t) % normal.len()]
                }
            }));
        }
    }
    x.extend([tiny[0]; 8]);
    x.extend([normal[0]; 8]);
    x.extend(tiny.iter().chain(&normal[..3])); // all lanes tiny-or-normal, a ragged tail next
    x.push(1e-45);
    let mut out = vec![0.0f32; x.len()];
    ln_slice(&x, &mut out);
    for (&v, &o) in x.iter().zip(&out) {
        assert_eq!(o.to_bits(), ln_fast(v).to_bits(), "ln({v:e})");
    }
}

/// Every non-negative finite f32 through both paths; run in release mode
/// (`cargo test -p medtrust-core --release -- --ignored ln_paths_exhaustive`).
#[test]
#[ignore = "exhaustive: ~2.1e9 values, run once in release mode"]
fn ln_paths_exhaustive() {
    println!("AVX2 path: {}", simd::avx2());
    let n = 0x7f80_0000u32;
    let bad = (0..n)
        .into_par_iter()
        .step_by(1 << 16)
        .map(|start| {
            let x: Vec<f32> = (start..(start + (1 << 16)).min(n))
                .map(f32::from_bits)
                .collect();
            let mut out = vec![0.0f32; x.len()];
            ln_slice(&x, &mut out);
            x.iter()
                .zip(&out)
                .filter(|(&v, &o)| o.to_bits() != ln_fast(v).to_bits())
                .count()
        })
        .sum::<usize>();
    assert_eq!(bad, 0);
}

#[test]
fn first_member_store_equals_add_to_zeros() {
    // accumulate_first_at on garbage buffers == accumulate_at on zeroed ones, bit for bit
    // (-0 probabilities included), with and without entropies, whole and in slabs.
    let (c, v) = (3usize, 2 * BLOCK + 555);
    let p = awkward_classes(c, v, 12);
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    accumulate(&p, c, &mut sp, &mut se, None).expect("valid");
    let (mut sp2, mut se2) = (vec![7.5f32; c * v], vec![-3.0f32; v]);
    accumulate_first_at(&p, c, &mut sp2, &mut se2, 0, None).expect("valid");
    assert_eq!(bits(&sp), bits(&sp2));
    assert_eq!(bits(&se), bits(&se2));
    let mut sp3 = vec![f32::NAN; c * v];
    for (a, b) in [(0, 4000), (4000, BLOCK + 10), (BLOCK + 10, v)] {
        let slab: Vec<f32> = (0..c)
            .flat_map(|k| p[k * v + a..k * v + b].to_vec())
            .collect();
        accumulate_first_at(&slab, c, &mut sp3, &mut [], a, None).expect("valid");
    }
    assert_eq!(bits(&sp), bits(&sp3));
    // Then further members add as usual.
    let q = members(1, c, v, 13).remove(0);
    accumulate(&q, c, &mut sp, &mut se, Some(1e-2)).expect("valid");
    accumulate(&q, c, &mut sp2, &mut se2, Some(1e-2)).expect("valid");
    assert_eq!(bits(&sp), bits(&sp2));
    assert_eq!(bits(&se), bits(&se2));
}

#[test]
fn rejected_first_member_leaves_a_zeroed_slab() {
    let (c, v) = (2usize, 3 * BLOCK);
    let mut bad = members(1, c, v, 3).remove(0);
    bad[2 * BLOCK + 5] = 0.9;
    bad[BLOCK + 7] = f32::NAN;
    let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    let want = accumulate(&bad, c, &mut sp, &mut se, Some(1e-3)).expect_err("bad");
    let (mut sp2, mut se2) = (vec![4.0f32; c * v], vec![4.0f32; v]);
    let got = accumulate_first_at(&bad, c, &mut sp2, &mut se2, 0, Some(1e-3)).expect_err("bad");
    assert_eq!(want.to_string(), got.to_string());
    assert!(sp2.iter().chain(&se2).all(|&x| x.to_bits() == 0));
    // A slab: only its voxels are zeroed.
    let (mut sp3, mut se3) = (vec![4.0f32; c * (v + 10)], vec![4.0f32; v + 10]);
    assert!(accumulate_first_at(&bad, c, &mut sp3, &mut se3, 10, Some(1e-3)).is_err());
    for k in 0..c {
        let cl = &sp3[k * (v + 10)..(k + 1) * (v + 10)];
        assert!(cl[..10].iter().all(|&x| x == 4.0));
        assert!(cl[10..].iter().all(|&x| x.to_bits() == 0));
    }
    assert!(se3[..10].iter().all(|&x| x == 4.0) && se3[10..].iter().all(|&x| x == 0.0));
}

#[test]
fn stacked_members_equal_member_by_member_adds() {
    // Awkward values (0, -0, subnormals, the log's split points), ragged blocks, with and
    // without entropies, whole and as a slab at an offset, f32 and f16.
    let (c, v, m) = (3usize, 2 * BLOCK + 777, 4usize);
    let ms: Vec<Vec<f32>> = (0..m)
        .map(|k| awkward_classes(c, v, 40 + k as u64))
        .collect();
    let stack: Vec<f32> = ms.concat();
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for keep_ent in [true, false] {
        let ve = if keep_ent { v } else { 0 };
        let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; ve]);
        for p in &ms {
            accumulate(p, c, &mut sp, &mut se, None).expect("valid");
        }
        let (mut sp2, mut se2) = (vec![9.0f32; c * v], vec![9.0f32; ve]);
        accumulate_first_members_at(&stack, m, c, &mut sp2, &mut se2, 0, None).expect("valid");
        assert_eq!(bits(&sp), bits(&sp2));
        assert_eq!(bits(&se), bits(&se2));
        // A slab of voxels a..b at offset a of a state, one member at a time vs the stack.
        let (a, b) = (100, BLOCK + 300);
        let slab: Vec<f32> = ms
            .iter()
            .flat_map(|p| (0..c).flat_map(move |k| p[k * v + a..k * v + b].to_vec()))
            .collect();
        let (mut sp3, mut se3) = (vec![5.0f32; c * v], vec![5.0f32; ve]);
        accumulate_first_members_at(&slab, m, c, &mut sp3, &mut se3, a, None).expect("valid");
        for k in 0..c {
            assert_eq!(
                bits(&sp3[k * v + a..k * v + b]),
                bits(&sp[k * v + a..k * v + b])
            );
            assert!(sp3[k * v..k * v + a].iter().all(|&x| x == 5.0));
        }
        if keep_ent {
            assert_eq!(bits(&se3[a..b]), bits(&se[a..b]));
        }
    }
    // f16 stacks equal their f32 upcast.
    let s16: Vec<half::f16> = stack.iter().map(|&x| half::f16::from_f32(x)).collect();
    let s32: Vec<f32> = s16.iter().map(|x| x.to_f32()).collect();
    let (mut a, mut ae) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    let (mut b, mut be) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    accumulate_first_members_at(&s16, m, c, &mut a, &mut ae, 0, None).expect("valid");
    accumulate_first_members_at(&s32, m, c, &mut b, &mut be, 0, None).expect("valid");
    assert_eq!((bits(&a), bits(&ae)), (bits(&b), bits(&be)));
}

#[test]
fn rejected_stack_names_its_first_invalid_member_and_leaves_a_zeroed_state() {
    let (c, v, m) = (2usize, 3 * BLOCK, 3usize);
    let ms = members(m, c, v, 9);
    let mut stack: Vec<f32> = ms.concat();
    // Member 2: a NaN early; member 1: two bad voxels late (the lowest member must win even
    // though member 2's error sits in an earlier block).
    stack[2 * c * v + 3] = f32::NAN;
    stack[c * v + 2 * BLOCK + 5] = 0.9;
    stack[c * v + BLOCK + 7] = -0.1;
    let (mut sp, mut se) = (vec![7.0f32; c * v], vec![7.0f32; v]);
    let e = accumulate_first_members_at(&stack, m, c, &mut sp, &mut se, 0, Some(1e-3))
        .expect_err("bad");
    // What member 1 alone gives, prefixed with its index.
    let (mut sp1, mut se1) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    let alone =
        accumulate(&stack[c * v..2 * c * v], c, &mut sp1, &mut se1, Some(1e-3)).expect_err("bad");
    assert_eq!(e.to_string(), format!("member 1: {alone}"));
    assert!(sp.iter().chain(&se).all(|&x| x.to_bits() == 0));
    // Lengths that are not M x C x V, and no members.
    assert!(accumulate_first_members_at(&stack[1..], m, c, &mut sp, &mut se, 0, None).is_err());
    assert!(accumulate_first_members_at(&stack, 0, c, &mut sp, &mut se, 0, None).is_err());
}

#[test]
fn maps_match_direct_formulas() {
    let (c, v) = (3, 20_000);
    let ms = members(4, c, v, 1);
    let (sp, se) = run(&ms, c);
    let st = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: c,
        n_members: ms.len(),
    };
    let kinds = [
        MapKind::PredictiveEntropy,
        MapKind::ExpectedEntropy,
        MapKind::MutualInformation,
        MapKind::MaxProb,
        MapKind::ClassWeightedEntropy(2),
    ];
    let out = maps(&st, &kinds).expect("ok");
    for i in (0..v).step_by(997) {
        let pbar: Vec<f64> = (0..c)
            .map(|k| ms.iter().map(|m| m[k * v + i] as f64).sum::<f64>() / 4.0)
            .collect();
        let pe = entropy(&pbar);
        let ee = ms
            .iter()
            .map(|m| entropy(&(0..c).map(|k| m[k * v + i] as f64).collect::<Vec<_>>()))
            .sum::<f64>()
            / 4.0;
        let mx = pbar.iter().cloned().fold(0.0, f64::max);
        let want = [pe, ee, (pe - ee).max(0.0), mx, pe * pbar[2]];
        for (k, w) in want.iter().enumerate() {
            let got = out[k * v + i] as f64;
            assert!((got - w).abs() < 2e-5, "kind {k} voxel {i}: {got} vs {w}");
        }
    }
}

#[test]
fn half_input_equals_rounded_f32_input() {
    let ms = members(2, 2, 5000, 2);
    let ms16: Vec<Vec<half::f16>> = ms
        .iter()
        .map(|m| m.iter().map(|&x| half::f16::from_f32(x)).collect())
        .collect();
    let ms32: Vec<Vec<f32>> = ms16
        .iter()
        .map(|m| m.iter().map(|x| half::f16::to_f32(*x)).collect())
        .collect();
    let (sp, se) = run(&ms32, 2);
    let (mut sp2, mut se2) = (vec![0.0; 10_000], vec![0.0; 5000]);
    for m in &ms16 {
        accumulate(m, 2, &mut sp2, &mut se2, Some(1e-2)).expect("valid");
    }
    assert_eq!(sp, sp2);
    assert_eq!(se, se2);
}

#[test]
fn invalid_member_leaves_state_untouched() {
    let ms = members(1, 2, 3 * BLOCK, 3);
    let (mut sp, mut se) = run(&ms, 2);
    let (sp0, se0) = (sp.clone(), se.clone());
    let mut bad = ms[0].clone();
    bad[2 * BLOCK + 5] = 0.9; // class 0 of voxel 2*BLOCK+5 no longer sums to 1
    bad[3 * BLOCK + 7] = f32::NAN;
    let e = accumulate(&bad, 2, &mut sp, &mut se, Some(1e-3)).expect_err("bad");
    let msg = e.to_string();
    assert!(msg.starts_with("2 voxel(s)"), "{msg}");
    assert!(msg.contains(&format!("{}", 7)), "{msg}");
    assert_eq!((sp, se), (sp0, se0));
    // Without the sum check only the NaN is rejected.
    let (mut sp, mut se) = run(&ms, 2);
    let e = accumulate(&bad, 2, &mut sp, &mut se, None).expect_err("nan");
    assert!(e.to_string().starts_with("1 voxel(s)"));
    bad[3 * BLOCK + 7] = 0.5;
    accumulate(&bad, 2, &mut sp, &mut se, None).expect("sum not checked");
}

#[test]
fn shape_errors() {
    let mut sp = vec![0.0; 6];
    let mut se = vec![0.0; 3];
    assert!(accumulate(&[0.5f32; 4], 2, &mut sp, &mut se, None).is_err());
    assert!(accumulate(&[0.5f32; 6], 0, &mut sp, &mut se, None).is_err());
    assert!(accumulate(&[0.5f32; 6], 3, &mut sp, &mut se, None).is_err());
    let st = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: 2,
        n_members: 0,
    };
    assert!(maps(&st, &[MapKind::MaxProb]).is_err());
    let st = State { n_members: 1, ..st };
    assert!(maps(&st, &[MapKind::ClassWeightedEntropy(2)]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn bald_is_nonnegative_and_pe_bounded(m in 1usize..5, c in 1usize..6, v in 1usize..300,
                                           seed in 0u64..1000) {
        let ms = members(m, c, v, seed);
        let (sp, se) = run(&ms, c);
        let st = State { sum_p: &sp, sum_ent: &se, n_classes: c, n_members: m };
        let out = maps(&st, &[MapKind::PredictiveEntropy, MapKind::MutualInformation])
            .expect("ok");
        let cap = (c as f32).ln() + 1e-5;
        for i in 0..v {
            prop_assert!(out[i] >= -1e-6 && out[i] <= cap);
            prop_assert!(out[v + i] >= 0.0);
        }
    }
}

const CONFIDENCES: [Confidence; 4] = [
    Confidence::MaxSoftmax,
    Confidence::PredictiveEntropy,
    Confidence::ExpectedEntropy,
    Confidence::MutualInformation,
];

#[test]
fn confidence_maps_are_the_uncertainty_maps_turned_around() {
    let (c, v) = (4, 5000);
    let (sp, se) = run(&members(3, c, v, 21), c);
    let st = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: c,
        n_members: 3,
    };
    let conf = confidence_maps(&st, &CONFIDENCES).expect("ok");
    let unc = maps(
        &st,
        &[
            MapKind::MaxProb,
            MapKind::PredictiveEntropy,
            MapKind::ExpectedEntropy,
            MapKind::MutualInformation,
        ],
    )
    .expect("ok");
    let ln_c = (c as f64).ln() as f32;
    for i in 0..v {
        assert_eq!(conf[i], unc[i]);
        assert_eq!(conf[v + i], ln_c - unc[v + i]);
        assert_eq!(conf[2 * v + i], ln_c - unc[2 * v + i]);
        assert_eq!(conf[3 * v + i], -unc[3 * v + i]);
    }
}

#[test]
fn streamed_confidences_aggregate_like_the_maps() {
    use crate::aggregate::{aggregate, aggregate_many, Options};
    let (c, shape) = (3, [9usize, 40, 50]);
    let v: usize = shape.iter().product();
    let (sp, se) = run(&members(4, c, v, 5), c);
    let st = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: c,
        n_members: 4,
    };
    let labels: Vec<u8> = argmax(&sp, c, mean_scale(4)).expect("ok");
    let opts = Options {
        spacing: Some(vec![2.5, 0.8, 0.8]),
        patch: 4,
        ..Default::default()
    };
    let src = Confidences::new(st, &CONFIDENCES).expect("ok");
    let many = aggregate_many(&src, &labels, &shape, &opts).expect("ok");
    let full = confidence_maps(&st, &CONFIDENCES).expect("ok");
    for (k, got) in many.iter().enumerate() {
        let want = aggregate(&full[k * v..(k + 1) * v], &labels, &shape, &opts).expect("ok");
        assert_eq!(*got, want, "confidence {k}");
    }
}

#[test]
fn argmax_of_the_running_sum_is_the_argmax_of_the_mean() {
    let (c, v) = (5, 7000);
    let ms = members(3, c, v, 13);
    let (sp, _) = run(&ms, c);
    let scale = mean_scale(3);
    let got: Vec<u8> = argmax(&sp, c, scale).expect("ok");
    for i in 0..v {
        let mut best = (0, sp[i] * scale);
        for k in 1..c {
            let x = sp[k * v + i] * scale;
            if x > best.1 {
                best = (k, x);
            }
        }
        assert_eq!(got[i] as usize, best.0);
    }
    // one member, f16 and i32 labels; ties go to the lowest class
    let half: Vec<half::f16> = ms[0].iter().map(|&x| half::f16::from_f32(x)).collect();
    let a: Vec<i32> = argmax(&half, c, 1.0).expect("ok");
    let b: Vec<u8> = argmax(&ms[0], c, 1.0).expect("ok");
    assert!(a.iter().zip(&b).filter(|(x, y)| **x != **y as i32).count() < v / 50);
    let tie: Vec<u8> = argmax(&[0.5f32, 0.25, 0.5, 0.25], 2, 1.0).expect("ok");
    assert_eq!(tie, vec![0, 0]);
    assert!(argmax::<f32, u8>(&[0.5, f32::NAN], 2, 1.0).is_err());
    assert!(argmax::<f32, u8>(&[0.5; 3], 2, 1.0).is_err());
    assert!(argmax::<f32, u8>(&vec![0.0; 300], 300, 1.0).is_err());
    assert!(argmax::<f32, u8>(&[], 2, 1.0).is_err());
}

#[test]
fn slabs_at_offsets_equal_a_whole_member_bit_for_bit() {
    // A member added as three slabs (block boundaries not aligned with the slabs) gives the
    // state of the whole add; without sum_ent the probabilities are summed all the same.
    let (c, v) = (3usize, 2 * BLOCK + 777);
    let ms = members(2, c, v, 21);
    let (sp, se) = run(&ms, c);
    let (mut sp2, mut se2) = (vec![0.0f32; c * v], vec![0.0f32; v]);
    let mut sp3 = vec![0.0f32; c * v];
    for m in &ms {
        for (a, b) in [(0, 5000), (5000, BLOCK + 4321), (BLOCK + 4321, v)] {
            let slab: Vec<f32> = (0..c)
                .flat_map(|k| m[k * v + a..k * v + b].to_vec())
                .collect();
            accumulate_at(&slab, c, &mut sp2, &mut se2, a, Some(1e-2)).expect("valid");
            accumulate_at(&slab, c, &mut sp3, &mut [], a, Some(1e-2)).expect("valid");
        }
    }
    assert_eq!(sp, sp2);
    assert_eq!(se, se2);
    assert_eq!(sp, sp3);
    // A slab that does not fit, and a rejected slab leaving the state untouched.
    let slab = vec![0.5f32; c * 10];
    assert!(accumulate_at(&slab, c, &mut sp3, &mut [], v - 5, None).is_err());
    let before = sp3.clone();
    let mut bad = vec![1.0f32 / 3.0; c * 10];
    bad[4] = f32::NAN;
    assert!(accumulate_at(&bad, c, &mut sp3, &mut [], 100, None).is_err());
    assert_eq!(before, sp3);
}

#[test]
fn state_without_member_entropy_refuses_ee_and_mi() {
    let (c, v) = (2usize, 50usize);
    let ms = members(2, c, v, 4);
    let (sp, se) = run(&ms, c);
    let mut lean = vec![0.0f32; c * v];
    for m in &ms {
        accumulate(m, c, &mut lean, &mut [], Some(1e-2)).expect("valid");
    }
    let full = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: c,
        n_members: 2,
    };
    let st = State {
        sum_p: &lean,
        sum_ent: &[],
        n_classes: c,
        n_members: 2,
    };
    assert_eq!(st.n_voxels(), v);
    let ok = [MapKind::PredictiveEntropy, MapKind::ClassWeightedEntropy(1)];
    assert_eq!(maps(&st, &ok).expect("ok"), maps(&full, &ok).expect("ok"));
    for k in [MapKind::ExpectedEntropy, MapKind::MutualInformation] {
        let e = maps(&st, &[k]).expect_err("refused");
        assert!(e.to_string().contains("entropies"), "{e}");
    }
}
