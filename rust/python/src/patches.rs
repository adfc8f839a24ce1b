//! Bindings of `medtrust_core::patches`: strided box means and greedy selection.

use crate::convert::{map_kinds, slice, state_view, Map};
use crate::errors::{invalid_argument, run};
use crate::with_map;
use medtrust_core::patches::{self, Box3, Grid};
use numpy::{IntoPyArray, PyArray4, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

fn grid(
    py: Python<'_>,
    shape: [usize; 3],
    patch: [usize; 3],
    stride: [usize; 3],
    clip: bool,
) -> PyResult<Grid> {
    Grid::new(shape, patch, stride, clip).map_err(|e| crate::errors::to_py(py, e))
}

/// (clipped patch size, grid dims) of a strided grid of boxes over an image of `shape`.
#[pyfunction]
fn patch_grid(
    py: Python<'_>,
    shape: [usize; 3],
    patch: [usize; 3],
    stride: [usize; 3],
    clip: bool,
) -> PyResult<([usize; 3], [usize; 3])> {
    let g = grid(py, shape, patch, stride, clip)?;
    Ok((g.patch, g.dims))
}

/// Box means [1, gz, gy, gx] of one C-contiguous map [Z, Y, X] on the strided grid.
#[pyfunction]
fn pool_map<'py>(
    py: Python<'py>,
    map: Map<'py>,
    patch: [usize; 3],
    stride: [usize; 3],
    clip: bool,
) -> PyResult<Bound<'py, PyArray4<f64>>> {
    let (out, g) = with_map!(py, &map, (m, shape) => {
        let g = grid(py, shape, patch, stride, clip)?;
        (run(py, || patches::pool_map(m, &g))?, g)
    });
    out.into_pyarray(py)
        .reshape([1, g.dims[0], g.dims[1], g.dims[2]])
}

/// Box means [len(kinds), gz, gy, gx] of uncertainty maps computed on the fly from an
/// accumulator state (see `uncertainty_maps` for `kinds`).
#[pyfunction]
fn pool_uncertainty<'py>(
    py: Python<'py>,
    sum_p: PyReadonlyArray1<'py, f32>,
    sum_ent: PyReadonlyArray1<'py, f32>,
    n_classes: usize,
    n_members: usize,
    shape: [usize; 3],
    kinds: Vec<(String, Option<usize>)>,
    patch: [usize; 3],
    stride: [usize; 3],
    clip: bool,
) -> PyResult<Bound<'py, PyArray4<f64>>> {
    let kinds = map_kinds(py, &kinds)?;
    let g = grid(py, shape, patch, stride, clip)?;
    let state = state_view(py, &sum_p, &sum_ent, n_classes, n_members)?;
    let out = run(py, || patches::pool_uncertainty(&state, &kinds, &g))?;
    out.into_pyarray(py)
        .reshape([kinds.len(), g.dims[0], g.dims[1], g.dims[2]])
}

/// Greedy non-overlapping selection of up to `n` grid positions by `scores` (flat grid, best
/// first, ties by index) avoiding `blocked` boxes ([k, 6] int64: z, y, x, dz, dy, dx).
#[pyfunction]
fn select_greedy(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    shape: [usize; 3],
    patch: [usize; 3],
    stride: [usize; 3],
    clip: bool,
    blocked: PyReadonlyArray2<'_, i64>,
    n: usize,
) -> PyResult<Vec<usize>> {
    let g = grid(py, shape, patch, stride, clip)?;
    let b = blocked.as_array();
    if b.ncols() != 6 {
        return Err(invalid_argument(
            py,
            format!("blocked boxes must have shape [k, 6], got {:?}", b.shape()),
        ));
    }
    let boxes: Vec<Box3> = b
        .rows()
        .into_iter()
        .map(|r| Box3 {
            start: [r[0], r[1], r[2]],
            size: [r[3], r[4], r[5]],
        })
        .collect();
    let s = slice(py, &scores, "scores")?;
    run(py, || patches::select_greedy(s, &g, &boxes, n))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(patch_grid, m)?)?;
    m.add_function(wrap_pyfunction!(pool_map, m)?)?;
    m.add_function(wrap_pyfunction!(pool_uncertainty, m)?)?;
    m.add_function(wrap_pyfunction!(select_greedy, m)?)?;
    Ok(())
}
