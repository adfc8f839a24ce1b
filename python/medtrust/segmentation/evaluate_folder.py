"""Evaluate a folder of predicted label maps against a folder of references (nnU-Net style).

The counterpart of nnU-Net v2's ``nnUNetv2_evaluate_folder`` / ``compute_metrics_on_folder``:
every prediction ``PRED/<case><ending>`` is compared with ``LABELS/<case><ending>``, class by
class (or region by region), and the result is one long table with a row per case and class
(:func:`evaluate_folder`) and a ``summary.json`` with nnU-Net's structure
(:func:`summarize_evaluation`, :func:`write_evaluation`).

(Over 400 lines because the table, its nnU-Net summary and the writer share the row format and
the conventions below; split, each would restate them.)

Conventions (nnU-Net's, kept so that the numbers agree)
-------------------------------------------------------
- classes: plain labels (``1``) or regions (``(1, 2)``: the union of those labels, nnU-Net's
  region-based training); keys in ``summary.json`` are ``str(label_or_region)``, as nnU-Net
  writes them ("1", "(1, 2)");
- ``ignore_label``: voxels whose *reference* holds it count nowhere (TP, FP, FN and TN);
- a class empty in both maps: Dice and IoU are NaN (nnU-Net's rule), and so are the surface
  metrics; per-class means are NaN-means over cases (``np.nanmean``), ``foreground_mean`` the
  plain mean of the per-class means of every class but 0 (NaN if one of them is NaN);
- TP, FP, FN, TN, ``n_pred`` and ``n_ref`` of every class are in the table and the summary.

Differences from nnU-Net (each deliberate)
------------------------------------------
- surface metrics (``hd``, ``hd95``, ``assd``, ``nsd@T``) are offered in addition to Dice and IoU
  (nnU-Net has none); they need the voxel spacing: ``spacing_from_files=True`` takes it from
  the file headers (the reference's; a prediction whose spacing differs is refused), or pass
  ``spacing=``. They follow :mod:`medtrust.segmentation.surface` (border voxels, one empty
  mask: ``inf``; prediction voxels on ignored reference voxels are dropped first);
- a prediction without a reference, or (unless ``allow_missing=True``, nnU-Net's ``--chill``)
  a reference without a prediction, is an error that names the cases, before any work;
- the default classes, when none are given, are the foreground labels found in the files
  (nnU-Net reads them from ``dataset.json``);
- ``summary.json`` carries a ``medtrust`` section more: per class and metric the number of
  cases, of NaN and infinite values, and of cases with an empty reference or prediction;
- files are read with nibabel (NIfTI); nnU-Net's SimpleITK reader returns the axes reversed,
  which changes no count.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from medtrust.io import save_nifti
>>> from medtrust.segmentation import evaluate_folder
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> ref = np.zeros((6, 6, 6), np.uint8); ref[1:4, 1:4, 1:4] = 1
>>> pred = np.zeros_like(ref); pred[1:4, 1:4, 2:5] = 1
>>> save_nifti(root / "labels" / "c1.nii.gz", ref, spacing=(1.0, 1.0, 1.0))
>>> save_nifti(root / "pred" / "c1.nii.gz", pred, spacing=(1.0, 1.0, 1.0))
>>> t = evaluate_folder(root / "pred", root / "labels", progress=False)
>>> t.select("case", "class", "dice", "tp", "fp", "fn").row(0)
('c1', '1', 0.6666666666666666, 18, 9, 9)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust._arrays import as_int, as_spacing
from medtrust.exceptions import DatasetError, InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FOLDER_METRICS",
    "evaluate_folder",
    "parse_metrics",
    "summarize_evaluation",
    "write_evaluation",
]

#: Metric names accepted by :func:`evaluate_folder` (``nsd@T``: NSD at T mm).
FOLDER_METRICS: tuple[str, ...] = ("dice", "iou", "hd", "hd95", "assd", "nsd@T")
_SURFACE = ("hd", "hd95", "assd")
_COUNTS = ("tp", "fp", "fn", "tn", "n_pred", "n_ref")
#: summary.json keys of nnU-Net for the metrics it has.
_NNUNET_KEYS = {"dice": "Dice", "iou": "IoU", "tp": "TP", "fp": "FP", "fn": "FN", "tn": "TN"}
_ENDINGS = (".nii.gz", ".nii")


def parse_metrics(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """Validate metric names (``"dice,hd95,nsd@2"`` or a list); returns them normalised.

    Parameters
    ----------
    metrics
        Comma-separated string or sequence of names from :data:`FOLDER_METRICS`; ``nsd@T``
        takes the tolerance T in mm (``nsd@2``, ``nsd@0.5``).

    Returns
    -------
    tuple of str
        The names, lower case, duplicates removed, tolerances written as given.

    Examples
    --------
    >>> parse_metrics("Dice, hd95,nsd@2")
    ('dice', 'hd95', 'nsd@2')
    """
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for raw in items:
        m = str(raw).strip().lower()
        if not m:
            continue
        if m == "nsd":
            raise InvalidArgumentError("metrics: 'nsd' needs its tolerance in mm, e.g. 'nsd@2'")
        if m.startswith("nsd@"):
            tol = m[4:]
            if not re.fullmatch(r"\d+(\.\d+)?", tol) or float(tol) <= 0:
                raise InvalidArgumentError(
                    f"metrics: {raw!r} needs a tolerance in mm > 0 after '@', e.g. 'nsd@2'"
                )
        elif m not in ("dice", "iou", *_SURFACE):
            raise InvalidArgumentError(f"metrics: unknown metric {raw!r}; known: {FOLDER_METRICS}")
        if m not in out:
            out.append(m)
    if not out:
        raise InvalidArgumentError("metrics is empty; e.g. 'dice,iou'")
    return tuple(out)


def _key(region: tuple[int, ...]) -> str:
    """nnU-Net's key of a label ("1") or a region ("(1, 2)")."""
    return str(region[0]) if len(region) == 1 else str(region)


def _regions(classes: Any) -> list[tuple[int, ...]] | None:
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise InvalidArgumentError(
            f"classes must be a sequence of labels or regions, got {classes!r}"
        )
    out = []
    for c in classes:
        region = tuple(c) if isinstance(c, (list, tuple)) else (c,)
        if not region:
            raise InvalidArgumentError("classes: a region must hold at least one label")
        out.append(tuple(as_int(x, "classes", lo=0, hi=2**31 - 1) for x in region))
    if not out:
        raise InvalidArgumentError("classes is empty; pass None for every foreground label")
    if len(set(out)) != len(out):
        raise InvalidArgumentError(f"classes must be distinct, got {[_key(r) for r in out]}")
    return out


def _case_files(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DatasetError(f"{what} folder not found: {folder}")
    out = {}
    for p in sorted(folder.iterdir()):
        for e in _ENDINGS:
            if p.is_file() and p.name.endswith(e):
                out[p.name[: -len(e)]] = p
                break
    return out


@dataclass(frozen=True)
class _Task:
    case: str
    pred: str
    ref: str
    regions: list[tuple[int, ...]] | None
    metrics: tuple[str, ...]
    ignore_label: int | None
    spacing_from_files: bool
    spacing: tuple[float, ...] | None


def _plain_counts(
    p: np.ndarray,
    t: np.ndarray,
    regions: list[tuple[int, ...]],
    ignore: int | None,
    ignored: np.ndarray | None,
) -> dict[tuple[int, ...], tuple[int, int, int, int]]:
    """TP, FP, FN, TN of every plain label in one pass of the Rust counter (all classes at once).

    Left to the per-region path (empty result) when the prediction holds the ignore label: the
    counter accepts it in the reference only.
    """
    from medtrust.segmentation.overlap import confusion_counts

    if not any(len(r) == 1 for r in regions):
        return {}
    if ignored is not None and np.any(p == ignore):
        return {}
    c = confusion_counts(p, t, ignore_label=ignore)
    index = {int(k): i for i, k in enumerate(c.class_labels.tolist())}
    n = int(c.n_voxels)  # voxels counted: the ignored ones are already left out
    out: dict[tuple[int, ...], tuple[int, int, int, int]] = {}
    for r in regions:
        if len(r) == 1:
            i = index.get(r[0])
            if i is None:  # absent from both maps
                out[r] = (0, 0, 0, n)
            else:
                out[r] = (int(c.tp[i]), int(c.fp[i]), int(c.fn[i]), int(c.tn[i]))
    return out


def _region_counts(
    p: np.ndarray, t: np.ndarray, region: tuple[int, ...], ignored: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Masks and counts of one region (the union of its labels), as binary maps."""
    from medtrust.segmentation.overlap import confusion_counts

    pm = np.isin(p, region)
    tm = np.isin(t, region)
    if ignored is not None:
        pm &= ~ignored
    # Reference voxels under the ignore label carry label 2, which the counter leaves out
    # (nnU-Net's ignore mask).
    tl = tm.astype(np.uint8)
    if ignored is not None:
        tl[ignored] = 2
    c = confusion_counts(
        pm.astype(np.uint8), tl, n_classes=2, ignore_label=2 if ignored is not None else None
    )
    return pm, tm, (int(c.tp[1]), int(c.fp[1]), int(c.fn[1]), int(c.tn[1]))


def _rows(task: _Task) -> tuple[int, list[dict[str, Any]]]:
    """Voxels counted and one row per class of one case (module-level: runs in workers)."""
    from medtrust.io import load_labels
    from medtrust.segmentation.surface import surface_distances

    t, t_sp, _ = load_labels(task.ref)
    p, p_sp, _ = load_labels(task.pred)
    if p.shape != t.shape:
        raise DatasetError(
            f"case {task.case!r}: prediction shape {p.shape} differs from the reference's {t.shape}"
        )
    wants_surface = any(m in _SURFACE or m.startswith("nsd@") for m in task.metrics)
    spacing = task.spacing
    if task.spacing_from_files:
        if not np.allclose(p_sp, t_sp, rtol=1e-4, atol=1e-6):
            raise DatasetError(
                f"case {task.case!r}: prediction spacing {p_sp} differs from the reference's {t_sp}"
            )
        spacing = t_sp
    ignored = None if task.ignore_label is None else t == task.ignore_label
    regions = task.regions
    if regions is None:  # the foreground labels of this case (the caller fills the others in)
        present = np.union1d(np.unique(p), np.unique(t[~ignored] if ignored is not None else t))
        regions = [(int(c),) for c in present if c != 0 and c != task.ignore_label]
    plain = _plain_counts(p, t, regions, task.ignore_label, ignored)
    rows = []
    for region in regions:
        pm = tm = None
        if region in plain:
            tp, fp, fn, tn = plain[region]
        else:
            pm, tm, (tp, fp, fn, tn) = _region_counts(p, t, region, ignored)
        row: dict[str, Any] = {"case": task.case, "class": _key(region)}
        row.update(tp=tp, fp=fp, fn=fn, tn=tn, n_pred=tp + fp, n_ref=tp + fn)
        den = tp + fp + fn
        for m in task.metrics:
            if m == "dice":
                row[m] = 2 * tp / (2 * tp + fp + fn) if den else math.nan
            elif m == "iou":
                row[m] = tp / den if den else math.nan
        if wants_surface:
            if pm is None or tm is None:
                pm, tm = np.isin(p, region), np.isin(t, region)
                if ignored is not None:
                    pm &= ~ignored
            d = surface_distances(pm, tm, spacing=spacing)
            for m in task.metrics:
                if m in _SURFACE:
                    row[m] = float(getattr(d, m)())
                elif m.startswith("nsd@"):
                    row[m] = float(d.nsd(float(m[4:])))
        row["prediction_file"], row["reference_file"] = task.pred, task.ref
        rows.append(row)
    n_counted = int(t.size - (0 if ignored is None else np.count_nonzero(ignored)))
    return n_counted, rows


def evaluate_folder(
    pred_dir: str | Path,
    labels_dir: str | Path,
    *,
    metrics: str | Sequence[str] = ("dice", "iou"),
    classes: Sequence[int | Sequence[int]] | None = None,
    ignore_label: int | None = None,
    spacing_from_files: bool = False,
    spacing: Sequence[float] | None = None,
    allow_missing: bool = False,
    workers: int = 1,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Compare every predicted label map in ``pred`` with its reference in ``labels``.

    Parameters
    ----------
    pred_dir, labels_dir
        Folders of ``<case>.nii.gz`` (or ``.nii``) label maps; cases match by file name.
    metrics
        Names from :data:`FOLDER_METRICS` (``"dice,hd95,nsd@2"`` or a list); counts (TP, FP,
        FN, TN, ``n_pred``, ``n_ref``) are always reported.
    classes
        Labels (``[1, 2]``) and/or regions (``[(1, 2), 2]``) to evaluate; default: every
        foreground label found in the files.
    ignore_label
        Reference label whose voxels count nowhere (nnU-Net's ``ignore`` label).
    spacing_from_files, spacing
        Voxel spacing of the surface metrics: from the file headers, or given (mm per array
        axis); surface metrics need one of them.
    allow_missing
        Evaluate only the predictions present (nnU-Net's ``--chill``); otherwise a reference
        without a prediction is an error.
    workers
        Worker processes (:func:`medtrust._parallel.map_local`); 1 runs in this process.
    progress
        Progress bar over cases (default: on when stderr is a terminal).

    Returns
    -------
    polars.DataFrame
        One row per case and class: ``case``, ``class`` (nnU-Net's key), ``tp``, ``fp``,
        ``fn``, ``tn``, ``n_pred``, ``n_ref``, one column per metric, ``prediction_file``,
        ``reference_file``; sorted by case, then class.

    Examples
    --------
    See the module docs; :func:`write_evaluation` writes the table and ``summary.json``.
    """
    import polars as pl

    from medtrust._io import progress_bar, progress_enabled
    from medtrust._parallel import map_local, raise_first_error

    names = parse_metrics(metrics)
    regions = _regions(classes)
    if ignore_label is not None:
        ignore_label = as_int(ignore_label, "ignore_label", lo=0, hi=2**63 - 1)
    workers = as_int(workers, "workers", lo=1, hi=4096)
    if regions is not None and ignore_label is not None:
        clash = [_key(r) for r in regions if ignore_label in r]
        if clash:
            raise InvalidArgumentError(
                f"classes {clash} contain the ignore_label {ignore_label}; it counts nowhere"
            )
    surface = any(m in _SURFACE or m.startswith("nsd@") for m in names)
    if spacing_from_files and spacing is not None:
        raise InvalidArgumentError("give spacing or spacing_from_files=True, not both")
    if surface and not spacing_from_files and spacing is None:
        raise InvalidArgumentError(
            f"surface metrics {[m for m in names if m not in ('dice', 'iou')]} need the voxel "
            "spacing: pass spacing_from_files=True (--spacing-from-files) or spacing="
        )
    sp = tuple(float(x) for x in spacing) if spacing is not None else None
    if sp is not None:
        sp = as_spacing(sp, len(sp))
    preds = _case_files(Path(pred_dir), "pred")
    refs = _case_files(Path(labels_dir), "labels")
    if not preds:
        raise DatasetError(f"no .nii.gz / .nii files in the pred folder {pred_dir}")
    orphans = sorted(set(preds) - set(refs))
    missing = sorted(set(refs) - set(preds))
    if orphans:
        raise DatasetError(f"predictions without a reference in {labels_dir}: {orphans[:10]}")
    if missing and not allow_missing:
        raise DatasetError(
            f"{len(missing)} reference(s) without a prediction in {pred_dir}: {missing[:10]} "
            "(allow_missing=True / --allow-missing evaluates the predictions present)"
        )
    tasks = [
        _Task(c, str(preds[c]), str(refs[c]), regions, names, ignore_label, spacing_from_files, sp)
        for c in sorted(preds)
    ]
    bar = progress_bar(
        total=len(tasks), desc="cases", enabled=progress_enabled(progress), leave=False
    )
    try:
        outcomes = map_local(_rows, tasks, workers=workers, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    raise_first_error(outcomes)
    rows = [r for o in outcomes for r in o.value[1]]
    if regions is None:
        rows = _fill_absent(rows, tasks, [o.value[0] for o in outcomes], names)
    schema: dict[str, Any] = {"case": pl.Utf8, "class": pl.Utf8}
    schema.update({k: pl.Int64 for k in _COUNTS})
    schema.update({m: pl.Float64 for m in names})
    schema.update({"prediction_file": pl.Utf8, "reference_file": pl.Utf8})
    table = pl.DataFrame(rows, schema=schema)
    order = {_key(r): i for i, r in enumerate(regions)} if regions is not None else None
    sort_key = (
        pl.col("class").replace_strict(order, return_dtype=pl.Int64)
        if order
        else pl.col("class").cast(pl.Int64)
    )
    return table.with_columns(_k=sort_key).sort("case", "_k").drop("_k")


def _fill_absent(
    rows: list[dict[str, Any]], tasks: list[_Task], counted: list[int], names: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Default classes: a label absent from both maps of a case gets its (empty) row there."""
    classes = sorted({r["class"] for r in rows}, key=int)
    have = {(r["case"], r["class"]) for r in rows}
    out = list(rows)
    for task, n in zip(tasks, counted):
        for c in classes:
            if (task.case, c) not in have:
                row: dict[str, Any] = {"case": task.case, "class": c, "tp": 0, "fp": 0, "fn": 0}
                row.update(tn=n, n_pred=0, n_ref=0, prediction_file=task.pred)
                row.update(reference_file=task.ref, **{m: math.nan for m in names})
                out.append(row)
    return out


def _summary_key(metric: str) -> str:
    return _NNUNET_KEYS.get(metric, metric if metric in ("n_pred", "n_ref") else metric.upper())


def _nanmean(v: np.ndarray) -> float:
    ok = ~np.isnan(v)
    return float(np.mean(v[ok])) if ok.any() else math.nan


def summarize_evaluation(table: pl.DataFrame) -> dict[str, Any]:
    """``summary.json`` content of an :func:`evaluate_folder` table, in nnU-Net's structure.

    Parameters
    ----------
    table
        The table returned by :func:`evaluate_folder`.

    Returns
    -------
    dict
        ``metric_per_case`` (one entry per case: ``reference_file``, ``prediction_file``,
        ``metrics`` {class key: {"Dice", "IoU", "TP", "FP", "FN", "TN", "n_pred", "n_ref",
        "HD95", "NSD@2", ...}}), ``mean`` (NaN-mean over cases per class and metric),
        ``foreground_mean`` (mean over every class but "0" of ``mean``) as nnU-Net writes
        them, and ``medtrust``: per class and metric ``mean``, ``n_cases``, ``n_nan``,
        ``n_inf``, ``n_empty_ref``, ``n_empty_pred``, ``n_empty_both``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"case": ["a", "b"], "class": ["1", "1"], "tp": [2, 0], "fp": [0, 0],
    ...     "fn": [2, 0], "tn": [4, 8], "n_pred": [2, 0], "n_ref": [4, 0],
    ...     "dice": [2 / 3, float("nan")], "prediction_file": ["p/a", "p/b"],
    ...     "reference_file": ["l/a", "l/b"]})
    >>> s = summarize_evaluation(t)
    >>> round(s["mean"]["1"]["Dice"], 4), s["medtrust"]["per_class"]["1"]["Dice"]["n_nan"]
    (0.6667, 1)
    """
    fixed = {"case", "class", "prediction_file", "reference_file"}
    metric_cols = [c for c in table.columns if c not in fixed]
    classes = list(dict.fromkeys(table["class"].to_list()))
    per_case = []
    for _case, part in table.group_by("case", maintain_order=True):
        first = part.row(0, named=True)
        per_case.append(
            {
                "reference_file": first["reference_file"],
                "prediction_file": first["prediction_file"],
                "metrics": {
                    r["class"]: {_summary_key(m): r[m] for m in metric_cols}
                    for r in part.iter_rows(named=True)
                },
            }
        )
    means: dict[str, dict[str, float]] = {}
    stats: dict[str, dict[str, dict[str, Any]]] = {}
    for c in classes:
        part = table.filter(table["class"] == c)
        n_ref, n_pred = part["n_ref"].to_numpy(), part["n_pred"].to_numpy()
        means[c], stats[c] = {}, {}
        for m in metric_cols:
            v = part[m].cast(float).to_numpy()
            key = _summary_key(m)
            means[c][key] = _nanmean(v)
            stats[c][key] = {
                "mean": means[c][key],
                "n_cases": len(v),
                "n_nan": int(np.isnan(v).sum()),
                "n_inf": int(np.isinf(v).sum()),
                "n_empty_ref": int((n_ref == 0).sum()),
                "n_empty_pred": int((n_pred == 0).sum()),
                "n_empty_both": int(((n_ref == 0) & (n_pred == 0)).sum()),
            }
    fg = [c for c in classes if c != "0"]
    foreground_mean = {
        _summary_key(m): (
            float(np.mean([means[c][_summary_key(m)] for c in fg])) if fg else math.nan
        )
        for m in metric_cols
    }
    return {
        "metric_per_case": per_case,
        "mean": means,
        "foreground_mean": foreground_mean,
        "medtrust": {"per_class": stats},
    }


def write_evaluation(
    table: pl.DataFrame, out: str | Path, *, config: dict[str, Any] | None = None
) -> list[Path]:
    """Write ``metrics.parquet`` (the table) and ``summary.json`` into ``out``, atomically.

    Parameters
    ----------
    table
        The table returned by :func:`evaluate_folder`.
    out
        Result folder (created); the completion marker ``_COMPLETE`` is written last.
    config
        Stored under ``summary["medtrust"]["config"]`` (the options of the run).

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile, pathlib, polars as pl
    >>> t = pl.DataFrame({"case": ["a"], "class": ["1"], "tp": [1], "fp": [0], "fn": [0],
    ...     "tn": [3], "n_pred": [1], "n_ref": [1], "dice": [1.0],
    ...     "prediction_file": ["p/a"], "reference_file": ["l/a"]})
    >>> [p.name for p in write_evaluation(t, pathlib.Path(tempfile.mkdtemp()) / "ev")]
    ['metrics.parquet', 'summary.json']
    """
    from medtrust import __version__
    from medtrust._io import atomic_write_json, atomic_write_parquet, begin_results, mark_complete

    folder = begin_results(out)
    summary = summarize_evaluation(table)
    summary["medtrust"]["version"] = __version__
    summary["medtrust"]["config"] = dict(config or {})
    paths = [folder / "metrics.parquet", folder / "summary.json"]
    atomic_write_parquet(paths[0], table)
    atomic_write_json(paths[1], summary)
    mark_complete(folder, {"files": [p.name for p in paths]})
    return paths
