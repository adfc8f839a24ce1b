//! Bindings of `medtrust_core::uncertainty`: the state lives in numpy buffers owned by
//! `medtrust.uncertainty.EnsembleAccumulator`, updated in place.

use crate::convert::{confidences, map_kinds, slice, state_view, Probs};
use crate::errors::{invalid_argument, run};
use crate::with_probs;
use medtrust_core::alloc::prefaulted_zeros;
use medtrust_core::uncertainty;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;

/// Add one member's C-contiguous probabilities [C, ...] to `sum_p` [C*V] and `sum_ent` [V]
/// (empty: entropies not kept), at voxel `offset` of the state (a slab of a member). With
/// `first` the slab's sums are overwritten by this member (one pass; old contents ignored, and
/// zeroed when the member is rejected). With `n_members` > 1 (only with `first`), `probs` is a
/// stack [M, C, ...] of the state's first members, added in one pass.
#[pyfunction]
#[pyo3(signature = (sum_p, sum_ent, probs, n_classes, sum_tol=None, offset=0, first=false, n_members=1))]
#[allow(clippy::too_many_arguments)] // the state, the member and its options, as named above
fn uncertainty_accumulate<'py>(
    py: Python<'py>,
    mut sum_p: PyReadwriteArray1<'py, f32>,
    mut sum_ent: PyReadwriteArray1<'py, f32>,
    probs: Probs<'py>,
    n_classes: usize,
    sum_tol: Option<f32>,
    offset: usize,
    first: bool,
    n_members: usize,
) -> PyResult<()> {
    if n_members != 1 && !first {
        return Err(invalid_argument(
            py,
            "a stack of members (n_members != 1) can only start a state (first=True)".into(),
        ));
    }
    let sp = sum_p
        .as_slice_mut()
        .map_err(|_| invalid_argument(py, "sum_p must be contiguous".into()))?;
    let se = sum_ent
        .as_slice_mut()
        .map_err(|_| invalid_argument(py, "sum_ent must be contiguous".into()))?;
    with_probs!(&probs, p => run(py, || {
        if first {
            uncertainty::accumulate_first_members_at(p, n_members, n_classes, sp, se, offset, sum_tol)
        } else {
            uncertainty::accumulate_at(p, n_classes, sp, se, offset, sum_tol)
        }
    }))
}

/// (sum_p, sum_ent) of an accumulator state.
type StateArrays<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>);

/// A zeroed accumulator state (sum_p [C*V], sum_ent [V], or [0] without `entropy`) allocated
/// by Rust, pages prefaulted (the core's policy).
#[pyfunction]
#[pyo3(signature = (n_classes, n_voxels, entropy=true))]
fn uncertainty_state<'py>(
    py: Python<'py>,
    n_classes: usize,
    n_voxels: usize,
    entropy: bool,
) -> PyResult<StateArrays<'py>> {
    let (sp, se) = run(py, || {
        Ok((
            prefaulted_zeros::<f32>(
                n_classes.checked_mul(n_voxels),
                "the accumulator state (n_classes x n_voxels)",
            )?,
            prefaulted_zeros::<f32>(
                Some(if entropy { n_voxels } else { 0 }),
                "the accumulator state (n_voxels)",
            )?,
        ))
    })?;
    Ok((sp.into_pyarray(py), se.into_pyarray(py)))
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
    let v = state.n_voxels();
    let out = run(py, || uncertainty::maps(&state, &kinds))?;
    out.into_pyarray(py).reshape([kinds.len(), v])
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
    let kinds = confidences(py, &kinds)?;
    let state = state_view(py, &sum_p, &sum_ent, n_classes, n_members)?;
    let v = state.n_voxels();
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
    let sp = slice(py, &sum_p, "sum_p")?;
    argmax_labels(py, sp, n_classes, uncertainty::mean_scale(n_members))
}

/// Labels (argmax over classes, ties: the lowest class) of one member's probabilities, flat.
#[pyfunction]
fn probs_argmax<'py>(
    py: Python<'py>,
    probs: Probs<'py>,
    n_classes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    with_probs!(&probs, p => argmax_labels(py, p, n_classes, 1.0))
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
