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

/// What `MEDTRUST_NUM_THREADS` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThreadSetting {
    /// Unset or empty: all cores.
    Unset,
    /// A positive integer.
    Threads(usize),
    /// Anything else (`0`, `-1`, `abc`, `1.5`, non-UTF-8): all cores, and the bindings warn.
    Invalid(String),
}

/// Parse a `MEDTRUST_NUM_THREADS` value (`None`: unset).
pub fn parse_threads(value: Option<&str>) -> ThreadSetting {
    let Some(v) = value.map(str::trim) else {
        return ThreadSetting::Unset;
    };
    if v.is_empty() {
        return ThreadSetting::Unset;
    }
    match v.parse::<usize>() {
        Ok(n) if n > 0 => ThreadSetting::Threads(n),
        _ => ThreadSetting::Invalid(v.to_string()),
    }
}

/// The current `MEDTRUST_NUM_THREADS` setting.
pub fn thread_setting() -> ThreadSetting {
    match std::env::var("MEDTRUST_NUM_THREADS") {
        Ok(v) => parse_threads(Some(&v)),
        Err(std::env::VarError::NotPresent) => ThreadSetting::Unset,
        Err(std::env::VarError::NotUnicode(v)) => {
            ThreadSetting::Invalid(v.to_string_lossy().into_owned())
        }
    }
}

/// The warning for an invalid setting: what was given, what happens, what is accepted.
pub fn invalid_threads_message(value: &str) -> String {
    format!(
        "MEDTRUST_NUM_THREADS={value:?} is not a positive integer; using all cores (accepted: \
         an integer >= 1, or unset / empty for all cores)"
    )
}

/// Threads requested through `MEDTRUST_NUM_THREADS`, or `None` for "all cores".
fn requested_threads() -> Option<usize> {
    match thread_setting() {
        ThreadSetting::Threads(n) => Some(n),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_settings_parse() {
        assert_eq!(parse_threads(None), ThreadSetting::Unset);
        assert_eq!(parse_threads(Some(" ")), ThreadSetting::Unset);
        assert_eq!(parse_threads(Some(" 3 ")), ThreadSetting::Threads(3));
        for bad in ["0", "-1", "abc", "1.5", "99999999999999999999999"] {
            assert_eq!(
                parse_threads(Some(bad)),
                ThreadSetting::Invalid(bad.into()),
                "{bad}"
            );
        }
        assert!(invalid_threads_message("0").contains("integer >= 1"));
    }
}
