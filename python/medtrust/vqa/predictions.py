"""Predictions of VQA models: ``qid, pred`` plus ``model, method, seed, baseline``.

One row per (qid, run), where a *run* is ``(model, method, seed, baseline)``:

- ``model``: the VLM (default ``"model"``);
- ``method``: the fine-tuning method (``"lora"``, ``"ia3"``, ``"prompt_tuning"``, ``"none"``
  for the pretrained model; default ``"none"``);
- ``seed``: the training / inference seed (default 0);
- ``baseline``: ``"none"`` for the model itself, else the sanity baseline (``"no_image"``,
  ``"blank"``, ``"blur_1"`` ... ``"noise_3"``, ``"answer_prior"``).

Files: JSONL, JSON (a list), Parquet or CSV.

Examples
--------
>>> import polars as pl
>>> from medtrust.vqa.predictions import validate_predictions
>>> samples = pl.DataFrame({"qid": ["1", "2"]})
>>> preds = validate_predictions(pl.DataFrame({"qid": ["1", "2"], "pred": ["yes", "no"]}), samples)
>>> preds.columns
['qid', 'pred', 'model', 'method', 'seed', 'baseline']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtrust.exceptions import DatasetError
from medtrust.io.tables import read_table

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RUN_COLUMNS", "load_predictions", "validate_predictions"]

#: Columns that identify one run of predictions.
RUN_COLUMNS: tuple[str, ...] = ("model", "method", "seed", "baseline")
_DEFAULTS: dict[str, Any] = {"model": "model", "method": "none", "seed": 0, "baseline": "none"}


def load_predictions(path: str | Path | list[str | Path], **defaults: Any) -> pl.DataFrame:
    """Read prediction file(s) and fill the run columns (``defaults`` override the defaults).

    Several files are concatenated (e.g. one file per seed or baseline).

    Parameters
    ----------
    path
        A ``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv`` file, or a list of them.
    defaults
        Values of run columns missing from the files (``model=``, ``method=``, ``seed=``,
        ``baseline=``).

    Returns
    -------
    polars.DataFrame
        ``qid, pred`` and the run columns ``model, method, seed, baseline``.
    """
    import polars as pl

    if isinstance(path, (list, tuple)):
        frames = [load_predictions(p, **defaults) for p in path]
        if not frames:
            raise DatasetError("no prediction files given")
        return pl.concat(frames, how="diagonal_relaxed")
    df = read_table(path, formats=("jsonl", "json", "parquet", "csv"), what="prediction")
    if df.height == 0:
        raise DatasetError(f"{path}: expected a non-empty list of prediction records")
    return _fill(df, {**_DEFAULTS, **defaults}, str(path))


def _fill(df: Any, defaults: dict[str, Any], where: str) -> pl.DataFrame:
    import polars as pl

    missing = [c for c in ("qid", "pred") if c not in df.columns]
    if missing:
        raise DatasetError(f"{where}: predictions lack the columns {missing}; have {df.columns}")
    cols = []
    for c in RUN_COLUMNS:
        if c in df.columns:
            cols.append(pl.col(c).fill_null(defaults[c]))
        else:
            cols.append(pl.lit(defaults[c]).alias(c))
    df = df.with_columns(pl.col("qid").cast(pl.String), *cols)
    df = df.with_columns(
        pl.col("model").cast(pl.String),
        pl.col("method").cast(pl.String),
        pl.col("seed").cast(pl.Int64),
        pl.col("baseline").cast(pl.String),
    )
    rest = [c for c in df.columns if c not in ("qid", "pred", *RUN_COLUMNS)]
    return df.select("qid", "pred", *RUN_COLUMNS, *rest)


def validate_predictions(preds: Any, samples: Any | None = None) -> pl.DataFrame:
    """Fill defaults and check predictions; raise :class:`~medtrust.exceptions.DatasetError`.

    Checks: ``qid`` and ``pred`` present, no null qid, null ``pred`` only as an error (use
    ``""`` for an empty answer), no duplicate (qid, run), and, with ``samples``, no qid that
    the samples do not have.

    Parameters
    ----------
    preds
        Prediction table (polars DataFrame).
    samples
        Sample table whose qids the predictions must belong to (None: not checked).

    Returns
    -------
    polars.DataFrame
        The predictions with the run columns filled.
    """
    import polars as pl

    if not isinstance(preds, pl.DataFrame):
        raise DatasetError(f"predictions must be a polars DataFrame, got {type(preds).__name__}")
    df = _fill(preds, _DEFAULTS, "predictions")
    if df.height == 0:
        raise DatasetError("no predictions")
    n = df["qid"].null_count()
    if n:
        raise DatasetError(f"{n} predictions have a null qid")
    n = df["pred"].null_count()
    if n:
        ex = df.filter(pl.col("pred").is_null())["qid"].head(5).to_list()
        raise DatasetError(
            f"{n} predictions are null (e.g. qids {ex}); write '' for an empty answer"
        )
    df = df.with_columns(pl.col("pred").cast(pl.String))
    key = ["qid", *RUN_COLUMNS]
    dup = df.filter(pl.struct(key).is_duplicated())
    if dup.height:
        ex = dup.select(key).unique(maintain_order=True).head(3).rows()
        raise DatasetError(
            f"{dup.height} duplicate predictions for the same (qid, model, method, seed, "
            f"baseline), e.g. {ex}"
        )
    if samples is not None:
        known = set(samples["qid"].cast(pl.String).to_list())
        unknown = sorted(set(df["qid"].to_list()) - known)
        if unknown:
            raise DatasetError(
                f"{len(unknown)} prediction qids are not in the samples, e.g. {unknown[:5]}"
            )
    return df
