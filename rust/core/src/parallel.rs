//! The rayon pool every kernel runs in.
//!
//! Built lazily on first use, sized by `MEDTRUST_NUM_THREADS` (default: all cores). A process
//! forked after the pool was built must not touch it (its worker threads did not survive the
//! fork), so kernels run serially in such a child.

use std::sync::OnceLock;

struct Pool {
    pool: Option<rayon::ThreadPool>,
    pid: u32,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Threads requested through `MEDTRUST_NUM_THREADS`, or `None` for "all cores".
fn requested_threads() -> Option<usize> {
    std::env::var("MEDTRUST_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("medtrust-{i}"));
        if let Some(n) = requested_threads() {
            builder = builder.num_threads(n);
        }
        Pool {
            pool: builder.build().ok(),
            pid: std::process::id(),
        }
    })
}

/// Number of threads kernels will use (1 in a forked child).
pub fn num_threads() -> usize {
    let p = pool();
    match &p.pool {
        Some(tp) if p.pid == std::process::id() => tp.current_num_threads(),
        _ => 1,
    }
}

/// Run `f` inside the medtrust pool (or serially where the pool cannot be used).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let p = pool();
    match &p.pool {
        Some(tp) if p.pid == std::process::id() => tp.install(f),
        _ => {
            // A single-threaded pool built on the spot keeps rayon calls inside `f` valid.
            match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                Ok(tp) => tp.install(f),
                Err(_) => f(),
            }
        }
    }
}

/// Below this many elements a kernel runs serially: the fork/join overhead would dominate.
pub const SERIAL_BELOW: usize = 1 << 15;
