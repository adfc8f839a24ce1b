//! Bindings of `medtrust_core::overlap`.

use crate::convert::{contiguous, label_dtypes_differ, ClassArg, LabelMap};
use crate::errors::run;
use crate::with_label_list;
use medtrust_core::overlap;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

type ConfusionArrays<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    u64,
    u64,
);

/// Distinct labels of the maps (ascending int64), leaving out `skip`; in one parallel pass.
#[pyfunction]
#[pyo3(signature = (maps, names, skip=None))]
fn present_labels<'py>(
    py: Python<'py>,
    maps: Vec<LabelMap<'py>>,
    names: Vec<String>,
    skip: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let out = with_label_list!(&maps, "maps", views => {
        run(py, || overlap::present_labels(&views, &names, skip))?
    });
    Ok(out.into_pyarray(py))
}

/// (tp, pred volume, target volume, n counted, n ignored) per class, in one pass.
#[pyfunction]
#[pyo3(signature = (pred, target, classes, ignore_label=None))]
fn confusion_counts<'py>(
    py: Python<'py>,
    pred: LabelMap<'py>,
    target: LabelMap<'py>,
    classes: ClassArg<'py>,
    ignore_label: Option<i64>,
) -> PyResult<ConfusionArrays<'py>> {
    let classes = classes.get(py)?;
    macro_rules! go {
        ($p:expr, $t:expr) => {{
            let (p, t) = (contiguous($p)?, contiguous($t)?);
            run(py, || {
                overlap::confusion_counts(p, t, classes, ignore_label)
            })?
        }};
    }
    let c = match (&pred, &target) {
        (LabelMap::U8(p), LabelMap::U8(t)) => go!(p, t),
        (LabelMap::U16(p), LabelMap::U16(t)) => go!(p, t),
        (LabelMap::I32(p), LabelMap::I32(t)) => go!(p, t),
        (LabelMap::I64(p), LabelMap::I64(t)) => go!(p, t),
        (LabelMap::Bool(p), LabelMap::Bool(t)) => go!(p, t),
        _ => return Err(label_dtypes_differ()),
    };
    Ok((
        c.tp.into_pyarray(py),
        c.pred.into_pyarray(py),
        c.target.into_pyarray(py),
        c.n_counted,
        c.n_ignored,
    ))
}

type CountArrays<'py> = (Bound<'py, PyArray2<u64>>, Bound<'py, PyArray2<u64>>);

/// Per-member volumes [M, C] and per-pair intersections [M(M-1)/2, C], in one pass.
#[pyfunction]
fn pairwise_counts<'py>(
    py: Python<'py>,
    members: Vec<LabelMap<'py>>,
    classes: ClassArg<'py>,
) -> PyResult<CountArrays<'py>> {
    let classes = classes.get(py)?;
    let n_classes = classes.len();
    let c = with_label_list!(&members, "members", views => {
        run(py, || overlap::pairwise_counts(&views, classes))?
    });
    let m = c.n_members;
    let p = m * (m - 1) / 2;
    let vol = c.volume.into_pyarray(py).reshape([m, n_classes])?;
    let inter = c.intersection.into_pyarray(py).reshape([p, n_classes])?;
    Ok((vol, inter))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(confusion_counts, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise_counts, m)?)?;
    m.add_function(wrap_pyfunction!(present_labels, m)?)?;
    Ok(())
}
