//! Criterion benches of the risk kernels (`cargo bench -p medtrust-core`).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medtrust_core::bootstrap::{bootstrap_metrics, Prepared};
use medtrust_core::risk::{risk_metrics, Targets};
use medtrust_core::rng::Rng;
use std::hint::black_box;

fn data(n: usize, levels: u64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let conf: Vec<f64> = (0..n)
        .map(|_| rng.below(levels) as f64 / levels as f64)
        .collect();
    let res = conf
        .iter()
        .map(|&c| (rng.next_f64() > c) as u8 as f64)
        .collect();
    (conf, res)
}

fn bench(c: &mut Criterion) {
    let (conf, res) = data(10_000_000, 10_000, 1);
    c.bench_function("risk_metrics n=1e7 ties", |b| {
        b.iter(|| risk_metrics(black_box(&conf), black_box(&res), None, Targets::default()))
    });
    // All distinct: the radix sort path; throughput in bytes of (confidence, residual) read.
    let mut rng = Rng::new(3);
    let conf: Vec<f64> = (0..10_000_000).map(|_| rng.next_f64()).collect();
    let mut g = c.benchmark_group("sort path");
    g.sample_size(10)
        .throughput(Throughput::Bytes(16 * conf.len() as u64));
    g.bench_function("risk_metrics n=1e7 all distinct", |b| {
        b.iter(|| risk_metrics(black_box(&conf), black_box(&res), None, Targets::default()))
    });
    g.finish();
    let (conf, res) = data(10_000, 1_000, 2);
    c.bench_function("bootstrap 1000 x n=1e4", |b| {
        b.iter(|| {
            let p = Prepared::new(&conf, &res, None).expect("valid");
            bootstrap_metrics(&[p], 1000, 0, Targets::default())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
