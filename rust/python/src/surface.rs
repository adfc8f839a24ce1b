//! Bindings of `medtrust_core::surface`.

use crate::convert::{contiguous, surface_kind};
use crate::errors::{run, shape_mismatch};
use medtrust_core::{parallel, surface};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

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
    Ok(to_py(py, d))
}

fn to_py(py: Python<'_>, d: surface::Distances) -> DistanceArrays<'_> {
    (
        d.pred_to_target.into_pyarray(py),
        d.pred_weights.into_pyarray(py),
        d.target_to_pred.into_pyarray(py),
        d.target_weights.into_pyarray(py),
        d.pred_empty,
        d.target_empty,
    )
}

/// The distances of every (item, channel) pair of two `[B, C, ...]` masks (2-D or 3-D images)
/// in one call: the B x C pairs run in parallel on the rayon pool with the GIL released, item
/// `b` with `spacings[b]`. Returns the pairs in row-major (b, c) order, each as
/// [`surface_distances`] returns it.
#[pyfunction]
#[pyo3(signature = (pred, target, spacings, surface="voxels"))]
fn surface_distances_batch<'py>(
    py: Python<'py>,
    pred: PyReadonlyArrayDyn<'py, bool>,
    target: PyReadonlyArrayDyn<'py, bool>,
    spacings: Vec<Vec<f64>>,
    surface: &str,
) -> PyResult<Vec<DistanceArrays<'py>>> {
    let kind = surface_kind(py, surface)?;
    if pred.shape() != target.shape() {
        return Err(shape_mismatch(format!(
            "pred and target shapes differ: {:?} vs {:?}",
            pred.shape(),
            target.shape()
        )));
    }
    let shape = pred.shape().to_vec();
    if shape.len() < 3 {
        return Err(crate::errors::InvalidArgumentError::new_err(format!(
            "batched surface distances need [B, C, ...spatial] masks, got shape {shape:?}"
        )));
    }
    let (items, channels, spatial) = (shape[0], shape[1], shape[2..].to_vec());
    if spacings.len() != items {
        return Err(shape_mismatch(format!(
            "spacings gives {} items but the batch has {items}",
            spacings.len()
        )));
    }
    let (p, t) = (contiguous(&pred)?, contiguous(&target)?);
    let voxels: usize = spatial.iter().product();
    let pairs = items * channels;
    let all = run(py, || {
        parallel::install(|| {
            (0..pairs)
                .into_par_iter()
                .map(|k| {
                    let at = k * voxels..(k + 1) * voxels;
                    let sp = &spacings[k / channels.max(1)];
                    surface::surface_distances(&p[at.clone()], &t[at], &spatial, sp, kind)
                })
                .collect::<medtrust_core::Result<Vec<_>>>()
        })
    })?;
    Ok(all.into_iter().map(|d| to_py(py, d)).collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(surface_distances, m)?)?;
    m.add_function(wrap_pyfunction!(surface_distances_batch, m)?)?;
    Ok(())
}
