//! Temporary phase profile of the all-distinct risk path (not committed).
use medtrust_core::risk::fused::binary_metrics;
use medtrust_core::risk::*;
use medtrust_core::rng::Rng;
use std::time::Instant;

fn main() {
    let n = 10_000_000;
    let mut rng = Rng::new(3);
    let conf: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
    let res: Vec<f64> = conf
        .iter()
        .map(|&c| ((rng.next_f64() > c) as u8) as f64)
        .collect();
    let targets: Vec<String> = std::env::args().skip(1).collect();
    let mut best = vec![f64::MAX; targets.len()];
    for _ in 0..4 {
        for (i, tg) in targets.iter().enumerate() {
            std::env::set_var("MT_TARGET", tg);
            let s = Instant::now();
            binary_metrics(&conf, &res, Targets::default(), None).unwrap();
            best[i] = best[i].min(s.elapsed().as_secs_f64());
        }
    }
    for (tg, b) in targets.iter().zip(best) {
        println!("target {tg}: best {:.1} ms", b * 1e3);
    }
}
