//! Criterion benches of the risk kernels (`cargo bench -p medtrust-core`).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medtrust_core::bootstrap::{bootstrap_metrics, Prepared};
use medtrust_core::calibration::calibration_from_groups;
use medtrust_core::risk::{
    areas, group_by_confidence, optimal_binary, risk_metrics, roc_from_groups, working_points,
    Targets,
};
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

/// The evaluation before issue 13's fused walk, kept here to time it beside the walk in the
/// same run: the groups, then four separate passes over them (areas, ROC, working points,
/// calibration), each re-reading the grouped arrays.
fn four_passes(conf: &[f64], res: &[f64], t: Targets) -> [f64; 9] {
    let g = group_by_confidence(conf, res, None).expect("valid");
    let n: f64 = g.count.iter().sum();
    let err = g.sum.iter().sum::<f64>() / n;
    let (ao, _) = optimal_binary(err);
    let (a, gr) = areas(&g.count, &g.sum);
    let (au, fpr) = roc_from_groups(&g.count, &g.sum, t.tpr);
    let (sr, cov) = working_points(&g.count, &g.sum, t.coverage, t.risk);
    let (e, m, l) = calibration_from_groups(&g.conf, &g.count, &g.sum, t.bins);
    [a - ao, gr, au, fpr, sr, cov, e, m, l]
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
    // Small groups (the polars `group_by` case): one call per group on the caller's thread;
    // confidences rounded to 3 decimals as in benches/bench_polars.py. Throughput in groups, so
    // criterion's time per iteration / 1000 is the microseconds per group.
    let mut g = c.benchmark_group("small groups");
    for rows in [100usize, 1000] {
        let groups: Vec<(Vec<f64>, Vec<f64>)> =
            (0..1000).map(|s| data(rows, 1000, 100 + s)).collect();
        g.throughput(Throughput::Elements(groups.len() as u64));
        g.bench_function(
            format!("four passes (before) 1000 groups x {rows} rows"),
            |b| {
                b.iter(|| {
                    for (c, r) in &groups {
                        black_box(four_passes(black_box(c), black_box(r), Targets::default()));
                    }
                })
            },
        );
        g.bench_function(format!("risk_metrics 1000 groups x {rows} rows"), |b| {
            b.iter(|| {
                for (c, r) in &groups {
                    black_box(risk_metrics(
                        black_box(c),
                        black_box(r),
                        None,
                        Targets::default(),
                    ))
                    .expect("valid");
                }
            })
        });
    }
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
