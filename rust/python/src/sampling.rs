//! Bindings of `medtrust_core::sampling`: power (Gumbel) noising and top-k.

use crate::convert::slice;
use crate::errors::run;
use medtrust_core::sampling;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// `ln S + Gumbel(0, 1/beta)` per position from the stream (seed, ids, chunk).
#[pyfunction]
fn power_noise<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f64>,
    beta: f64,
    seed: u64,
    ids: Vec<u64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let s = slice(py, &scores, "scores")?;
    Ok(run(py, || sampling::power_noise(s, beta, seed, &ids))?.into_pyarray(py))
}

/// Indices of the `k` best values, best first, ties by ascending index.
#[pyfunction]
fn top_k(py: Python<'_>, values: PyReadonlyArray1<'_, f64>, k: usize) -> PyResult<Vec<usize>> {
    let v = slice(py, &values, "values")?;
    run(py, || sampling::top_k(v, k))
}

/// `k` indices sampled without replacement with P proportional to `scores^beta`.
#[pyfunction]
fn gumbel_top_k(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    k: usize,
    beta: f64,
    seed: u64,
    ids: Vec<u64>,
) -> PyResult<Vec<usize>> {
    let s = slice(py, &scores, "scores")?;
    run(py, || sampling::gumbel_top_k(s, k, beta, seed, &ids))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(power_noise, m)?)?;
    m.add_function(wrap_pyfunction!(top_k, m)?)?;
    m.add_function(wrap_pyfunction!(gumbel_top_k, m)?)?;
    Ok(())
}
