//! Bindings of `medtrust_core::overlap`, and the label-map dtype dispatch shared with
//! `aggregate.rs`.

use crate::errors::run;
use medtrust_core::overlap;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// A C-contiguous label map of one of the supported dtypes (Python coerces others first).
#[derive(FromPyObject)]
pub enum LabelMap<'py> {
    U8(PyReadonlyArrayDyn<'py, u8>),
    U16(PyReadonlyArrayDyn<'py, u16>),
    I32(PyReadonlyArrayDyn<'py, i32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    Bool(PyReadonlyArrayDyn<'py, bool>),
}

impl LabelMap<'_> {
    pub fn shape(&self) -> Vec<usize> {
        match self {
            LabelMap::U8(a) => a.shape().to_vec(),
            LabelMap::U16(a) => a.shape().to_vec(),
            LabelMap::I32(a) => a.shape().to_vec(),
            LabelMap::I64(a) => a.shape().to_vec(),
            LabelMap::Bool(a) => a.shape().to_vec(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            LabelMap::U8(_) => "uint8",
            LabelMap::U16(_) => "uint16",
            LabelMap::I32(_) => "int32",
            LabelMap::I64(_) => "int64",
            LabelMap::Bool(_) => "bool",
        }
    }
}

/// Borrow a contiguous slice or raise TypeError.
pub fn contiguous<'a, T: numpy::Element>(a: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyTypeError::new_err("label and confidence maps must be C-contiguous"))
}

/// Run `$body` with `$s` bound to the label slice of `$map` (any supported dtype).
#[macro_export]
macro_rules! with_labels {
    ($map:expr, $s:ident => $body:expr) => {
        match $map {
            $crate::overlap::LabelMap::U8(a) => {
                let $s = $crate::overlap::contiguous(a)?;
                $body
            }
            $crate::overlap::LabelMap::U16(a) => {
                let $s = $crate::overlap::contiguous(a)?;
                $body
            }
            $crate::overlap::LabelMap::I32(a) => {
                let $s = $crate::overlap::contiguous(a)?;
                $body
            }
            $crate::overlap::LabelMap::I64(a) => {
                let $s = $crate::overlap::contiguous(a)?;
                $body
            }
            $crate::overlap::LabelMap::Bool(a) => {
                let $s = $crate::overlap::contiguous(a)?;
                $body
            }
        }
    };
}

type ConfusionArrays<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    u64,
    u64,
);

fn same_dtype() -> PyErr {
    PyTypeError::new_err("label maps must share one dtype (medtrust coerces them first)")
}

/// The classes counted: a count n (classes 0..n) or an ascending int64 array of labels.
#[derive(FromPyObject)]
pub enum ClassArg<'py> {
    Count(usize),
    Listed(PyReadonlyArray1<'py, i64>),
}

impl ClassArg<'_> {
    fn get(&self) -> PyResult<overlap::Classes<'_>> {
        Ok(match self {
            ClassArg::Count(n) => overlap::Classes::Range(*n),
            ClassArg::Listed(a) => overlap::Classes::Listed(a.as_slice().map_err(|_| {
                PyTypeError::new_err("classes must be a contiguous 1-D int64 array")
            })?),
        })
    }
}

/// Distinct labels of the maps (ascending int64), leaving out `skip`; in one parallel pass.
#[pyfunction]
#[pyo3(signature = (maps, names, skip=None))]
fn present_labels<'py>(
    py: Python<'py>,
    maps: Vec<LabelMap<'py>>,
    names: Vec<String>,
    skip: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let Some(first) = maps.first() else {
        return Err(PyTypeError::new_err("maps must be a non-empty list"));
    };
    let kind = first.kind();
    if maps.iter().any(|m| m.kind() != kind) {
        return Err(same_dtype());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    macro_rules! go {
        ($variant:ident) => {{
            let mut views = Vec::with_capacity(maps.len());
            for m in &maps {
                if let LabelMap::$variant(a) = m {
                    views.push(contiguous(a)?);
                }
            }
            run(py, || overlap::present_labels(&views, &names, skip))?
        }};
    }
    let out = match first {
        LabelMap::U8(_) => go!(U8),
        LabelMap::U16(_) => go!(U16),
        LabelMap::I32(_) => go!(I32),
        LabelMap::I64(_) => go!(I64),
        LabelMap::Bool(_) => go!(Bool),
    };
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
    let classes = classes.get()?;
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
        _ => return Err(same_dtype()),
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
    let classes = classes.get()?;
    let n_classes = classes.len();
    let Some(first) = members.first() else {
        return Err(PyTypeError::new_err("members must be a non-empty list"));
    };
    let kind = first.kind();
    if members.iter().any(|m| m.kind() != kind) {
        return Err(same_dtype());
    }
    macro_rules! go {
        ($variant:ident) => {{
            let mut views = Vec::with_capacity(members.len());
            for m in &members {
                if let LabelMap::$variant(a) = m {
                    views.push(contiguous(a)?);
                }
            }
            run(py, || overlap::pairwise_counts(&views, classes))?
        }};
    }
    let c = match first {
        LabelMap::U8(_) => go!(U8),
        LabelMap::U16(_) => go!(U16),
        LabelMap::I32(_) => go!(I32),
        LabelMap::I64(_) => go!(I64),
        LabelMap::Bool(_) => go!(Bool),
    };
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
