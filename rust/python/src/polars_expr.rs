//! Polars expression plugin: the risk-coverage metric family of `medtrust_core::risk` and its
//! bootstrap as polars expressions (registered from `medtrust.polars`).
//!
//! Every function is an aggregation (`returns_scalar=True` on the Python side): polars hands it
//! the rows of one group (or of the whole column in a `select`) and it returns one value. No
//! metric is computed here: rows are validated with the `nan_policy` rules of
//! `medtrust.selective._inputs.prepare` (one pass, nulls counted as NaN) and passed to the same
//! core kernels as `medtrust._native.risk_metrics` / `bootstrap_risk`, so a group's results are
//! bit-equal to `medtrust.selective.metrics` on that group.
//!
//! Errors become polars `ComputeError`s whose message holds `medtrust[<ExceptionClass>]: ...`;
//! `medtrust._plugin.medtrust_errors` turns them back into that class of `medtrust.exceptions`.
//!
//! The ABI glue (symbols, kwargs, errors) is in `polars_expr_abi.rs`.
//!
//! (Over 400 lines: one section per function family (metrics, curve, bootstrap, AUBC) over
//! the shared batch, validation and output helpers; `evaluate_groups` is in
//! `polars_expr_eval.rs`, the progress counter in `polars_expr_progress.rs`.)

use medtrust_core::bootstrap::{bootstrap_metrics, Prepared};
use medtrust_core::risk::{self, Targets, METRIC_NAMES};
use medtrust_core::CoreError;
use polars_core::prelude::*;
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;

crate::plugin!(
    selective_metrics,
    metrics_struct_type,
    _polars_plugin_selective_metrics,
    _polars_plugin_field_selective_metrics
);
crate::plugin!(
    risk_metric,
    float_type,
    _polars_plugin_risk_metric,
    _polars_plugin_field_risk_metric
);
crate::plugin!(
    risk_coverage_curve,
    curve_type,
    _polars_plugin_risk_coverage_curve,
    _polars_plugin_field_risk_coverage_curve
);
crate::plugin!(
    aubc,
    float_type,
    _polars_plugin_aubc,
    _polars_plugin_field_aubc
);
crate::plugin!(
    bootstrap_values,
    values_type,
    _polars_plugin_bootstrap_values,
    _polars_plugin_field_bootstrap_values
);
crate::plugin!(
    bootstrap_ci,
    ci_type,
    _polars_plugin_bootstrap_ci,
    _polars_plugin_field_bootstrap_ci
);

/// Metric fields of the `selective_metrics` struct (every name but the trailing `n`).
pub(crate) const N_METRICS: usize = METRIC_NAMES.len() - 1;

/// Keyword arguments shared by every function (pickled by `register_plugin_function`).
#[derive(Deserialize, Clone)]
pub(crate) struct Kwargs {
    pub(crate) nan_policy: String,
    check_range: bool,
    tpr: f64,
    coverage: f64,
    risk: f64,
    bins: usize,
    /// Metric name (`risk_metric`).
    #[serde(default)]
    metric: Option<String>,
    /// Metric names (`bootstrap_ci`).
    #[serde(default)]
    pub(crate) metrics: Vec<String>,
    #[serde(default)]
    n_resamples: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    pub(crate) alpha: f64,
    /// CSF names (`evaluate_groups`).
    #[serde(default)]
    pub(crate) names: Vec<String>,
    /// A label column follows the residual (`evaluate_groups`).
    #[serde(default)]
    pub(crate) has_labels: bool,
    /// The groups are runs of consecutive rows of these lengths, in order (`evaluate_groups`;
    /// the `len` field of `pl.struct(by).rle()`).
    #[serde(default)]
    pub(crate) run_lengths: Option<Vec<u64>>,
    /// Add bootstrap intervals of `metrics` (`evaluate_groups`).
    #[serde(default)]
    pub(crate) ci: bool,
    /// Progress token: bootstrap work done is counted under it (0: not counted).
    #[serde(default)]
    pub(crate) progress: u64,
}

impl Kwargs {
    pub(crate) fn targets(&self) -> Targets {
        Targets {
            tpr: self.tpr,
            coverage: self.coverage,
            risk: self.risk,
            bins: self.bins,
        }
    }

    fn metric_index(&self) -> PolarsResult<usize> {
        index_of(self.metric.as_deref().unwrap_or(""))
    }
}

pub(crate) fn index_of(name: &str) -> PolarsResult<usize> {
    METRIC_NAMES[..N_METRICS]
        .iter()
        .position(|m| *m == name)
        .ok_or_else(|| err("InvalidArgumentError", format!("unknown metric {name:?}")))
}

pub(crate) fn err(class: &str, msg: impl std::fmt::Display) -> PolarsError {
    PolarsError::ComputeError(format!("medtrust[{class}]: {msg}").into())
}

/// A core error as a polars error naming its `medtrust.exceptions` class (as `errors::to_py`).
pub(crate) fn core_err(e: CoreError) -> PolarsError {
    let class = match &e {
        CoreError::Empty { .. } => "EmptyInputError",
        CoreError::ShapeMismatch { .. } => "ShapeMismatchError",
        CoreError::InvalidValue(_) => "InvalidValueError",
        CoreError::InvalidArgument(_) => "InvalidArgumentError",
    };
    err(class, e)
}

/// The groups of one call: the (confidence, residual[, label]) values of every group, flat,
/// as f64 with nulls as NaN (a null counts as NaN everywhere), and each group's row range.
///
/// Python passes `pl.struct(conf, res[, label]).implode()` to an elementwise function: in a
/// `group_by(...).agg(...)` (or `.over(...)`) polars hands over one list per group in a single
/// call, so there is one FFI call per query rather than one per group; in a `select` the one
/// list holds every row. A plain (non-list) input is one group of all its rows.
pub(crate) struct Batch {
    pub(crate) name: PlSmallStr,
    pub(crate) cols: Vec<Values>,
    /// Row range of each group in `cols`; `None` for a null list (its output is null).
    pub(crate) ranges: Vec<Option<(usize, usize)>>,
}

impl Batch {
    fn new(inputs: &[Series]) -> PolarsResult<Batch> {
        Self::with_columns(inputs, 2..=3, "confidence, residual and optional label")
    }

    /// A batch of `arity` columns (`what` names them in the error).
    pub(crate) fn with_columns(
        inputs: &[Series],
        arity: std::ops::RangeInclusive<usize>,
        what: &str,
    ) -> PolarsResult<Batch> {
        let name = inputs.first().map(|s| s.name().clone()).unwrap_or_default();
        if let [s] = inputs {
            if let DataType::List(_) = s.dtype() {
                let ca = s.list()?.rechunk();
                let arr = ca.downcast_as_array();
                let offsets = arr.offsets().as_slice();
                let ranges = (0..arr.len())
                    .map(|i| {
                        let ok = arr.validity().is_none_or(|v| v.get_bit(i));
                        ok.then(|| (offsets[i] as usize, offsets[i + 1] as usize))
                    })
                    .collect();
                let cols = columns(&[ca.get_inner()], &arity, what)?
                    .iter()
                    .map(float_values)
                    .collect::<PolarsResult<Vec<_>>>()?;
                return Ok(Batch { name, cols, ranges });
            }
        }
        let cols = columns(inputs, &arity, what)?
            .iter()
            .map(float_values)
            .collect::<PolarsResult<Vec<_>>>()?;
        let n = cols[0].len();
        if cols.iter().any(|c| c.len() != n) {
            return Err(err(
                "ShapeMismatchError",
                format!("the {what} columns must have the same length"),
            ));
        }
        Ok(Batch {
            name,
            cols,
            ranges: vec![Some((0, n))],
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// `f` of every group's column slices, in group order (`None` for a null list). Large
    /// batches run in parallel over groups in the medtrust pool, each group on one thread (the
    /// kernels' own small-input rule); the first error in group order is returned, so results
    /// and errors do not depend on the thread count.
    pub(crate) fn map<T: Send>(
        &self,
        f: impl Fn(&[&[f64]]) -> PolarsResult<T> + Sync,
    ) -> PolarsResult<Vec<Option<T>>> {
        let one = |r: &Option<(usize, usize)>| -> PolarsResult<Option<T>> {
            match *r {
                None => Ok(None),
                Some((a, b)) => f(&Slices::new(self.cols.iter().map(|c| &c[a..b]))).map(Some),
            }
        };
        let rows = self.cols[0].len();
        let out: Vec<PolarsResult<Option<T>>> =
            if self.len() > 1 && rows >= medtrust_core::parallel::SERIAL_BELOW {
                medtrust_core::parallel::install(|| self.ranges.par_iter().map(one).collect())
            } else {
                self.ranges.iter().map(one).collect()
            };
        out.into_iter().collect()
    }
}

/// Column slices kept on the stack by [`Slices`] (beyond: a vector).
const SLICES_ON_STACK: usize = 8;

/// A few column slices, on the stack up to [`SLICES_ON_STACK`] (a vector beyond): built once
/// per group, or per group and CSF, where with 10^5 small groups a vector each was a
/// measurable share of the allocator's time. Derefs to the slice of slices.
pub(crate) enum Slices<'a> {
    Stack([&'a [f64]; SLICES_ON_STACK], usize),
    Heap(Vec<&'a [f64]>),
}

impl<'a> Slices<'a> {
    pub(crate) fn new(it: impl IntoIterator<Item = &'a [f64]>) -> Self {
        let mut it = it.into_iter();
        let mut buf: [&[f64]; SLICES_ON_STACK] = [&[]; SLICES_ON_STACK];
        for (len, o) in buf.iter_mut().enumerate() {
            match it.next() {
                Some(c) => *o = c,
                None => return Slices::Stack(buf, len),
            }
        }
        match it.next() {
            None => Slices::Stack(buf, SLICES_ON_STACK),
            Some(c) => Slices::Heap(buf.into_iter().chain([c]).chain(it).collect()),
        }
    }
}

impl<'a> std::ops::Deref for Slices<'a> {
    type Target = [&'a [f64]];
    fn deref(&self) -> &Self::Target {
        match self {
            Slices::Stack(buf, len) => &buf[..*len],
            Slices::Heap(v) => v,
        }
    }
}

/// Validated rows of one group (borrowed when no row is dropped).
pub(crate) struct Rows<'a> {
    conf: Cow<'a, [f64]>,
    res: Cow<'a, [f64]>,
    /// Class labels of the rows (for the balanced metrics), as the core takes them.
    labels: Option<Cow<'a, [f64]>>,
    /// Rows dropped by `nan_policy="omit"`.
    pub(crate) n_dropped: usize,
    /// `nan_policy="propagate"` met a missing value: every metric is NaN.
    propagate: bool,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Policy {
    Raise,
    Omit,
    Propagate,
}

pub(crate) fn policy(name: &str) -> PolarsResult<Policy> {
    match name {
        "raise" => Ok(Policy::Raise),
        "omit" => Ok(Policy::Omit),
        "propagate" => Ok(Policy::Propagate),
        other => Err(err(
            "InvalidArgumentError",
            format!("nan_policy must be one of 'raise', 'omit', 'propagate'; got {other:?}"),
        )),
    }
}

/// The f64 values of one input column: polars' own buffer when the column already is f64
/// without nulls in one chunk (no copy), else a converted copy.
pub(crate) enum Values {
    Shared(Float64Chunked),
    Owned(Vec<f64>),
}

impl std::ops::Deref for Values {
    type Target = [f64];

    fn deref(&self) -> &[f64] {
        match self {
            // `float_values` shares only single-chunk columns without nulls: always a slice.
            Values::Shared(ca) => ca.cont_slice().unwrap_or(&[]),
            Values::Owned(v) => v,
        }
    }
}

/// A numeric column as f64 values, null as NaN.
fn float_values(s: &Series) -> PolarsResult<Values> {
    if !s.dtype().is_primitive_numeric() && !s.dtype().is_bool() && !s.dtype().is_null() {
        return Err(err(
            "DTypeError",
            format!("column {:?} must be numeric, got {}", s.name(), s.dtype()),
        ));
    }
    let s = s.cast(&DataType::Float64)?;
    let ca = s.f64()?;
    if ca.null_count() == 0 {
        let ca = ca.rechunk().into_owned();
        if ca.cont_slice().is_ok() {
            return Ok(Values::Shared(ca));
        }
        let mut v = Vec::with_capacity(ca.len());
        for chunk in ca.downcast_iter() {
            v.extend_from_slice(chunk.values().as_slice());
        }
        return Ok(Values::Owned(v));
    }
    Ok(Values::Owned(
        ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
    ))
}

/// The input columns (e.g. confidence, residual[, label]): Python packs them into one struct.
pub(crate) fn columns(
    inputs: &[Series],
    arity: &std::ops::RangeInclusive<usize>,
    what: &str,
) -> PolarsResult<Vec<Series>> {
    let cols = match inputs {
        [s] if matches!(s.dtype(), DataType::Struct(_)) => s.struct_()?.fields_as_series(),
        _ => inputs.to_vec(),
    };
    if !arity.contains(&cols.len()) {
        return Err(err(
            "InvalidArgumentError",
            format!("expected {what} columns, got {}", cols.len()),
        ));
    }
    Ok(cols)
}

/// The rows of one group after the `nan_policy` rules of `prepare` (null counts as NaN).
///
/// `None` when the group is empty (before or after dropping): the expression returns null.
pub(crate) fn rows<'a>(cols: &[&'a [f64]], kw: &Kwargs) -> PolarsResult<Option<Rows<'a>>> {
    let pol = policy(&kw.nan_policy)?;
    let (conf, res) = (cols[0], cols[1]);
    let labels = cols.get(2).copied();
    let n = conf.len();
    if n == 0 {
        return Ok(None);
    }
    let ok = |i: usize| {
        conf[i].is_finite() && res[i].is_finite() && labels.is_none_or(|l| l[i].is_finite())
    };
    // Branch-free, so that it vectorises: with 10^5 small groups a short-circuiting count
    // was a twentieth of the query.
    let bad: usize = match labels {
        None => conf
            .iter()
            .zip(res)
            .map(|(c, r)| usize::from(!(c.is_finite() & r.is_finite())))
            .sum(),
        Some(_) => (0..n).map(|i| usize::from(!ok(i))).sum(),
    };
    let mut r = Rows {
        conf: Cow::Borrowed(conf),
        res: Cow::Borrowed(res),
        labels: labels.map(Cow::Borrowed),
        n_dropped: bad,
        propagate: false,
    };
    if bad > 0 {
        match pol {
            Policy::Raise => {
                return Err(err(
                    "NaNInputError",
                    format!(
                        "{bad} row(s) have null, NaN or inf in the confidence, residual or label \
                         column; pass nan_policy='omit' to drop them or 'propagate' to return NaN"
                    ),
                ))
            }
            Policy::Propagate => {
                return Ok(Some(Rows {
                    conf: Cow::Owned(vec![f64::NAN; n]),
                    res: Cow::Owned(Vec::new()),
                    labels: None,
                    n_dropped: 0,
                    propagate: true,
                }))
            }
            Policy::Omit if bad == n => return Ok(None),
            Policy::Omit => {
                let keep =
                    |c: &[f64]| -> Vec<f64> { (0..n).filter(|&i| ok(i)).map(|i| c[i]).collect() };
                r.conf = Cow::Owned(keep(conf));
                r.res = Cow::Owned(keep(res));
                r.labels = labels.map(|l| Cow::Owned(keep(l)));
            }
        }
    }
    if kw.check_range
        && r.res
            .iter()
            .fold(false, |out, &x| out | !(0.0..=1.0).contains(&x))
    {
        let (lo, hi) = r
            .res
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        return Err(err(
            "InvalidValueError",
            format!(
                "residuals must lie in [0, 1] (got min {lo}, max {hi}); pass check_range=False \
                 for unbounded risks such as HD95"
            ),
        ));
    }
    if r.labels
        .as_ref()
        .is_some_and(|l| l.iter().any(|x| *x != x.round()))
    {
        return Err(err(
            "InvalidValueError",
            "labels must be integer class indices",
        ));
    }
    Ok(Some(r))
}

/// The 17 metric values and n of one group (NaN values when NaN propagates).
pub(crate) fn metric_values(r: &Rows, t: Targets) -> PolarsResult<[f64; 18]> {
    if r.propagate {
        let mut v = [f64::NAN; 18];
        v[N_METRICS] = r.conf.len() as f64;
        return Ok(v);
    }
    let m = risk::risk_metrics(&r.conf, &r.res, r.labels.as_deref(), t).map_err(core_err)?;
    Ok(m.to_array())
}

/// A float column of one value per group.
pub(crate) fn f64_column(name: &str, values: impl Iterator<Item = Option<f64>>) -> Series {
    Float64Chunked::from_iter_options(name.into(), values).into_series()
}

/// A struct column of `fields`, null where `valid` is false (an empty group is a null struct,
/// not a struct of nulls).
pub(crate) fn struct_column(
    name: PlSmallStr,
    fields: &[Series],
    valid: &[bool],
) -> PolarsResult<Series> {
    let out = StructChunked::from_series(name, valid.len(), fields.iter())?;
    let out = if valid.iter().all(|v| *v) {
        out
    } else {
        out.with_outer_validity(Some(valid.iter().copied().collect()))
    };
    Ok(out.into_series())
}

// ------------------------------------------------------------------------------------------
// selective_metrics: one struct with every metric

pub(crate) fn metrics_fields() -> Vec<Field> {
    let mut f: Vec<Field> = METRIC_NAMES[..N_METRICS]
        .iter()
        .map(|m| Field::new((*m).into(), DataType::Float64))
        .collect();
    f.push(Field::new("n".into(), DataType::Int64));
    f.push(Field::new("n_dropped".into(), DataType::Int64));
    f
}

fn metrics_struct_type(input_fields: &[Field], _: &Kwargs) -> PolarsResult<Field> {
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::Struct(metrics_fields()),
    ))
}

/// The metric values (NaN when NaN propagates) and dropped-row count of one group.
pub(crate) type GroupMetrics = ([f64; 18], usize);

/// The [`GroupMetrics`] of every group (`None`: empty group).
fn group_metrics(b: &Batch, kw: &Kwargs) -> PolarsResult<Vec<Option<GroupMetrics>>> {
    let t = kw.targets();
    let out = b.map(|cols| one_group(cols, kw, t))?;
    Ok(out.into_iter().map(Option::flatten).collect())
}

/// The [`GroupMetrics`] of one group's (confidence, residual[, label]) columns (`None`:
/// empty). Clean rows (the usual case) go straight to the kernel, whose own first pass
/// checks them ([`risk::risk_metrics_screened`]): with one call per small group, the separate
/// checking passes of [`rows`] were a tenth of the kernel's time. Rows the screening refuses
/// (NaN, infinity, a residual out of range, a non-integer label) take [`rows`], which applies
/// the NaN policy or gives its error. Same values either way: the screening only decides.
pub(crate) fn one_group(
    cols: &[&[f64]],
    kw: &Kwargs,
    t: Targets,
) -> PolarsResult<Option<GroupMetrics>> {
    if let [conf, res, labels @ ..] = cols {
        if !conf.is_empty() {
            let screened =
                risk::risk_metrics_screened(conf, res, labels.first().copied(), t, kw.check_range)
                    .map_err(core_err)?;
            if let Some((m, _)) = screened {
                return Ok(Some((m.to_array(), 0)));
            }
        }
    }
    match rows(cols, kw)? {
        Some(r) => Ok(Some((metric_values(&r, t)?, r.n_dropped))),
        None => Ok(None),
    }
}

fn selective_metrics(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let b = Batch::new(inputs)?;
    let values = group_metrics(&b, &kwargs)?;
    let mut fields: Vec<Series> = METRIC_NAMES[..N_METRICS]
        .iter()
        .enumerate()
        .map(|(j, m)| f64_column(m, values.iter().map(|v| v.map(|v| v.0[j]))))
        .collect();
    let ints = |name: &str, f: &dyn Fn(&GroupMetrics) -> i64| {
        Int64Chunked::from_iter_options(name.into(), values.iter().map(|v| v.as_ref().map(f)))
            .into_series()
    };
    fields.push(ints("n", &|v| v.0[N_METRICS] as i64));
    fields.push(ints("n_dropped", &|v| v.1 as i64));
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    struct_column(b.name, &fields, &valid)
}

// ------------------------------------------------------------------------------------------
// risk_metric: one metric (the `metric` kwarg), e.g. mt.aurc

fn float_type(input_fields: &[Field], _: &Kwargs) -> PolarsResult<Field> {
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::Float64,
    ))
}

fn risk_metric(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let j = kwargs.metric_index()?;
    let b = Batch::new(inputs)?;
    let values = group_metrics(&b, &kwargs)?;
    Ok(f64_column(
        b.name.as_str(),
        values.iter().map(|v| v.map(|v| v.0[j])),
    ))
}

// ------------------------------------------------------------------------------------------
// risk_coverage_curve: a struct of four list columns

const CURVE_FIELDS: [&str; 4] = [
    "coverage",
    "selective_risk",
    "generalized_risk",
    "threshold",
];

fn curve_type(input_fields: &[Field], _: &Kwargs) -> PolarsResult<Field> {
    let fields = CURVE_FIELDS
        .iter()
        .map(|f| Field::new((*f).into(), DataType::List(Box::new(DataType::Float64))))
        .collect();
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::Struct(fields),
    ))
}

fn risk_coverage_curve(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let b = Batch::new(inputs)?;
    let arrays: Vec<Option<[Vec<f64>; 4]>> = b
        .map(|cols| match rows(cols, &kwargs)? {
            None => Ok(None),
            Some(r) if r.propagate => Ok(Some(std::array::from_fn(|_| vec![f64::NAN]))),
            Some(r) => {
                let c = risk::risk_coverage_curve(&r.conf, &r.res).map_err(core_err)?;
                Ok(Some([
                    c.coverages,
                    c.selective_risks,
                    c.generalized_risks,
                    c.thresholds,
                ]))
            }
        })?
        .into_iter()
        .map(Option::flatten)
        .collect();
    let fields: Vec<Series> = CURVE_FIELDS
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let mut list: ListChunked = arrays
                .iter()
                .map(|a| {
                    a.as_ref()
                        .map(|a| Series::new(PlSmallStr::EMPTY, a[j].as_slice()))
                })
                .collect();
            list.rename((*f).into());
            list.into_series()
        })
        .collect();
    let valid: Vec<bool> = arrays.iter().map(Option::is_some).collect();
    struct_column(b.name, &fields, &valid)
}

// ------------------------------------------------------------------------------------------
// bootstrap_ci: percentile intervals of some metrics, {<m>, <m>_low, <m>_high} per metric

fn ci_type(input_fields: &[Field], kwargs: &Kwargs) -> PolarsResult<Field> {
    let mut fields = Vec::with_capacity(3 * kwargs.metrics.len());
    for m in &kwargs.metrics {
        index_of(m)?;
        for suffix in ["", "_low", "_high"] {
            fields.push(Field::new(format!("{m}{suffix}").into(), DataType::Float64));
        }
    }
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::Struct(fields),
    ))
}

/// `np.percentile(values, 100 * q)` with the default linear method, to the last bit: the same
/// virtual index `(n - 1) * q` and the same two-sided lerp as numpy's `_lerp`.
fn percentile_linear(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let vi = (n - 1) as f64 * q;
    if vi >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let prev = vi.floor();
    let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
    let t = vi - prev;
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// (estimate, low, high) of metric `j` from the flat bootstrap output of one set.
pub(crate) fn interval(flat: &[f64], estimate: f64, j: usize, alpha: f64) -> [f64; 3] {
    let mut finite: Vec<f64> = flat
        .chunks_exact(METRIC_NAMES.len())
        .map(|m| m[j])
        .filter(|v| !v.is_nan())
        .collect();
    if finite.is_empty() {
        return [estimate, f64::NAN, f64::NAN];
    }
    finite.sort_by(f64::total_cmp);
    // The percentages as `bootstrap._interval` writes them, then divided as numpy does.
    let q_low = (100.0 * alpha / 2.0) / 100.0;
    let q_high = (100.0 * (1.0 - alpha / 2.0)) / 100.0;
    [
        estimate,
        percentile_linear(&finite, q_low),
        percentile_linear(&finite, q_high),
    ]
}

/// The bootstrap options of `kwargs`, checked; `nan_policy="propagate"` becomes "raise" (as
/// `paired_bootstrap`: resampling NaN is meaningless).
pub(crate) fn bootstrap_kwargs(kwargs: Kwargs) -> PolarsResult<(Kwargs, Vec<usize>)> {
    let idx = kwargs
        .metrics
        .iter()
        .map(|m| index_of(m))
        .collect::<PolarsResult<Vec<_>>>()?;
    if kwargs.n_resamples == 0 {
        return Err(err("InvalidArgumentError", "n_resamples must be >= 1"));
    }
    let mut kw = kwargs;
    if kw.nan_policy == "propagate" {
        kw.nan_policy = "raise".into();
    }
    Ok((kw, idx))
}

/// The 18 estimates and the flat `[n_resamples, 18]` bootstrap metrics of one group.
pub(crate) type GroupBootstrap = ([f64; 18], Vec<f64>);

/// The [`GroupBootstrap`] of every group (`None`:
/// empty group). Each group's resampling already runs in parallel over resamples, so the
/// groups go one by one; resample `b` draws from the stream of `(seed, b)` alone, so groups
/// (and CSFs) of the same size see the same draws.
fn group_bootstraps(b: &Batch, kw: &Kwargs) -> PolarsResult<Vec<Option<GroupBootstrap>>> {
    b.ranges
        .iter()
        .map(|range| {
            let Some((lo, hi)) = *range else {
                return Ok(None);
            };
            let cols: Vec<&[f64]> = b.cols.iter().map(|c| &c[lo..hi]).collect();
            let out = bootstrap_one(&cols, kw);
            crate::polars_expr_progress::tick(kw.progress, 1);
            out
        })
        .collect()
}

/// The [`GroupBootstrap`] of one group's (confidence, residual[, label]) columns (`None`:
/// empty group).
pub(crate) fn bootstrap_one(cols: &[&[f64]], kw: &Kwargs) -> PolarsResult<Option<GroupBootstrap>> {
    let Some(r) = rows(cols, kw)? else {
        return Ok(None);
    };
    let t = kw.targets();
    let estimates = metric_values(&r, t)?;
    let flat = Prepared::new(&r.conf, &r.res, r.labels.as_deref())
        .and_then(|p| bootstrap_metrics(&[p], kw.n_resamples, kw.seed, t))
        .map_err(core_err)?;
    Ok(Some((estimates, flat)))
}

fn bootstrap_ci(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    if !(kwargs.alpha > 0.0 && kwargs.alpha < 1.0) {
        return Err(err("InvalidArgumentError", "alpha must lie in (0, 1)"));
    }
    let (kw, idx) = bootstrap_kwargs(kwargs)?;
    let b = Batch::new(inputs)?;
    let values: Vec<Option<Vec<[f64; 3]>>> = group_bootstraps(&b, &kw)?
        .into_iter()
        .map(|g| {
            g.map(|(estimates, flat)| {
                idx.iter()
                    .map(|&j| interval(&flat, estimates[j], j, kw.alpha))
                    .collect()
            })
        })
        .collect();
    let mut fields = Vec::with_capacity(3 * idx.len());
    for (k, m) in kw.metrics.iter().enumerate() {
        for (i, suffix) in ["", "_low", "_high"].iter().enumerate() {
            let name = format!("{m}{suffix}");
            fields.push(f64_column(
                &name,
                values.iter().map(|v| v.as_ref().map(|v| v[k][i])),
            ));
        }
    }
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    struct_column(b.name, &fields, &valid)
}

// ------------------------------------------------------------------------------------------
// bootstrap_values: the resampled values of one metric (the first of `metrics`) per group

fn values_type(input_fields: &[Field], kwargs: &Kwargs) -> PolarsResult<Field> {
    if let Some(m) = kwargs.metrics.first() {
        index_of(m)?;
    }
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::List(Box::new(DataType::Float64)),
    ))
}

fn bootstrap_values(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let (kw, idx) = bootstrap_kwargs(kwargs)?;
    let Some(&j) = idx.first() else {
        return Err(err("InvalidArgumentError", "metrics must name one metric"));
    };
    let b = Batch::new(inputs)?;
    let width = METRIC_NAMES.len();
    let mut list: ListChunked = group_bootstraps(&b, &kw)?
        .into_iter()
        .map(|g| {
            g.map(|(_, flat)| {
                let v: Vec<f64> = flat.chunks_exact(width).map(|m| m[j]).collect();
                Series::new(PlSmallStr::EMPTY, v)
            })
        })
        .collect();
    list.rename(b.name);
    Ok(list.into_series())
}

// ------------------------------------------------------------------------------------------
// aubc: area under the budget curve of one AL run (`medtrust.active.metrics.aubc`)

/// numpy's pairwise summation of a contiguous float64 array (`np.sum`), to the last bit:
/// sequential below 8 values, eight accumulators up to 128, halves (multiples of 8) above.
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(0.0, |s, x| s + x);
    }
    if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[i..] {
            res += x;
        }
        return res;
    }
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
}

/// AUBC of one run: the trapezoid rule over `x` min-max scaled to [0, 1] (`None`: equally
/// spaced rounds, `np.linspace(0, 1, n)`), summed as `np.sum` does, so equal to the eager
/// function bit for bit.
fn aubc_of(dice: &[f64], x: Option<&[f64]>) -> PolarsResult<f64> {
    let n = dice.len();
    if dice.iter().any(|d| !d.is_finite()) {
        return Err(err("NaNInputError", "dice has null, NaN or inf values"));
    }
    if n == 1 {
        return Ok(dice[0]);
    }
    let xs: Vec<f64> = match x {
        None => {
            let step = 1.0 / (n - 1) as f64;
            let mut xs: Vec<f64> = (0..n).map(|i| i as f64 * step).collect();
            xs[n - 1] = 1.0;
            xs
        }
        Some(x) => {
            if x.iter().any(|v| !v.is_finite()) {
                return Err(err("NaNInputError", "x has null, NaN or inf values"));
            }
            if x.windows(2).any(|w| w[1] < w[0]) {
                return Err(err(
                    "InvalidArgumentError",
                    "x (budgets) must be non-decreasing (rows in round order)",
                ));
            }
            let span = x[n - 1] - x[0];
            if span <= 0.0 {
                return Err(err(
                    "InvalidArgumentError",
                    "x (budgets) must not be constant",
                ));
            }
            x.iter().map(|v| (v - x[0]) / span).collect()
        }
    };
    let terms: Vec<f64> = (0..n - 1)
        .map(|i| (xs[i + 1] - xs[i]) * (dice[i + 1] + dice[i]) / 2.0)
        .collect();
    Ok(numpy_sum(&terms))
}

fn aubc(inputs: &[Series], _: Kwargs) -> PolarsResult<Series> {
    let b = Batch::with_columns(inputs, 1..=2, "dice and optional budget")?;
    let values = b.map(|cols| match cols[0].len() {
        0 => Ok(None),
        _ => aubc_of(cols[0], cols.get(1).copied()).map(Some),
    })?;
    Ok(f64_column(
        b.name.as_str(),
        values.into_iter().map(Option::flatten),
    ))
}
