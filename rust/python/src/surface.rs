//! Bindings of `medtrust_core::surface`.

use crate::convert::{contiguous, surface_kind};
use crate::errors::{run, shape_mismatch};
use medtrust_core::surface;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type DistanceArrays<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    bool,
    bool,
);

/// (pred->target distances, pred weights, target->pred distances, target weights, pred empty,
/// target empty); each distance list sorted by (distance, weight).
#[pyfunction]
#[pyo3(signature = (pred, target, spacing, surface="voxels"))]
fn surface_distances<'py>(
    py: Python<'py>,
    pred: PyReadonlyArrayDyn<'py, bool>,
    target: PyReadonlyArrayDyn<'py, bool>,
    spacing: Vec<f64>,
    surface: &str,
) -> PyResult<DistanceArrays<'py>> {
    let kind = surface_kind(py, surface)?;
    if pred.shape() != target.shape() {
        return Err(shape_mismatch(format!(
            "pred and target shapes differ: {:?} vs {:?}",
            pred.shape(),
            target.shape()
        )));
    }
    let shape = pred.shape().to_vec();
    let (p, t) = (contiguous(&pred)?, contiguous(&target)?);
    let d = run(py, || {
        surface::surface_distances(p, t, &shape, &spacing, kind)
    })?;
    Ok((
        d.pred_to_target.into_pyarray(py),
        d.pred_weights.into_pyarray(py),
        d.target_to_pred.into_pyarray(py),
        d.target_weights.into_pyarray(py),
        d.pred_empty,
        d.target_empty,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(surface_distances, m)?)?;
    Ok(())
}
