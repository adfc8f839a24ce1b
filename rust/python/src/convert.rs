//! Shared argument conversion of the bindings: the accepted dtype enums, contiguous views,
//! dispatch macros over them, and the parsers of string options. Written once here so that every
//! binding accepts the same dtypes and raises the same errors (all through `errors.rs`).

use crate::errors::{dtype_error, invalid_argument};
use medtrust_core::overlap::Classes;
use medtrust_core::surface::Surface;
use medtrust_core::uncertainty::{Confidence, MapKind, State};
use numpy::{PyReadonlyArray1, PyReadonlyArray3, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// A contiguous view of a 1-D numpy array, or an `InvalidArgumentError` naming it (Python
/// coerces first, so this is rare).
pub fn slice<'a, T: numpy::Element>(
    py: Python<'_>,
    a: &'a PyReadonlyArray1<'_, T>,
    name: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| invalid_argument(py, format!("{name} must be a contiguous 1-D array")))
}

/// A C-contiguous view of an n-D numpy array, or an `InvalidArgumentError`.
pub fn contiguous<'a, T: numpy::Element>(a: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        crate::errors::InvalidArgumentError::new_err(
            "label, probability and confidence maps must be C-contiguous",
        )
    })
}

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
    /// The array's shape.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            LabelMap::U8(a) => a.shape().to_vec(),
            LabelMap::U16(a) => a.shape().to_vec(),
            LabelMap::I32(a) => a.shape().to_vec(),
            LabelMap::I64(a) => a.shape().to_vec(),
            LabelMap::Bool(a) => a.shape().to_vec(),
        }
    }

    /// The dtype's name.
    pub fn kind(&self) -> &'static str {
        match self {
            LabelMap::U8(_) => "uint8",
            LabelMap::U16(_) => "uint16",
            LabelMap::I32(_) => "int32",
            LabelMap::I64(_) => "int64",
            LabelMap::Bool(_) => "bool",
        }
    }
}

/// A `DTypeError` unless every map of a list shares one dtype (and the list is not empty).
pub fn same_label_dtype<'a, 'py>(
    maps: &'a [LabelMap<'py>],
    what: &str,
) -> PyResult<&'a LabelMap<'py>> {
    let Some(first) = maps.first() else {
        return Err(crate::errors::InvalidArgumentError::new_err(format!(
            "{what} must be a non-empty list"
        )));
    };
    if maps.iter().any(|m| m.kind() != first.kind()) {
        return Err(label_dtypes_differ());
    }
    Ok(first)
}

/// The error of label maps of different dtypes.
pub fn label_dtypes_differ() -> PyErr {
    dtype_error("label maps must share one dtype (medtrust coerces them first)")
}

/// Run `$body` with `$s` bound to the label slice of `$map` (any supported dtype).
#[macro_export]
macro_rules! with_labels {
    ($map:expr, $s:ident => $body:expr) => {
        match $map {
            $crate::convert::LabelMap::U8(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::LabelMap::U16(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::LabelMap::I32(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::LabelMap::I64(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::LabelMap::Bool(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
        }
    };
}

/// Run `$body` with `$views` bound to the label slices of `$maps` (a list of one dtype, checked
/// with [`same_label_dtype`] first).
#[macro_export]
macro_rules! with_label_list {
    ($maps:expr, $what:expr, $views:ident => $body:expr) => {{
        let first = $crate::convert::same_label_dtype($maps, $what)?;
        macro_rules! go {
            ($variant:ident) => {{
                let mut $views = Vec::with_capacity($maps.len());
                for m in $maps.iter() {
                    if let $crate::convert::LabelMap::$variant(a) = m {
                        $views.push($crate::convert::contiguous(a)?);
                    }
                }
                $body
            }};
        }
        match first {
            $crate::convert::LabelMap::U8(_) => go!(U8),
            $crate::convert::LabelMap::U16(_) => go!(U16),
            $crate::convert::LabelMap::I32(_) => go!(I32),
            $crate::convert::LabelMap::I64(_) => go!(I64),
            $crate::convert::LabelMap::Bool(_) => go!(Bool),
        }
    }};
}

/// A C-contiguous float32 or float64 confidence map of any dimension.
#[derive(FromPyObject)]
pub enum ConfMap<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

impl ConfMap<'_> {
    /// The array's shape.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            ConfMap::F32(a) => a.shape().to_vec(),
            ConfMap::F64(a) => a.shape().to_vec(),
        }
    }
}

/// Run `$body` with `$s` bound to the slice of a [`ConfMap`].
#[macro_export]
macro_rules! with_conf {
    ($map:expr, $s:ident => $body:expr) => {
        match $map {
            $crate::convert::ConfMap::F32(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::ConfMap::F64(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
        }
    };
}

/// A 3D voxel map, float32 or float64.
#[derive(FromPyObject)]
pub enum Map<'py> {
    F32(PyReadonlyArray3<'py, f32>),
    F64(PyReadonlyArray3<'py, f64>),
}

/// Run `$body` with `$s` bound to the slice and `$shape` to the [z, y, x] shape of a [`Map`].
#[macro_export]
macro_rules! with_map {
    ($py:expr, $map:expr, ($s:ident, $shape:ident) => $body:expr) => {
        match $map {
            $crate::convert::Map::F32(a) => {
                let $shape = $crate::convert::shape3(a);
                let $s = $crate::convert::slice3($py, a)?;
                $body
            }
            $crate::convert::Map::F64(a) => {
                let $shape = $crate::convert::shape3(a);
                let $s = $crate::convert::slice3($py, a)?;
                $body
            }
        }
    };
}

/// The [z, y, x] shape of a 3-D array.
pub fn shape3<T: numpy::Element>(a: &PyReadonlyArray3<'_, T>) -> [usize; 3] {
    let s = a.shape();
    [s[0], s[1], s[2]]
}

/// A C-contiguous view of a 3-D array.
pub fn slice3<'a, T: numpy::Element>(
    py: Python<'_>,
    a: &'a PyReadonlyArray3<'_, T>,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| invalid_argument(py, "map must be C-contiguous".into()))
}

/// One member's probabilities, float32 or float16 (upcast per element in the kernel).
#[derive(FromPyObject)]
pub enum Probs<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F16(PyReadonlyArrayDyn<'py, half::f16>),
}

/// Run `$body` with `$s` bound to the slice of a [`Probs`].
#[macro_export]
macro_rules! with_probs {
    ($probs:expr, $s:ident => $body:expr) => {
        match $probs {
            $crate::convert::Probs::F32(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
            $crate::convert::Probs::F16(a) => {
                let $s = $crate::convert::contiguous(a)?;
                $body
            }
        }
    };
}

/// The classes counted: a count n (classes 0..n) or an ascending int64 array of labels.
#[derive(FromPyObject)]
pub enum ClassArg<'py> {
    Count(usize),
    Listed(PyReadonlyArray1<'py, i64>),
}

impl ClassArg<'_> {
    /// The core's view of the classes.
    pub fn get(&self, py: Python<'_>) -> PyResult<Classes<'_>> {
        Ok(match self {
            ClassArg::Count(n) => Classes::Range(*n),
            ClassArg::Listed(a) => Classes::Listed(slice(py, a, "classes")?),
        })
    }
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
        sum_p: slice(py, sum_p, "sum_p")?,
        sum_ent: slice(py, sum_ent, "sum_ent")?,
        n_classes,
        n_members,
    })
}

/// Parse an uncertainty map name (and its class index where it has one).
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

/// Parse a list of (map name, class or None) pairs.
pub fn map_kinds(py: Python<'_>, kinds: &[(String, Option<usize>)]) -> PyResult<Vec<MapKind>> {
    kinds.iter().map(|(n, c)| map_kind(py, n, *c)).collect()
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

/// Parse a list of pixel-confidence names.
pub fn confidences(py: Python<'_>, names: &[String]) -> PyResult<Vec<Confidence>> {
    names.iter().map(|n| confidence(py, n)).collect()
}

/// Parse a surface kind ("voxels" or "surfels").
pub fn surface_kind(py: Python<'_>, name: &str) -> PyResult<Surface> {
    match name {
        "voxels" => Ok(Surface::Voxels),
        "surfels" => Ok(Surface::Surfels),
        other => Err(invalid_argument(
            py,
            format!("surface must be 'voxels' or 'surfels', got {other:?}"),
        )),
    }
}
