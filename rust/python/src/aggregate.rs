//! Bindings of `medtrust_core::aggregate`.

use crate::convert::{confidences, state_view, ConfMap, LabelMap};
use crate::errors::{run, shape_mismatch};
use crate::{with_conf, with_labels};
use medtrust_core::aggregate::{self, Aggregates, Options};
use medtrust_core::uncertainty::Confidences;
use numpy::PyReadonlyArray1;
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Every aggregate of one confidence map given the predicted label map; returns a dict.
#[pyfunction]
#[pyo3(signature = (confidence, labels, width=4, patch=10, spacing=None, saturate=4.0, distance=true))]
fn aggregate_confidence<'py>(
    py: Python<'py>,
    confidence: ConfMap<'py>,
    labels: LabelMap<'py>,
    width: usize,
    patch: usize,
    spacing: Option<Vec<f64>>,
    saturate: f64,
    distance: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let shape = confidence.shape();
    if shape != labels.shape() {
        return Err(shape_mismatch(format!(
            "confidence and label map shapes differ: {:?} vs {:?}",
            shape,
            labels.shape()
        )));
    }
    let opts = Options {
        width,
        patch,
        spacing,
        saturate,
        distance,
    };
    let a = with_conf!(&confidence, c => with_labels!(&labels, l => {
        run(py, || aggregate::aggregate(c, l, &shape, &opts))?
    }));
    to_dict(py, &a)
}

fn to_dict<'py>(py: Python<'py>, a: &Aggregates) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mean", a.mean)?;
    d.set_item("non_boundary_mean", a.non_boundary_mean)?;
    d.set_item("foreground_mean", a.foreground_mean)?;
    d.set_item("patch_min", a.patch_min)?;
    d.set_item("distance_weighted_mean", a.distance_weighted_mean)?;
    d.set_item("volume_weighted_mean", a.volume_weighted_mean)?;
    d.set_item("n_foreground", a.n_foreground)?;
    d.set_item("n_band", a.n_band)?;
    Ok(d)
}

/// Boolean band of width `width` around the label boundaries (same shape as `labels`).
#[pyfunction]
#[pyo3(signature = (labels, width=4))]
fn boundary_band<'py>(
    py: Python<'py>,
    labels: LabelMap<'py>,
    width: usize,
) -> PyResult<Bound<'py, PyArrayDyn<bool>>> {
    let shape = labels.shape();
    let band = with_labels!(&labels, l => run(py, || aggregate::boundary_band(l, &shape, width))?);
    band.into_pyarray(py).reshape(shape)
}

/// Minimum window mean over all windows of edge `size` (clipped to the image).
#[pyfunction]
#[pyo3(signature = (confidence, size=10))]
fn patch_min<'py>(py: Python<'py>, confidence: ConfMap<'py>, size: usize) -> PyResult<f64> {
    let shape = confidence.shape();
    with_conf!(&confidence, c => run(py, || aggregate::patch_min(c, &shape, size)))
}

/// Every aggregate of each pixel confidence `kinds` (msr, pe, ee, mi) of an accumulator state,
/// streamed from the state (no confidence map is materialised), given the predicted label
/// map; returns one dict per kind.
#[pyfunction]
#[pyo3(signature = (sum_p, sum_ent, n_classes, n_members, kinds, labels, width=4, patch=10, spacing=None, saturate=4.0, distance=true))]
fn aggregate_confidences<'py>(
    py: Python<'py>,
    sum_p: PyReadonlyArray1<'py, f32>,
    sum_ent: PyReadonlyArray1<'py, f32>,
    n_classes: usize,
    n_members: usize,
    kinds: Vec<String>,
    labels: LabelMap<'py>,
    width: usize,
    patch: usize,
    spacing: Option<Vec<f64>>,
    saturate: f64,
    distance: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let kinds = confidences(py, &kinds)?;
    let shape = labels.shape().to_vec();
    let state = state_view(py, &sum_p, &sum_ent, n_classes, n_members)?;
    // Voxels from sum_p: sum_ent is empty when the members' entropies are not kept.
    if shape.iter().product::<usize>() != state.n_voxels() {
        return Err(shape_mismatch(format!(
            "label map shape {:?} does not match the accumulator's {} voxels",
            shape,
            state.n_voxels()
        )));
    }
    let opts = Options {
        width,
        patch,
        spacing,
        saturate,
        distance,
    };
    let all = with_labels!(&labels, l => run(py, || {
        let src = Confidences::new(state, &kinds)?;
        aggregate::aggregate_many(&src, l, &shape, &opts)
    })?);
    all.iter().map(|a| to_dict(py, a)).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate_confidences, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_confidence, m)?)?;
    m.add_function(wrap_pyfunction!(boundary_band, m)?)?;
    m.add_function(wrap_pyfunction!(patch_min, m)?)?;
    Ok(())
}
