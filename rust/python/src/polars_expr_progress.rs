//! Progress of long plugin calls (bootstrap), readable from Python while the query runs.
//!
//! A polars query runs the plugin on polars' threads with the GIL released, so the plugin
//! cannot call back into Python. Instead it adds the units of work it finishes (one group's
//! bootstrap of one CSF) to a counter under the caller's token (a kwarg), and
//! `medtrust._plugin.progress` polls `_native._plugin_progress(token)` from a thread to move a
//! progress bar. Token 0 counts nothing.

use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

static COUNTS: Mutex<Option<HashMap<u64, u64>>> = Mutex::new(None);

/// Add `n` finished units to `token`'s count (no-op for token 0).
pub(crate) fn tick(token: u64, n: u64) {
    if token == 0 {
        return;
    }
    // A poisoned lock only loses progress counts, never results.
    if let Ok(mut guard) = COUNTS.lock() {
        *guard
            .get_or_insert_with(HashMap::new)
            .entry(token)
            .or_insert(0) += n;
    }
}

/// Units counted under `token` so far; `clear=True` also forgets the token.
#[pyfunction]
#[pyo3(signature = (token, clear = false))]
fn _plugin_progress(token: u64, clear: bool) -> u64 {
    let Ok(mut guard) = COUNTS.lock() else {
        return 0;
    };
    let map = guard.get_or_insert_with(HashMap::new);
    if clear {
        map.remove(&token).unwrap_or(0)
    } else {
        map.get(&token).copied().unwrap_or(0)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_plugin_progress, m)?)?;
    Ok(())
}
