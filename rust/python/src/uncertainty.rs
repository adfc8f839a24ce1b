//! Bindings of `medtrust_core::uncertainty`: the state lives in numpy buffers owned by
//! `medtrust.uncertainty.EnsembleAccumulator`, updated in place.

use crate::errors::{invalid_argument, run};
use medtrust_core::uncertainty::{self, Confidence, MapKind, State};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn,
    PyReadwriteArray1, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

/// One member's probabilities, float32 or float16 (upcast per element in the kernel).
#[derive(FromPyObject)]
enum Probs<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F16(PyReadonlyArrayDyn<'py, half::f16>),
}

/// Parse a map name (and its class index where it has one).
pub fn map_kind(py: Python<'_>, name: &str, class: Option<usize>) -> PyResult<MapKind> {
    let need = |k: fn(usize) -> MapKind| {
        class
            .map(k)
            .ok_or_else(|| invalid_argument(py, format!("map {name:?} needs a class index")))
    };
    Ok(match name {
        "pe" => MapKind::PredictiveEntropy,
        "ee" => MapKind::ExpectedEntropy,
        "mi" => MapKind::MutualInformation,
        "max_prob" => MapKind::MaxProb,
        "class_pe" => need(MapKind::ClassWeightedEntropy)?,
        "mean_prob" => need(MapKind::MeanProb)?,
        _ => {
            return Err(invalid_argument(
                py,
                format!("unknown map {name:?}; expected pe, ee, mi, max_prob, class_pe, mean_prob"),
            ))
        }
    })
}

/// Add one member's C-contiguous probabilities [C, ...] to `sum_p` [C*V] and `sum_ent` [V].
#[pyfunction]
#[pyo3(signature = (sum_p, sum_ent, probs, n_classes, sum_tol=None))]
fn uncertainty_accumulate<'py>(
    py: Python<'py>,
    mut sum_p: PyReadwriteArray1<'py, f32>,
    mut sum_ent: PyReadwriteArray1<'py, f32>,
    probs: Probs<'py>,
    n_classes: usize,
    sum_tol: Option<f32>,
) -> PyResult<()> {
    let contiguous = || invalid_argument(py, "probs must be C-contiguous".to_string());
    let sp = sum_p
        .as_slice_mut()
        .map_err(|_| invalid_argument(py, "sum_p must be contiguous".into()))?;
    let se = sum_ent
        .as_slice_mut()
        .map_err(|_| invalid_argument(py, "sum_ent must be contiguous".into()))?;
    match &probs {
        Probs::F32(a) => {
            let p = a.as_slice().map_err(|_| contiguous())?;
            run(py, || {
                uncertainty::accumulate(p, n_classes, sp, se, sum_tol)
            })
        }
        Probs::F16(a) => {
            let p = a.as_slice().map_err(|_| contiguous())?;
            run(py, || {
                uncertainty::accumulate(p, n_classes, sp, se, sum_tol)
            })
        }
    }
}

/// (sum_p, sum_ent) of an accumulator state.
type StateArrays<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>);

/// Zeroed f32 buffer whose pages are mapped now, from one thread. Left lazy, the pages would
/// be first touched by the parallel accumulation kernel, and concurrent page faults are slow on
/// virtual machines (measured here: ~0.45 s for a KiTS-size state vs ~0.13 s touched serially).
fn prefaulted_zeros(n: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; n];
    for i in (0..n).step_by(1024) {
        // SAFETY: `i < n = v.len()`; a volatile write is not optimised away, so the page is
        // mapped here.
        unsafe { std::ptr::write_volatile(v.as_mut_ptr().add(i), 0.0) };
    }
    v
}

/// A zeroed accumulator state (sum_p [C*V], sum_ent [V]) allocated by Rust, pages prefaulted.
#[pyfunction]
fn uncertainty_state<'py>(
    py: Python<'py>,
    n_classes: usize,
    n_voxels: usize,
) -> PyResult<StateArrays<'py>> {
    let total = n_classes
        .checked_mul(n_voxels)
        .ok_or_else(|| invalid_argument(py, "accumulator state too large".into()))?;
    let (sp, se) = py.detach(|| (prefaulted_zeros(total), prefaulted_zeros(n_voxels)));
    Ok((sp.into_pyarray(py), se.into_pyarray(py)))
}

/// A borrowed view of an accumulator state held in two numpy buffers (shared by every binding
/// that reads the state: maps, confidences, pooling, aggregation).
pub fn state_view<'a>(
    py: Python<'_>,
    sum_p: &'a PyReadonlyArray1<'_, f32>,
    sum_ent: &'a PyReadonlyArray1<'_, f32>,
    n_classes: usize,
    n_members: usize,
) -> PyResult<State<'a>> {
    Ok(State {
        sum_p: crate::errors::slice(py, sum_p, "sum_p")?,
        sum_ent: crate::errors::slice(py, sum_ent, "sum_ent")?,
        n_classes,
        n_members,
    })
}

/// Parse a list of (map name, class or None) pairs.
pub fn map_kinds(py: Python<'_>, kinds: &[(String, Option<usize>)]) -> PyResult<Vec<MapKind>> {
    kinds.iter().map(|(n, c)| map_kind(py, n, *c)).collect()
}

/// Voxel maps [len(kinds), V] from the state; `kinds` is a list of (name, class or None).
#[pyfunction]
fn uncertainty_maps<'py>(
    py: Python<'py>,
    sum_p: PyReadonlyArray1<'py, f32>,
    sum_ent: PyReadonlyArray1<'py, f32>,
    n_classes: usize,
    n_members: usize,
    kinds: Vec<(String, Option<usize>)>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let kinds = map_kinds(py, &kinds)?;
    let state = state_view(py, &sum_p, &sum_ent, n_classes, n_members)?;
    let v = sum_ent.len();
    let out = run(py, || uncertainty::maps(&state, &kinds))?;
    out.into_pyarray(py).reshape([kinds.len(), v])
}

/// Parse a pixel-confidence name.
pub fn confidence(py: Python<'_>, name: &str) -> PyResult<Confidence> {
    Ok(match name {
        "msr" => Confidence::MaxSoftmax,
        "pe" => Confidence::PredictiveEntropy,
        "ee" => Confidence::ExpectedEntropy,
        "mi" => Confidence::MutualInformation,
        _ => {
            return Err(invalid_argument(
                py,
                format!("unknown confidence {name:?}; expected msr, pe, ee, mi"),
            ))
        }
    })
}

/// Pixel-confidence maps [len(kinds), V] (msr, pe, ee, mi) from the state, in one pass.
#[pyfunction]
fn uncertainty_confidence_maps<'py>(
    py: Python<'py>,
    sum_p: PyReadonlyArray1<'py, f32>,
    sum_ent: PyReadonlyArray1<'py, f32>,
    n_classes: usize,
    n_members: usize,
    kinds: Vec<String>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let kinds = kinds
        .iter()
        .map(|n| confidence(py, n))
        .collect::<PyResult<Vec<_>>>()?;
    let state = state_view(py, &sum_p, &sum_ent, n_classes, n_members)?;
    let v = sum_ent.len();
    let out = run(py, || uncertainty::confidence_maps(&state, &kinds))?;
    out.into_pyarray(py).reshape([kinds.len(), v])
}

/// Flat label map (uint8, or int32 above 256 classes) of the class with the largest
/// `probs[c] * scale` per voxel; `probs` is C-contiguous [C, ...], float32 or float16.
fn argmax_labels<'py, P: uncertainty::Prob>(
    py: Python<'py>,
    p: &[P],
    n_classes: usize,
    scale: f32,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(if n_classes <= 256 {
        let l: Vec<u8> = run(py, || uncertainty::argmax(p, n_classes, scale))?;
        l.into_pyarray(py).into_any()
    } else {
        let l: Vec<i32> = run(py, || uncertainty::argmax(p, n_classes, scale))?;
        l.into_pyarray(py).into_any()
    })
}

/// Predicted labels (argmax of p_bar, ties: the lowest class) from the running sum, flat.
#[pyfunction]
fn uncertainty_argmax<'py>(
    py: Python<'py>,
    sum_p: PyReadonlyArray1<'py, f32>,
    n_classes: usize,
    n_members: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let sp = crate::errors::slice(py, &sum_p, "sum_p")?;
    argmax_labels(py, sp, n_classes, uncertainty::mean_scale(n_members))
}

/// Labels (argmax over classes, ties: the lowest class) of one member's probabilities, flat.
#[pyfunction]
fn probs_argmax<'py>(
    py: Python<'py>,
    probs: Probs<'py>,
    n_classes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let contiguous = || invalid_argument(py, "probs must be C-contiguous".to_string());
    match &probs {
        Probs::F32(a) => argmax_labels(py, a.as_slice().map_err(|_| contiguous())?, n_classes, 1.0),
        Probs::F16(a) => argmax_labels(py, a.as_slice().map_err(|_| contiguous())?, n_classes, 1.0),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(uncertainty_confidence_maps, m)?)?;
    m.add_function(wrap_pyfunction!(uncertainty_argmax, m)?)?;
    m.add_function(wrap_pyfunction!(probs_argmax, m)?)?;
    m.add_function(wrap_pyfunction!(uncertainty_state, m)?)?;
    m.add_function(wrap_pyfunction!(uncertainty_accumulate, m)?)?;
    m.add_function(wrap_pyfunction!(uncertainty_maps, m)?)?;
    Ok(())
}
