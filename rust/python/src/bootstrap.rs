//! Bindings of `medtrust_core::bootstrap`.

use crate::convert::slice;
use crate::errors::run;
use medtrust_core::bootstrap::{bootstrap_metrics, Prepared};
use medtrust_core::risk::{Targets, METRIC_NAMES};
use numpy::{IntoPyArray, PyArray3, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

/// (confids, residuals, optional class labels) of one set.
type SetArrays<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    Option<PyReadonlyArray1<'py, f64>>,
);

/// Paired bootstrap: `sets` is a list of (confids, residuals, labels or None). Returns an
/// array [n_resamples, len(sets), len(RISK_METRIC_NAMES)].
#[pyfunction]
#[pyo3(signature = (sets, n_resamples, seed, tpr=0.95, coverage=0.95, risk=0.05, bins=20))]
fn bootstrap_risk<'py>(
    py: Python<'py>,
    sets: Vec<SetArrays<'py>>,
    n_resamples: usize,
    seed: u64,
    tpr: f64,
    coverage: f64,
    risk: f64,
    bins: usize,
) -> PyResult<Bound<'py, PyArray3<f64>>> {
    let mut views = Vec::with_capacity(sets.len());
    for (c, r, l) in &sets {
        let l = match l {
            Some(a) => Some(slice(py, a, "labels")?),
            None => None,
        };
        views.push((slice(py, c, "confids")?, slice(py, r, "residuals")?, l));
    }
    let t = Targets {
        tpr,
        coverage,
        risk,
        bins,
    };
    let k = views.len();
    let flat = run(py, || {
        let prepared = views
            .iter()
            .map(|(c, r, l)| Prepared::new(c, r, *l))
            .collect::<medtrust_core::Result<Vec<_>>>()?;
        bootstrap_metrics(&prepared, n_resamples, seed, t)
    })?;
    flat.into_pyarray(py)
        .reshape([n_resamples, k, METRIC_NAMES.len()])
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bootstrap_risk, m)?)?;
    Ok(())
}
