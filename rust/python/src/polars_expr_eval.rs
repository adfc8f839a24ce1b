//! `evaluate_groups`: every metric (and optional bootstrap intervals) of several CSFs per group
//! in one plugin call, the engine of `medtrust.selective.evaluate`.
//!
//! The input is one struct of `conf_0 .. conf_{K-1}, residual[, label]` in one of three forms:
//!
//! - imploded inside `group_by(...).agg(...)`: one list per group (as the other functions);
//! - plain columns (a `select`): one group of all rows;
//! - plain columns with the lengths of their runs in the keyword arguments (`run_lengths`, the
//!   `len` field of `pl.struct(by).rle()`), for frames whose groups are contiguous: each run is
//!   a slice of the columns, so polars neither hashes the keys nor gathers (implodes) the rows,
//!   no per-row run id is built, and the residual is read once for all CSFs.
//!
//! The output has one row per group: a list of K structs, one per CSF in order, with fields
//! `csf`, the metrics of `selective_metrics`, `n`, `n_dropped` and, with `ci`, `<m>_low` /
//! `<m>_high` for each of `metrics` (null struct: empty group). Each value comes from the same
//! functions as `selective_metrics` / `bootstrap_ci` on that group, so it is bit-equal to them.

use crate::polars_expr::{
    bootstrap_kwargs, bootstrap_one, err, interval, metrics_fields, one_group, policy,
    struct_column, Batch, GroupMetrics, Kwargs, Policy, Slices, N_METRICS,
};
use medtrust_core::risk::METRIC_NAMES;
use polars_arrow::bitmap::Bitmap;
use polars_arrow::offset::OffsetsBuffer;
use polars_core::prelude::LargeListArray;
use polars_core::prelude::*;
use std::borrow::Cow;

crate::plugin!(
    evaluate_groups,
    evaluate_type,
    _polars_plugin_evaluate_groups,
    _polars_plugin_field_evaluate_groups
);

/// The (estimate, low, high) of each CI metric of one (group, CSF); `None`: no rows.
type Intervals = Option<Vec<[f64; 3]>>;

const WHAT: &str = "CSF, residual and optional label";

/// The fields of one CSF's struct.
fn row_fields(kw: &Kwargs) -> Vec<Field> {
    let mut f = vec![Field::new("csf".into(), DataType::String)];
    f.extend(metrics_fields());
    if kw.ci {
        for m in &kw.metrics {
            for side in ["low", "high"] {
                f.push(Field::new(format!("{m}_{side}").into(), DataType::Float64));
            }
        }
    }
    f
}

fn evaluate_type(input_fields: &[Field], kw: &Kwargs) -> PolarsResult<Field> {
    Ok(Field::new(
        input_fields[0].name().clone(),
        DataType::List(Box::new(DataType::Struct(row_fields(kw)))),
    ))
}

/// The groups of the call (see the module docs for the three input forms).
fn batch(inputs: &[Series], kw: &Kwargs) -> PolarsResult<Batch> {
    let width = kw.names.len() + 1 + usize::from(kw.has_labels);
    let mut b = Batch::with_columns(inputs, width..=width, WHAT)?;
    if let Some(lengths) = &kw.run_lengths {
        let rows = inputs.first().map_or(0, |s| s.len());
        b.ranges = run_ranges(lengths, rows)?.into_iter().map(Some).collect();
    }
    Ok(b)
}

/// The (start, end) row range of each run of the given lengths, which must add up to `rows`.
fn run_ranges(lengths: &[u64], rows: usize) -> PolarsResult<Vec<(usize, usize)>> {
    let mut start = 0usize;
    let ranges = lengths
        .iter()
        .map(|&len| {
            let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            let r = (start, end);
            start = end;
            r
        })
        .collect();
    if start != rows {
        return Err(err(
            "InvalidArgumentError",
            format!("run lengths add up to {start} rows, the columns hold {rows}"),
        ));
    }
    Ok(ranges)
}

/// CSF `j`'s (confidence, residual[, label]) among a group's `K + 1 (+1)` columns (one call
/// per group and CSF: on the stack).
fn csf_columns<T: AsRef<[f64]>>(cols: &[T], j: usize, k: usize) -> Slices<'_> {
    Slices::new(
        std::iter::once(&cols[j])
            .chain(&cols[k..])
            .map(AsRef::as_ref),
    )
}

/// The (estimate, low, high) triples of `metrics` for each CSF of every group, or `None` per
/// (group, CSF) when the bootstrap rows are empty. Groups go one by one (each bootstrap runs in
/// parallel over resamples, as `bootstrap_ci`); with `nan_policy="omit"` a row is dropped when
/// any column is missing, so every CSF of a group sees the same cases (paired resamples).
fn group_intervals(b: &Batch, kwargs: &Kwargs) -> PolarsResult<Vec<Vec<Intervals>>> {
    if !(kwargs.alpha > 0.0 && kwargs.alpha < 1.0) {
        return Err(err("InvalidArgumentError", "alpha must lie in (0, 1)"));
    }
    let omit = policy(&kwargs.nan_policy)? == Policy::Omit;
    let (kw, idx) = bootstrap_kwargs(kwargs.clone())?;
    let k = kw.names.len();
    let mut out = Vec::with_capacity(b.len());
    for range in &b.ranges {
        let (lo, hi) = range.unwrap_or((0, 0));
        let group: Vec<&[f64]> = b.cols.iter().map(|c| &c[lo..hi]).collect();
        let cols: Vec<Cow<[f64]>> = if omit {
            let keep: Vec<usize> = (0..hi - lo)
                .filter(|&i| group.iter().all(|c| c[i].is_finite()))
                .collect();
            group
                .iter()
                .map(|c| Cow::Owned(keep.iter().map(|&i| c[i]).collect()))
                .collect()
        } else {
            group.iter().map(|c| Cow::Borrowed(*c)).collect()
        };
        let mut per_csf = Vec::with_capacity(k);
        for j in 0..k {
            let boot = bootstrap_one(&csf_columns(&cols, j, k), &kw)?;
            crate::polars_expr_progress::tick(kw.progress, 1);
            per_csf.push(boot.map(|(estimates, flat)| {
                idx.iter()
                    .map(|&m| interval(&flat, estimates[m], m, kw.alpha))
                    .collect()
            }));
        }
        out.push(per_csf);
    }
    Ok(out)
}

fn evaluate_groups(inputs: &[Series], kwargs: Kwargs) -> PolarsResult<Series> {
    let k = kwargs.names.len();
    if k == 0 {
        return Err(err("InvalidArgumentError", "names must list the CSFs"));
    }
    let b = batch(inputs, &kwargs)?;
    let t = kwargs.targets();
    // Every CSF of a group in one task: the group's residual is read once, in cache.
    let metrics: Vec<Vec<Option<GroupMetrics>>> = b
        .map(|cols| {
            (0..k)
                .map(|j| one_group(&csf_columns(cols, j, k), &kwargs, t))
                .collect::<PolarsResult<Vec<_>>>()
        })?
        .into_iter()
        .map(|g| g.unwrap_or_else(|| vec![None; k]))
        .collect();
    let cis = if kwargs.ci {
        Some(group_intervals(&b, &kwargs)?)
    } else {
        None
    };
    let flat: Vec<&Option<GroupMetrics>> = metrics.iter().flatten().collect();
    let csf = StringChunked::from_iter_values(
        "csf".into(),
        (0..flat.len()).map(|i| kwargs.names[i % k].as_str()),
    )
    .into_series();
    // One pass over the rows into one plain vector per field plus one validity mask shared by
    // every field (null where the group is empty): with 10^5 groups, building each field by
    // `from_iter_options` over the rows took longer than the metrics of small groups.
    let valid: Vec<bool> = flat.iter().map(|g| g.is_some()).collect();
    let mask = (!valid.iter().all(|v| *v)).then(|| Bitmap::from_iter(valid.iter().copied()));
    let mut values: Vec<Vec<f64>> = (0..N_METRICS)
        .map(|_| Vec::with_capacity(flat.len()))
        .collect();
    let (mut n, mut dropped) = (
        Vec::with_capacity(flat.len()),
        Vec::with_capacity(flat.len()),
    );
    for g in &flat {
        let (m, d) = g.as_ref().map_or(([f64::NAN; 18], 0), |(m, d)| (*m, *d));
        for (col, v) in values.iter_mut().zip(m) {
            col.push(v);
        }
        n.push(m[N_METRICS] as i64);
        dropped.push(d as i64);
    }
    let mut fields = vec![csf];
    for (col, name) in values.into_iter().zip(&METRIC_NAMES[..N_METRICS]) {
        let ca = Float64Chunked::from_vec_validity((*name).into(), col, mask.clone());
        fields.push(ca.into_series());
    }
    for (name, col) in [("n", n), ("n_dropped", dropped)] {
        fields.push(Int64Chunked::from_vec_validity(name.into(), col, mask.clone()).into_series());
    }
    if let Some(cis) = &cis {
        let per: Vec<&Intervals> = cis.iter().flatten().collect();
        for (q, m) in kwargs.metrics.iter().enumerate() {
            for (side, pos) in [("low", 1), ("high", 2)] {
                let v = per.iter().map(|c| c.as_ref().map(|c| c[q][pos]));
                let name = format!("{m}_{side}");
                fields.push(Float64Chunked::from_iter_options(name.into(), v).into_series());
            }
        }
    }
    let rows = struct_column(b.name.clone(), &fields, &valid)?;
    list_of(rows, k, b.len(), b.name)
}

/// `flat` (`groups * k` rows) as `groups` lists of `k` rows.
fn list_of(flat: Series, k: usize, groups: usize, name: PlSmallStr) -> PolarsResult<Series> {
    let flat = flat.rechunk();
    let values = flat.chunks()[0].clone();
    let offsets: Vec<i64> = (0..=groups).map(|g| (g * k) as i64).collect();
    let offsets = OffsetsBuffer::try_from(offsets)?;
    let arr = LargeListArray::new(
        LargeListArray::default_datatype(values.dtype().clone()),
        offsets,
        values,
        None,
    );
    let dtype = DataType::List(Box::new(flat.dtype().clone()));
    // SAFETY: the list's inner arrow type is `values`' own, and `dtype` is `flat`'s dtype.
    let ca = unsafe { ListChunked::from_chunks_and_dtype(name, vec![Box::new(arr)], dtype) };
    Ok(ca.into_series())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_hold_every_column_on_the_stack_or_beyond_it() {
        let cols: Vec<Vec<f64>> = (0..11).map(|i| vec![i as f64; 2]).collect();
        for n in [0, 3, 8, 9, 11] {
            let want: Vec<&[f64]> = cols[..n].iter().map(Vec::as_slice).collect();
            let got = Slices::new(cols[..n].iter().map(Vec::as_slice));
            assert_eq!(&*got, &want[..], "{n} columns");
            assert_eq!(matches!(got, Slices::Heap(_)), n > 8);
        }
        // A CSF's columns: its confidence, then the residual and label after the K CSFs.
        assert_eq!(
            &*csf_columns(&cols[..5], 1, 3),
            &[&cols[1][..], &cols[3], &cols[4]]
        );
    }

    #[test]
    fn runs_are_consecutive_ranges_of_their_lengths() {
        assert_eq!(
            run_ranges(&[2, 3, 1], 6).expect("lengths"),
            vec![(0, 2), (2, 5), (5, 6)]
        );
        assert!(run_ranges(&[], 0).expect("none").is_empty());
        assert!(run_ranges(&[2, 3], 6).is_err());
        assert!(run_ranges(&[u64::MAX, 1], 6).is_err());
    }
}
