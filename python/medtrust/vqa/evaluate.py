"""Evaluate predictions on a shift: token metrics, the judge, summaries, RR; lm-eval-style files.

:func:`evaluate` splits the samples by the shift (:func:`~medtrust.vqa.shifts.split_shift`),
joins the predictions of every run (model, method, seed, baseline) to the i.i.d. and OOD test
items, computes token metrics and, when a judge is configured, the judge score, then summarises
per run, subset and answer type and computes relative robustness.
:meth:`EvaluationResult.write` saves

- ``results.json``: lm-eval style (``results`` per task ``<shift>/<subset>/<answer_type>`` and
  run ``<model>/<method>/seed<seed>/<baseline>``, ``n-samples``, ``config``, ``versions``) plus
  ``robustness``, ``judge`` counts and ``provenance`` (medtrust version, time, shift, inputs,
  judge model and prompt version, seeds);
- ``samples.jsonl``: one line per scored item (``doc_id, doc, target, resps``, metrics, judge
  status, raw reply of failures);
- ``scores.parquet`` (per item), ``summary.parquet``, ``robustness.parquet``.

Examples
--------
>>> import polars as pl
>>> from medtrust.vqa.evaluate import evaluate
>>> samples = pl.DataFrame({"qid": ["1", "2"], "question": ["Is it a CT?"] * 2,
...     "answer": ["yes", "no"], "answer_type": "closed", "split": "test",
...     "modality": ["CT", "X-Ray"]})
>>> preds = pl.DataFrame({"qid": ["1", "2"], "pred": ["yes", "yes"]})
>>> res = evaluate(samples, preds, {"name": "toy", "attribute": "modality",
...     "ood_values": ["X-Ray"]})
>>> res.summary.select("subset", "closed_accuracy").rows()
[('iid', 1.0), ('ood', 0.0)]
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import DatasetError, InvalidArgumentError, MedtrustWarning
from medtrust.vqa.data import validate_samples
from medtrust.vqa.metrics import METRIC_NAMES, token_metrics
from medtrust.vqa.predictions import RUN_COLUMNS, validate_predictions
from medtrust.vqa.robustness import robustness
from medtrust.vqa.shifts import LeakagePolicy, Shift, get_shift, split_shift
from medtrust.vqa.surevqa_metrics import SUREVQA_METRIC_NAMES, surevqa_token_metrics

if TYPE_CHECKING:
    import polars as pl

#: What :func:`evaluate` does with samples that have no prediction.
MissingPolicy = Literal["raise", "skip"]

__all__ = ["EvaluationResult", "evaluate"]

_SAMPLE_FIELDS = ("question", "answer", "answer_type", "options", "image")


@dataclass(frozen=True)
class EvaluationResult:
    """Per-item scores, summaries, robustness, judge counts and provenance.

    Attributes
    ----------
    shift
        The :class:`~medtrust.vqa.shifts.Shift` evaluated.
    scores
        polars DataFrame, one row per scored item and run: the sample, the prediction, ``subset``
        (``iid`` / ``ood``), token metrics and judge columns.
    summary
        polars DataFrame of mean scores per run, subset and answer type.
    robustness
        polars DataFrame of relative robustness per run (:func:`~medtrust.vqa.robustness`).
    judge
        Judge counts and settings (None without a judge).
    provenance
        medtrust version, time, shift, inputs, judge model and prompt version, seeds.
    counts
        Items scored, skipped and ignored.
    """

    shift: Shift
    scores: Any
    summary: Any
    robustness: Any
    judge: dict[str, Any] | None
    provenance: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """The summary table.

        Returns
        -------
        polars.DataFrame
            The ``summary`` table.
        """
        return self.summary

    def check_judge_failures(self, threshold: float | None = None) -> None:
        """Raise :class:`~medtrust.exceptions.JudgeError` if judge failures exceed the threshold.

        The default threshold is the judge configuration's ``failure_threshold``. Call it after
        :meth:`write`, so that a failed run still leaves its files.

        Parameters
        ----------
        threshold
            Largest allowed fraction of failed judge items (None: the judge configuration's).
        """
        if self.judge is None:
            return
        from medtrust.vqa.judge.runner import check_failures

        if threshold is None:
            threshold = (self.provenance.get("judge") or {}).get("failure_threshold")
        check_failures(self.judge, threshold)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``results.json``.

        Returns
        -------
        dict
            The content of ``results.json`` (lm-eval style).
        """
        return _results_json(self)

    def write(self, out: str | Path) -> Path:
        """Write the files listed in the module docstring into ``out``; returns ``out``.

        Every file is written atomically, and the completion marker ``_COMPLETE`` last
        (:func:`medtrust.vqa.load_scores` refuses folders without it).

        Parameters
        ----------
        out
            Folder to write into (created when missing).

        Returns
        -------
        pathlib.Path
            ``out``.
        """
        from medtrust._io import (
            atomic_write_json,
            atomic_write_parquet,
            atomic_write_text,
            begin_results,
            mark_complete,
        )

        out = begin_results(out)
        atomic_write_parquet(out / "scores.parquet", self.scores)
        atomic_write_parquet(out / "summary.parquet", self.summary)
        atomic_write_parquet(out / "robustness.parquet", self.robustness)
        atomic_write_text(out / "samples.jsonl", _samples_jsonl(self))
        atomic_write_json(out / "results.json", self.to_dict())
        mark_complete(out)
        return out


def _run_label(row: dict[str, Any]) -> str:
    return f"{row['model']}/{row['method']}/seed{row['seed']}/{row['baseline']}"


def evaluate(
    samples: Any,
    predictions: Any,
    shift: str | Path | dict[str, Any] | Shift,
    *,
    judge: Any = None,
    backend: Any = None,
    cache: Any = True,
    limit: int | None = None,
    missing: MissingPolicy = "raise",
    on_leakage: LeakagePolicy = "warn",
    check_dataset: bool = True,
    progress: bool = False,
    inputs: dict[str, Any] | None = None,
    bertscore_model: str | Path | None = None,
) -> EvaluationResult:
    """Score predictions on the i.i.d. and OOD test sets of a shift.

    Parameters
    ----------
    samples
        Sample table (:func:`~medtrust.vqa.data.load_vqa`).
    predictions
        Prediction table (:func:`~medtrust.vqa.predictions.load_predictions`); qids outside
        the test sets (e.g. training items) are ignored and counted.
    shift
        Preset name, file, dict or :class:`~medtrust.vqa.shifts.Shift`.
    judge
        A :class:`~medtrust.vqa.judge.JudgeConfig` (None: token metrics only).
    backend, cache
        Passed to :func:`~medtrust.vqa.judge.run_judge`.
    limit
        Score only the first ``limit`` items of each subset (i.i.d., OOD).
    missing
        Test items a run has no prediction for: ``"raise"`` (default) or ``"skip"`` (warned
        and counted).
    on_leakage, check_dataset
        Passed to :func:`~medtrust.vqa.shifts.split_shift`.
    inputs
        Extra provenance (file paths, command line).
    bertscore_model
        Local model folder for BERTScore (``bertscore_precision`` / ``_recall`` / ``_f1``
        columns; see :mod:`medtrust.vqa.bertscore`); None: no BERTScore.
    progress
        Show progress bars (judge requests).

    Returns
    -------
    EvaluationResult
        Per-item scores, summaries, robustness, judge counts and provenance.
    """
    import polars as pl

    from medtrust import __version__

    if missing not in ("raise", "skip"):
        raise InvalidArgumentError(f"missing must be 'raise' or 'skip', got {missing!r}")
    if limit is not None and limit < 1:
        raise InvalidArgumentError(f"limit must be >= 1, got {limit}")
    validate_samples(samples)
    preds = validate_predictions(predictions, samples)
    shift = get_shift(shift)
    split = split_shift(samples, shift, on_leakage=on_leakage, check_dataset=check_dataset)
    test = split.test_frame().with_row_index("__order")
    n_test = {
        f"{sub}/{at}": int(n) for sub, at, n in test.group_by("subset", "answer_type").len().rows()
    }
    if limit is not None:
        test = test.filter(pl.int_range(pl.len()).over("subset") < limit)
    test_qids = set(test["qid"].to_list())
    n_unused = preds.filter(~pl.col("qid").is_in(list(test_qids))).height
    runs = preds.select(RUN_COLUMNS).unique().sort(RUN_COLUMNS)
    wanted = runs.join(test.select("qid"), how="cross")
    lacking = wanted.join(preds.select("qid", *RUN_COLUMNS), on=["qid", *RUN_COLUMNS], how="anti")
    if lacking.height:
        per_run = lacking.group_by(RUN_COLUMNS).len().sort(RUN_COLUMNS).rows()
        msg = (
            f"{lacking.height} test items have no prediction (per run: "
            + ", ".join(f"{_run_label(dict(zip(RUN_COLUMNS, r[:4])))}: {r[4]}" for r in per_run[:5])
            + ")"
        )
        if missing == "raise":
            raise DatasetError(msg + "; pass missing='skip' to score the rest")
        warnings.warn(msg + "; they are skipped", MedtrustWarning, stacklevel=2)
    pred_cols = [c for c in preds.columns if c not in test.columns or c == "qid"]
    scored = test.join(preds.select(pred_cols), on="qid", how="inner").sort(
        [*RUN_COLUMNS, "__order"]
    )
    if scored.height == 0:
        raise DatasetError("no prediction matches a test item of the shift")
    scored = surevqa_token_metrics(token_metrics(scored)).with_columns(
        pl.lit(shift.name).alias("shift")
    )
    if bertscore_model is not None:
        from medtrust.vqa.bertscore import bert_score

        bs = bert_score(
            ["" if x is None else str(x) for x in scored["pred"].to_list()],
            [str(x) for x in scored["answer"].to_list()],
            str(bertscore_model),
        )
        scored = scored.with_columns(
            pl.Series(f"bertscore_{k}", bs[k], dtype=pl.Float64)
            for k in ("precision", "recall", "f1")
        )
    judge_summary = None
    if judge is not None:
        from medtrust.vqa.judge import judge_frame

        scored, run = judge_frame(scored, judge, backend=backend, cache=cache, progress=progress)
        judge_summary = run.summary
    scored = scored.drop("__order")
    summary = _summarise(scored, judge is not None)
    metrics = ["token_f1", *(["judge_score"] if judge is not None else [])]
    if (scored["answer_type"] == "closed").any():
        metrics.insert(0, "closed_correct")
    rob_table = pl.concat(
        [robustness(scored, metric=m).summary for m in metrics], how="diagonal_relaxed"
    )
    seeds = sorted(set(preds["seed"].to_list()))
    provenance = {
        "medtrust_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "shift": shift.to_dict(),
        "split": split.to_dict(),
        "seeds": seeds,
        "runs": [_run_label(r) for r in runs.to_dicts()],
        "limit": limit,
        "n_test_items": {k: int(v) for k, v in n_test.items()},
        "n_unused_predictions": int(n_unused),
        "n_missing_predictions": int(lacking.height),
        "judge": None if judge is None else judge.to_dict(),
        "judge_model": None if judge is None else judge.judge_name,
        "judge_prompt_version": None if judge is None else judge.prompt_version,
        "bertscore_model": None if bertscore_model is None else str(bertscore_model),
        "inputs": dict(inputs or {}),
    }
    return EvaluationResult(
        shift=shift,
        scores=scored,
        summary=summary,
        robustness=rob_table,
        judge=judge_summary,
        provenance=provenance,
        counts={"n_test_items": n_test, "n_scored": scored.height},
    )


def _summarise(scored: Any, with_judge: bool) -> pl.DataFrame:
    import polars as pl

    keys = ["shift", *RUN_COLUMNS, "subset", "answer_type"]
    aggs = [pl.len().alias("n")]
    aggs += [pl.col(m).mean() for m in (*METRIC_NAMES, *SUREVQA_METRIC_NAMES)]
    aggs += [pl.col(c).mean() for c in scored.columns if c.startswith("bertscore_")]
    aggs += [
        pl.col("closed_correct").mean().alias("closed_accuracy"),
        pl.col("closed_ambiguous").sum().cast(pl.Int64).alias("n_ambiguous"),
        pl.col("closed_no_options").sum().cast(pl.Int64).alias("n_no_options"),
    ]
    if with_judge:
        ok = pl.col("judge_status") == "ok"
        aggs += [
            pl.col("judge_score").filter(ok).mean().alias("judge_score"),
            ok.sum().cast(pl.Int64).alias("n_judge_ok"),
            (pl.col("judge_status") == "parse_error")
            .sum()
            .cast(pl.Int64)
            .alias("n_judge_parse_error"),
            (pl.col("judge_status") == "api_error").sum().cast(pl.Int64).alias("n_judge_api_error"),
        ]
    return scored.group_by(keys).agg(aggs).sort(keys)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and v != v:
        return None
    return v


def _results_json(res: EvaluationResult) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    n_samples: dict[str, dict[str, int]] = {}
    metric_cols = [
        c for c in res.summary.columns if c not in ("shift", *RUN_COLUMNS, "subset", "answer_type")
    ]
    for row in res.summary.to_dicts():
        task = f"{row['shift']}/{row['subset']}/{row['answer_type']}"
        results.setdefault(task, {})[_run_label(row)] = {c: _clean(row[c]) for c in metric_cols}
        n = n_samples.setdefault(task, {"original": 0, "effective": 0})
        n["effective"] = max(n["effective"], int(row["n"]))
    for task, n in n_samples.items():
        sub_type = task.split("/", 1)[1]
        n["original"] = int(res.counts.get("n_test_items", {}).get(sub_type, n["effective"]))
    from medtrust.vqa.judge.prompts import PROMPT_VERSION

    return {
        "results": results,
        "robustness": [{k: _clean(v) for k, v in r.items()} for r in res.robustness.to_dicts()],
        "n-samples": n_samples,
        "higher_is_better": {
            m: True
            for m in [*METRIC_NAMES, *SUREVQA_METRIC_NAMES, "closed_accuracy", "judge_score"]
        },
        "judge": res.judge,
        "config": {"shift": res.shift.to_dict()},
        "versions": {
            "medtrust": res.provenance["medtrust_version"],
            "judge_prompt": res.provenance.get("judge_prompt_version") or PROMPT_VERSION,
        },
        "provenance": res.provenance,
    }


def _samples_jsonl(res: EvaluationResult) -> str:
    scores = res.scores
    attr = res.shift.attribute
    judge_cols = [c for c in scores.columns if c.startswith("judge_")]
    metric_cols = [
        *METRIC_NAMES,
        *SUREVQA_METRIC_NAMES,
        "closed_correct",
        "closed_ambiguous",
        "closed_choice",
    ]
    lines = []
    for i, r in enumerate(scores.to_dicts()):
        doc = {k: r.get(k) for k in _SAMPLE_FIELDS if k in r}
        doc[attr] = r.get(attr)
        line = {
            "doc_id": i,
            "qid": r["qid"],
            "task": f"{r['shift']}/{r['subset']}/{r['answer_type']}",
            **{k: r[k] for k in RUN_COLUMNS},
            "subset": r["subset"],
            "doc": doc,
            "target": r["answer"],
            "resps": [r["pred"]],
            **{k: _clean(r.get(k)) for k in metric_cols},
            **{k: _clean(r.get(k)) for k in judge_cols},
        }
        lines.append(json.dumps(line, ensure_ascii=False, default=str))
    return "\n".join(lines) + ("\n" if lines else "")
