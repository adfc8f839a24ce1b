//! The one mapping from core errors (and panics) to `medtrust.exceptions`.
//!
//! Every error a binding raises goes through here, as one of the typed handles below: the
//! classes are imported from `medtrust.exceptions` once and cached by PyO3, so a binding can
//! never raise a bare `ValueError` / `TypeError` that escapes `except MedtrustError`.

use medtrust_core::CoreError;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::import_exception!(medtrust.exceptions, EmptyInputError);
pyo3::import_exception!(medtrust.exceptions, ShapeMismatchError);
pyo3::import_exception!(medtrust.exceptions, InvalidValueError);
pyo3::import_exception!(medtrust.exceptions, InvalidArgumentError);
pyo3::import_exception!(medtrust.exceptions, DTypeError);
pyo3::import_exception!(medtrust.exceptions, InternalError);

/// The exception of each core error variant.
pub fn to_py(_py: Python<'_>, e: CoreError) -> PyErr {
    let msg = e.to_string();
    match e {
        CoreError::Empty { .. } => EmptyInputError::new_err(msg),
        CoreError::ShapeMismatch { .. } => ShapeMismatchError::new_err(msg),
        CoreError::InvalidValue(_) => InvalidValueError::new_err(msg),
        CoreError::InvalidArgument(_) => InvalidArgumentError::new_err(msg),
    }
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
            Err(InternalError::new_err(format!(
                "internal error in a medtrust kernel (please report): {what}"
            )))
        }
    }
}

/// An `InvalidArgumentError` with `msg` (for binding-level argument checks).
pub fn invalid_argument(_py: Python<'_>, msg: String) -> PyErr {
    InvalidArgumentError::new_err(msg)
}

/// A `ShapeMismatchError` with `msg`.
pub fn shape_mismatch(msg: String) -> PyErr {
    ShapeMismatchError::new_err(msg)
}

/// A `DTypeError` with `msg`.
pub fn dtype_error(msg: &str) -> PyErr {
    DTypeError::new_err(msg.to_string())
}
