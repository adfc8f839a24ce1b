use medtrust_core::risk::fused::{sort_packed, SortScratch};
use medtrust_core::rng::Rng;
use std::time::Instant;
fn main() {
    let mut rng = Rng::new(1);
    for size in [4096usize, 16384, 32768] {
        let total = 1 << 22;
        let data: Vec<u64> = (0..total).map(|_| rng.next_u64() >> 11).collect();
        let mut buf = SortScratch::default();
        let (mut ta, mut tb) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            let mut a = data.clone();
            let s = Instant::now();
            for c in a.chunks_mut(size) {
                c.sort_unstable();
            }
            ta = ta.min(s.elapsed().as_secs_f64());
            let mut b = data.clone();
            let s = Instant::now();
            for c in b.chunks_mut(size) {
                sort_packed(c, &mut buf);
            }
            tb = tb.min(s.elapsed().as_secs_f64());
            assert_eq!(a, b);
        }
        println!(
            "size {size}: sort_unstable {:.2} ns/elt, sort_packed {:.2} ns/elt",
            ta * 1e9 / total as f64,
            tb * 1e9 / total as f64
        );
    }
}
