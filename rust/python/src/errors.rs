//! The one mapping from core errors (and panics) to `medtrust.exceptions`.

use medtrust_core::CoreError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Instantiate `medtrust.exceptions.<name>(msg)`; falls back to RuntimeError if unimportable.
fn raise(py: Python<'_>, name: &str, msg: String) -> PyErr {
    let made = py
        .import("medtrust.exceptions")
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1((msg.clone(),)));
    match made {
        Ok(inst) => PyErr::from_value(inst),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

/// The exception class of each core error variant.
pub fn to_py(py: Python<'_>, e: CoreError) -> PyErr {
    let class = match &e {
        CoreError::Empty { .. } => "EmptyInputError",
        CoreError::ShapeMismatch { .. } => "ShapeMismatchError",
        CoreError::InvalidValue(_) => "InvalidValueError",
        CoreError::InvalidArgument(_) => "InvalidArgumentError",
    };
    raise(py, class, e.to_string())
}

/// Run a kernel with the GIL released; map its error, and turn a panic into `InternalError`
/// (a bare `PanicException` would escape `except Exception`).
pub fn run<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> medtrust_core::Result<T> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(raise(
                py,
                "InternalError",
                format!("internal error in a medtrust kernel (please report): {what}"),
            ))
        }
    }
}

/// A contiguous view of a numpy array, or a clear error (Python coerces first, so this is rare).
pub fn slice<'a, T: numpy::Element>(
    py: Python<'_>,
    a: &'a numpy::PyReadonlyArray1<'_, T>,
    name: &str,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        raise(
            py,
            "InvalidArgumentError",
            format!("{name} must be a contiguous 1-D array"),
        )
    })
}

/// An `InvalidArgumentError` with `msg` (for binding-level argument checks).
pub fn invalid_argument(py: Python<'_>, msg: String) -> PyErr {
    raise(py, "InvalidArgumentError", msg)
}
