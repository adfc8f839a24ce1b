//! `medtrust._native`: thin PyO3 bindings over `medtrust-core`.
//!
//! One file per core module. Each binding borrows its numpy inputs without copying, releases
//! the GIL around the kernel with [`errors::run`], and maps core errors to the exception classes
//! of `medtrust.exceptions`. No maths lives here.

use pyo3::prelude::*;

mod aggregate;
mod bootstrap;
mod convert;
mod describe;
mod errors;
mod overlap;
mod patches;
/// The polars expression plugin (symbols loaded by polars, not by Python).
mod polars_expr;
mod polars_expr_abi;
mod polars_expr_eval;
mod polars_expr_progress;
mod risk;
mod sampling;
mod surface;
mod uncertainty;

/// Threads the kernels use (`MEDTRUST_NUM_THREADS`, default all cores; 1 in a forked child).
#[pyfunction]
fn num_threads() -> usize {
    medtrust_core::parallel::num_threads()
}

/// Trigger a Rust panic inside a kernel (tests prove it surfaces as `InternalError`).
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    errors::run(py, || -> medtrust_core::Result<()> {
        panic!("deliberate test panic")
    })
}

/// Warn (once: module initialisation runs once per process) when `MEDTRUST_NUM_THREADS` holds
/// a value the pool cannot use, instead of silently falling back to all cores.
fn warn_invalid_threads(py: Python<'_>) -> PyResult<()> {
    use medtrust_core::parallel::{invalid_threads_message, thread_setting, ThreadSetting};
    if let ThreadSetting::Invalid(v) = thread_setting() {
        let category = py
            .import("medtrust.exceptions")?
            .getattr("MedtrustWarning")?;
        let msg = std::ffi::CString::new(invalid_threads_message(&v).replace('\0', ""))?;
        PyErr::warn(py, &category, &msg, 1)?;
    }
    Ok(())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    warn_invalid_threads(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    risk::register(m)?;
    bootstrap::register(m)?;
    describe::register(m)?;
    uncertainty::register(m)?;
    overlap::register(m)?;
    surface::register(m)?;
    aggregate::register(m)?;
    patches::register(m)?;
    sampling::register(m)?;
    polars_expr_progress::register(m)?;
    Ok(())
}
