//! Bindings of `medtrust_core::describe`.

use crate::convert::slice;
use crate::errors::run;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

/// (n_nonfinite, min, max, all_binary) of a float64 array in one parallel pass.
#[pyfunction]
fn describe<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f64>,
) -> PyResult<(usize, f64, f64, bool)> {
    let v = slice(py, &x, "x")?;
    let s = run(py, || Ok(medtrust_core::describe::describe(v)))?;
    Ok((s.n_nonfinite, s.min, s.max, s.binary))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    Ok(())
}
