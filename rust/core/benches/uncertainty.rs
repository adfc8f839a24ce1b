//! Criterion benches of the uncertainty kernels, throughput in bytes of input read per second
//! (`cargo bench -p medtrust-core --bench uncertainty`). Compare with the machine's copy
//! bandwidth (20-27 GB/s on the 2-core CI machine): these kernels should sit near it.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medtrust_core::patches::{pool_uncertainty, Grid};
use medtrust_core::rng::Rng;
use medtrust_core::uncertainty::{
    accumulate, accumulate_first_at, accumulate_first_members_at, ln_fast, ln_slice, maps, MapKind,
    State,
};
use std::hint::black_box;

const C: usize = 4;
const SHAPE: [usize; 3] = [64, 128, 128];

fn member(v: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut p = vec![0.0f32; C * v];
    for i in 0..v {
        let w: [f64; C] = std::array::from_fn(|_| rng.next_f64() + 1e-3);
        let t: f64 = w.iter().sum();
        for c in 0..C {
            p[c * v + i] = (w[c] / t) as f32;
        }
    }
    p
}

fn bench(c: &mut Criterion) {
    let v = SHAPE.iter().product::<usize>();
    let p = member(v, 1);
    let bytes = (p.len() * 4) as u64;
    let mut g = c.benchmark_group("uncertainty");
    g.sample_size(10).throughput(Throughput::Bytes(bytes));
    let (mut sp, mut se) = (vec![0.0f32; C * v], vec![0.0f32; v]);
    g.bench_function("accumulate with member entropies", |b| {
        b.iter(|| accumulate(black_box(&p), C, &mut sp, &mut se, Some(1e-3)))
    });
    g.bench_function("accumulate probabilities only", |b| {
        b.iter(|| accumulate(black_box(&p), C, &mut sp, &mut [], Some(1e-3)))
    });
    g.bench_function("first member, probabilities only (one pass)", |b| {
        b.iter(|| accumulate_first_at(black_box(&p), C, &mut sp, &mut [], 0, Some(1e-3)))
    });
    // A stack of 5 members in one pass (the fresh state: check and add from one read of p).
    let stack: Vec<f32> = (0..5).flat_map(|m| member(v, 10 + m)).collect();
    g.throughput(Throughput::Bytes((stack.len() * 4) as u64));
    g.bench_function("stack of 5 members with member entropies (one pass)", |b| {
        b.iter(|| {
            accumulate_first_members_at(black_box(&stack), 5, C, &mut sp, &mut se, 0, Some(1e-3))
        })
    });
    g.throughput(Throughput::Bytes(bytes));
    let st = State {
        sum_p: &sp,
        sum_ent: &se,
        n_classes: C,
        n_members: 1,
    };
    let kinds = [
        MapKind::PredictiveEntropy,
        MapKind::ExpectedEntropy,
        MapKind::MutualInformation,
    ];
    g.bench_function("maps PE + EE + MI (state read)", |b| {
        b.iter(|| maps(black_box(&st), &kinds))
    });
    let grid = Grid::new(SHAPE, [32, 32, 32], [8, 8, 8], true).expect("valid grid");
    let clasp: Vec<MapKind> = (1..C)
        .map(MapKind::ClassWeightedEntropy)
        .chain([MapKind::PredictiveEntropy])
        .collect();
    g.bench_function(
        "pool_uncertainty ClaSP maps, 32^3 stride 8 (state read)",
        |b| b.iter(|| pool_uncertainty(black_box(&st), &clasp, &grid)),
    );
    g.finish();
    // The logarithm alone (single thread, in cache): the explicit AVX2 path vs the portable
    // scalar loop (compiled for the baseline x86-64 target, SSE2).
    let x: Vec<f32> = p[..1 << 14].to_vec();
    let mut out = vec![0.0f32; x.len()];
    let mut g = c.benchmark_group("ln");
    g.throughput(Throughput::Bytes((x.len() * 4) as u64));
    g.bench_function("ln_slice (AVX2 where available)", |b| {
        b.iter(|| ln_slice(black_box(&x), &mut out))
    });
    g.bench_function("ln_fast per value (portable)", |b| {
        b.iter(|| {
            for (o, &v) in out.iter_mut().zip(black_box(&x)) {
                *o = ln_fast(v);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
