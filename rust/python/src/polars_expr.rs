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

use medtrust_core::bootstrap::{bootstrap_metrics, Prepared};
use medtrust_core::risk::{self, Targets, METRIC_NAMES};
use medtrust_core::CoreError;
use polars_core::prelude::*;
use serde::Deserialize;

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
    bootstrap_ci,
    ci_type,
    _polars_plugin_bootstrap_ci,
    _polars_plugin_field_bootstrap_ci
);

/// Metric fields of the `selective_metrics` struct (every name but the trailing `n`).
const N_METRICS: usize = METRIC_NAMES.len() - 1;

/// Keyword arguments shared by every function (pickled by `register_plugin_function`).
#[derive(Deserialize)]
pub(crate) struct Kwargs {
    nan_policy: String,
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
    metrics: Vec<String>,
    #[serde(default)]
    n_resamples: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    alpha: f64,
}

impl Kwargs {
    fn targets(&self) -> Targets {
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

fn index_of(name: &str) -> PolarsResult<usize> {
    METRIC_NAMES[..N_METRICS]
        .iter()
        .position(|m| *m == name)
        .ok_or_else(|| err("InvalidArgumentError", format!("unknown metric {name:?}")))
}

pub(crate) fn err(class: &str, msg: impl std::fmt::Display) -> PolarsError {
    PolarsError::ComputeError(format!("medtrust[{class}]: {msg}").into())
}

/// A core error as a polars error naming its `medtrust.exceptions` class (as `errors::to_py`).
fn core_err(e: CoreError) -> PolarsError {
    let class = match &e {
        CoreError::Empty { .. } => "EmptyInputError",
        CoreError::ShapeMismatch { .. } => "ShapeMismatchError",
        CoreError::InvalidValue(_) => "InvalidValueError",
        CoreError::InvalidArgument(_) => "InvalidArgumentError",
    };
    err(class, e)
}

/// Validated rows of one group.
struct Rows {
    conf: Vec<f64>,
    res: Vec<f64>,
    /// Class-balanced residuals when a label column was given.
    /// Class labels of the rows (for the balanced metrics), as the core takes them.
    labels: Option<Vec<f64>>,
    /// Rows dropped by `nan_policy="omit"`.
    n_dropped: usize,
    /// `nan_policy="propagate"` met a missing value: every metric is NaN.
    propagate: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Policy {
    Raise,
    Omit,
    Propagate,
}

fn policy(name: &str) -> PolarsResult<Policy> {
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

fn float_column(s: &Series) -> PolarsResult<Float64Chunked> {
    if !s.dtype().is_primitive_numeric() && !s.dtype().is_bool() && !s.dtype().is_null() {
        return Err(err(
            "DTypeError",
            format!("column {:?} must be numeric, got {}", s.name(), s.dtype()),
        ));
    }
    Ok(s.cast(&DataType::Float64)?.f64()?.clone())
}

/// The (confidence, residual[, label]) columns: Python packs them into one struct input, so
/// that polars runs a `group_by` aggregation over groups in parallel (its one-input path).
fn columns(inputs: &[Series]) -> PolarsResult<Vec<Series>> {
    let cols = match inputs {
        [s] if matches!(s.dtype(), DataType::Struct(_)) => s.struct_()?.fields_as_series(),
        _ => inputs.to_vec(),
    };
    if !(2..=3).contains(&cols.len()) {
        return Err(err(
            "InvalidArgumentError",
            format!(
                "expected confidence, residual and optional label columns, got {}",
                cols.len()
            ),
        ));
    }
    Ok(cols)
}

/// The rows of one group after the `nan_policy` rules of `prepare` (null counts as NaN).
///
/// `None` when the group is empty (before or after dropping): the expression returns null.
fn rows(inputs: &[Series], kw: &Kwargs) -> PolarsResult<Option<Rows>> {
    let pol = policy(&kw.nan_policy)?;
    let cols = columns(inputs)?
        .iter()
        .map(float_column)
        .collect::<PolarsResult<Vec<_>>>()?;
    let n = cols[0].len();
    if cols.iter().any(|c| c.len() != n) {
        return Err(err(
            "ShapeMismatchError",
            "confidence, residual and label columns must have the same length",
        ));
    }
    let with_labels = cols.len() > 2;
    let mut conf = Vec::with_capacity(n);
    let mut res = Vec::with_capacity(n);
    let mut lab = Vec::with_capacity(if with_labels { n } else { 0 });
    let mut bad = 0usize;
    let missing = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut labels_iter = cols.get(2).map(|c| c.iter());
    for (c, r) in cols[0].iter().zip(cols[1].iter()) {
        let l = labels_iter.as_mut().and_then(|it| it.next()).flatten();
        let (c, r) = (missing(c), missing(r));
        let l_ok = !with_labels || missing(l).is_some();
        match (c, r) {
            (Some(c), Some(r)) if l_ok => {
                conf.push(c);
                res.push(r);
                if with_labels {
                    lab.push(l.unwrap_or(f64::NAN));
                }
            }
            _ => bad += 1,
        }
    }
    if n == 0 {
        return Ok(None);
    }
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
                    conf: vec![f64::NAN; n],
                    res: Vec::new(),
                    labels: None,
                    n_dropped: 0,
                    propagate: true,
                }))
            }
            Policy::Omit if conf.is_empty() => return Ok(None),
            Policy::Omit => {}
        }
    }
    if kw.check_range && res.iter().any(|&r| !(0.0..=1.0).contains(&r)) {
        let (lo, hi) = res
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
                (a.min(r), b.max(r))
            });
        return Err(err(
            "InvalidValueError",
            format!(
                "residuals must lie in [0, 1] (got min {lo}, max {hi}); pass check_range=False \
                 for unbounded risks such as HD95"
            ),
        ));
    }
    if with_labels && lab.iter().any(|l| *l != l.round()) {
        return Err(err(
            "InvalidValueError",
            "labels must be integer class indices",
        ));
    }
    Ok(Some(Rows {
        conf,
        res,
        labels: with_labels.then_some(lab),
        n_dropped: bad,
        propagate: false,
    }))
}

/// The 17 metric values and n of one group (NaN values when NaN propagates).
fn metric_values(r: &Rows, t: Targets) -> PolarsResult<[f64; 18]> {
    if r.propagate {
        let mut v = [f64::NAN; 18];
        v[N_METRICS] = r.conf.len() as f64;
        return Ok(v);
    }
    let m = risk::risk_metrics(&r.conf, &r.res, r.labels.as_deref(), t).map_err(core_err)?;
    Ok(m.to_array())
}

fn scalar_f64(name: PlSmallStr, v: Option<f64>) -> Series {
    Series::new(name, [v])
}

// ------------------------------------------------------------------------------------------
// selective_metrics: one struct with every metric

fn metrics_fields() -> Vec<Field> {
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

fn selective_metrics(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let name = inputs[0].name().clone();
    let r = rows(inputs, &kwargs)?;
    let values = match &r {
        Some(r) => Some(metric_values(r, kwargs.targets())?),
        None => None,
    };
    let mut fields: Vec<Series> = METRIC_NAMES[..N_METRICS]
        .iter()
        .enumerate()
        .map(|(j, m)| scalar_f64((*m).into(), values.map(|v| v[j])))
        .collect();
    let n = values.map(|v| v[N_METRICS] as i64);
    fields.push(Series::new("n".into(), [n]));
    let dropped = r.as_ref().map(|r| r.n_dropped as i64);
    fields.push(Series::new("n_dropped".into(), [dropped]));
    let out = StructChunked::from_series(name, 1, fields.iter())?;
    let out = if values.is_none() {
        // An empty group is a null struct, not a struct of nulls.
        out.with_outer_validity(Some([false].into_iter().collect()))
    } else {
        out
    };
    Ok(out.into_series())
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
    let name = inputs[0].name().clone();
    let v = match rows(inputs, &kwargs)? {
        Some(r) => Some(metric_values(&r, kwargs.targets())?[j]),
        None => None,
    };
    Ok(scalar_f64(name, v))
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
    let name = inputs[0].name().clone();
    let r = rows(inputs, &kwargs)?;
    let arrays: Option<[Vec<f64>; 4]> = match &r {
        None => None,
        Some(r) if r.propagate => Some(std::array::from_fn(|_| vec![f64::NAN])),
        Some(r) => {
            let c = risk::risk_coverage_curve(&r.conf, &r.res).map_err(core_err)?;
            Some([
                c.coverages,
                c.selective_risks,
                c.generalized_risks,
                c.thresholds,
            ])
        }
    };
    let fields: Vec<Series> = CURVE_FIELDS
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let inner = arrays
                .as_ref()
                .map(|a| Series::new(PlSmallStr::EMPTY, a[j].as_slice()));
            let mut list: ListChunked = [inner].into_iter().collect();
            list.rename((*f).into());
            list.into_series()
        })
        .collect();
    let out = StructChunked::from_series(name, 1, fields.iter())?;
    let out = if arrays.is_none() {
        out.with_outer_validity(Some([false].into_iter().collect()))
    } else {
        out
    };
    Ok(out.into_series())
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
fn interval(flat: &[f64], estimate: f64, j: usize, alpha: f64) -> [f64; 3] {
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

fn bootstrap_ci(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let idx = kwargs
        .metrics
        .iter()
        .map(|m| index_of(m))
        .collect::<PolarsResult<Vec<_>>>()?;
    if kwargs.n_resamples == 0 {
        return Err(err("InvalidArgumentError", "n_resamples must be >= 1"));
    }
    if !(kwargs.alpha > 0.0 && kwargs.alpha < 1.0) {
        return Err(err("InvalidArgumentError", "alpha must lie in (0, 1)"));
    }
    let name = inputs[0].name().clone();
    // As `paired_bootstrap`: resampling NaN is meaningless, so "propagate" raises.
    let mut kw = kwargs;
    if kw.nan_policy == "propagate" {
        kw.nan_policy = "raise".into();
    }
    let t = kw.targets();
    let values: Option<Vec<[f64; 3]>> = match rows(inputs, &kw)? {
        None => None,
        Some(r) => {
            let estimates = metric_values(&r, t)?;
            let flat = Prepared::new(&r.conf, &r.res, r.labels.as_deref())
                .and_then(|p| bootstrap_metrics(&[p], kw.n_resamples, kw.seed, t))
                .map_err(core_err)?;
            Some(
                idx.iter()
                    .map(|&j| interval(&flat, estimates[j], j, kw.alpha))
                    .collect(),
            )
        }
    };
    let mut fields = Vec::with_capacity(3 * idx.len());
    for (k, m) in kw.metrics.iter().enumerate() {
        for (i, suffix) in ["", "_low", "_high"].iter().enumerate() {
            let v = values.as_ref().map(|v| v[k][i]);
            fields.push(scalar_f64(format!("{m}{suffix}").into(), v));
        }
    }
    let out = StructChunked::from_series(name, 1, fields.iter())?;
    let out = if values.is_none() {
        out.with_outer_validity(Some([false].into_iter().collect()))
    } else {
        out
    };
    Ok(out.into_series())
}
