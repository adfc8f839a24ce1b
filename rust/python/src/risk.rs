//! Bindings of `medtrust_core::risk` (calibration metrics come with it, from the same groups).

use crate::convert::slice;
use crate::errors::run;
use medtrust_core::risk;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// All risk-coverage metrics from one grouping pass; returns a dict keyed by metric name.
#[pyfunction]
#[pyo3(signature = (confids, residuals, labels=None, tpr=0.95, coverage=0.95, risk=0.05, bins=20))]
fn risk_metrics<'py>(
    py: Python<'py>,
    confids: PyReadonlyArray1<'py, f64>,
    residuals: PyReadonlyArray1<'py, f64>,
    labels: Option<PyReadonlyArray1<'py, f64>>,
    tpr: f64,
    coverage: f64,
    risk: f64,
    bins: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let (c, r, l) = inputs(py, &confids, &residuals, &labels)?;
    let t = risk::Targets {
        tpr,
        coverage,
        risk,
        bins,
    };
    let m = run(py, || risk::risk_metrics(c, r, l, t))?;
    metrics_dict(py, &m)
}

/// (confidences, residuals, labels) as the core takes them.
type Inputs<'a> = (&'a [f64], &'a [f64], Option<&'a [f64]>);

/// The (confidence, residual[, label]) slices of the metric bindings.
fn inputs<'a>(
    py: Python<'_>,
    confids: &'a PyReadonlyArray1<'_, f64>,
    residuals: &'a PyReadonlyArray1<'_, f64>,
    labels: &'a Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<Inputs<'a>> {
    let l = labels
        .as_ref()
        .map(|a| slice(py, a, "labels"))
        .transpose()?;
    Ok((
        slice(py, confids, "confids")?,
        slice(py, residuals, "residuals")?,
        l,
    ))
}

/// The metrics as a dict keyed by metric name.
fn metrics_dict<'py>(py: Python<'py>, m: &risk::RiskMetrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, v) in risk::METRIC_NAMES.iter().zip(m.to_array()) {
        d.set_item(*name, v)?;
    }
    Ok(d)
}

/// `risk_metrics` with the Python layer's input checks folded into the kernel's passes:
/// `None` when an input is NaN / infinite, a label is not an integer or (with `check_range`) a
/// residual lies outside [0, 1], so that the caller's validation reports it (or applies its
/// NaN policy); else (metrics dict, whether every residual is 0 or 1).
#[pyfunction]
#[pyo3(signature = (confids, residuals, labels=None, tpr=0.95, coverage=0.95, risk=0.05, bins=20, check_range=true))]
#[allow(clippy::too_many_arguments)]
fn risk_metrics_screened<'py>(
    py: Python<'py>,
    confids: PyReadonlyArray1<'py, f64>,
    residuals: PyReadonlyArray1<'py, f64>,
    labels: Option<PyReadonlyArray1<'py, f64>>,
    tpr: f64,
    coverage: f64,
    risk: f64,
    bins: usize,
    check_range: bool,
) -> PyResult<Option<(Bound<'py, PyDict>, bool)>> {
    let (c, r, l) = inputs(py, &confids, &residuals, &labels)?;
    let t = risk::Targets {
        tpr,
        coverage,
        risk,
        bins,
    };
    let Some((m, binary)) = run(py, || risk::risk_metrics_screened(c, r, l, t, check_range))?
    else {
        return Ok(None);
    };
    Ok(Some((metrics_dict(py, &m)?, binary)))
}

type CurveArrays<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

/// (coverages, selective_risks, generalized_risks, thresholds), coverage descending.
#[pyfunction]
fn risk_curve<'py>(
    py: Python<'py>,
    confids: PyReadonlyArray1<'py, f64>,
    residuals: PyReadonlyArray1<'py, f64>,
) -> PyResult<CurveArrays<'py>> {
    let c = slice(py, &confids, "confids")?;
    let r = slice(py, &residuals, "residuals")?;
    let cv = run(py, || risk::risk_coverage_curve(c, r))?;
    Ok((
        cv.coverages.into_pyarray(py),
        cv.selective_risks.into_pyarray(py),
        cv.generalized_risks.into_pyarray(py),
        cv.thresholds.into_pyarray(py),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RISK_METRIC_NAMES", risk::METRIC_NAMES.to_vec())?;
    m.add_function(wrap_pyfunction!(risk_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(risk_curve, m)?)?;
    m.add_function(wrap_pyfunction!(risk_metrics_screened, m)?)?;
    Ok(())
}
