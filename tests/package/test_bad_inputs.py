"""Bad-input table (issue 10): every public function and CLI command, one case per row.

Each case returns its documented value or raises a :class:`MedtrustError` subclass whose
message names the argument; none aborts, hangs past :data:`CASE_TIMEOUT` or returns an
undocumented NaN. CLI user errors exit 2 with one line on stderr and no traceback.

The whole table runs in child processes (``_bad_input_child.py``), all cases in one child
while it lives: when a case kills the child (an abort in native code) or hangs, that case is
recorded as such and a fresh child carries on with the next one, so one crash hides nothing.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

CASE_TIMEOUT = 60.0  # seconds per case (the slowest valid case takes well under 5 s)
CHILD = Path(__file__).with_name("_bad_input_child.py")


def E(cls: str, needle: str) -> tuple[str, str, str]:
    """Expect a MedtrustError subclass ``cls`` whose message contains ``needle``."""
    return ("raise", cls, needle)


def V(check: str) -> tuple[str, str]:
    """Expect a value; ``check`` is an expression over the result ``r``."""
    return ("value", check)


def CLI(needle: str, *, usage: bool = False) -> tuple[str, str, bool]:
    """Expect exit 2, ``needle`` on stderr, one line (argparse adds its usage line)."""
    return ("cli", needle, usage)


CASES: list[Any] = []


def case(cid: str, code: str, expect: tuple, *marks: Any) -> None:
    CASES.append((cid, code, expect, marks))


# ------------------------------------------------------------------ selective: shared inputs
_PAIRED = [
    "aurc", "augrc", "aurc_optimal", "augrc_optimal", "eaurc", "eaugrc", "naurc",
    "failure_auroc", "ece", "mce", "failure_nll", "metrics", "risk_coverage_curve",
]  # fmt: skip
for f in _PAIRED:
    case(f"{f}-empty", f"sel.{f}([], [])", E("EmptyInputError", "confids"))
    case(f"{f}-length", f"sel.{f}([0.1, 0.2], [0])", E("ShapeMismatchError", "confids"))
    case(f"{f}-nan", f"sel.{f}([NAN, 0.2], [0, 1])", E("NaNInputError", "confids"))
    case(f"{f}-string", f'sel.{f}("abc", [0])', E("DTypeError", "confids"))
    case(
        f"{f}-2d", f"sel.{f}(np.ones((3, 3)), np.zeros((3, 3)))", E("ShapeMismatchError", "confids")
    )
    case(
        f"{f}-policy", f'sel.{f}(C, R, nan_policy="bogus")', E("InvalidArgumentError", "nan_policy")
    )
    case(f"{f}-bigint", f"sel.{f}([2**64, 1], [0, 1])", E("InvalidValueError", "confids"))
    case(f"{f}-complex", f"sel.{f}(np.array([1j, 2]), [0, 1])", E("DTypeError", "confids"))
    case(f"{f}-residual-range", f"sel.{f}(C, [0, 1.5, 0, 1])", E("InvalidValueError", "residuals"))

case("fpr_at_tpr-1.5", "sel.fpr_at_tpr(C, R, tpr=1.5)", E("InvalidArgumentError", "tpr"))
case("fpr_at_tpr-nan", "sel.fpr_at_tpr(C, R, tpr=NAN)", E("InvalidArgumentError", "tpr"))
case("fpr_at_tpr-neg", "sel.fpr_at_tpr(C, R, tpr=-0.1)", E("InvalidArgumentError", "tpr"))
case("fpr_at_tpr-str", 'sel.fpr_at_tpr(C, R, tpr="high")', E("InvalidArgumentError", "tpr"))
case("fpr_at_tpr-one-class", "sel.fpr_at_tpr(C, [0, 0, 0, 0])", V("math.isnan(r)"))
case("fpr_at_tpr-ok", "sel.fpr_at_tpr([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])", V("r == 0.5"))
case("coverage_at_risk-neg", "sel.coverage_at_risk(C, R, -0.5)", E("InvalidArgumentError", "risk"))
case("coverage_at_risk-nan", "sel.coverage_at_risk(C, R, NAN)", E("InvalidArgumentError", "risk"))
case("coverage_at_risk-none", "sel.coverage_at_risk(C, [1, 1, 1, 1], 0.1)", V("math.isnan(r)"))
case("srac-neg", "sel.selective_risk_at_coverage(C, R, -3)", E("InvalidArgumentError", "coverage"))
case("srac-2", "sel.selective_risk_at_coverage(C, R, 2)", E("InvalidArgumentError", "coverage"))
case("srac-nan", "sel.selective_risk_at_coverage(C, R, NAN)", E("InvalidArgumentError", "coverage"))
case("srac-ok", "sel.selective_risk_at_coverage([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1], 0.5)",
     V("abs(r - 1 / 3) < 1e-12"))  # fmt: skip
case("metrics-bins-0", "sel.metrics(C, R, bins=0)", E("InvalidArgumentError", "bins"))
case("metrics-bins-2^40", "sel.metrics(C, R, bins=2**40)", E("InvalidArgumentError", "bins"))
case("metrics-bins-float", "sel.metrics(C, R, bins=2.5)", E("InvalidArgumentError", "bins"))
case("ece-bins-2^64", "sel.ece(C, R, bins=2**64)", E("InvalidArgumentError", "bins"))
case("ece-confids-range", "sel.ece([1.5, 0.2], [0, 1])", E("InvalidValueError", "confids"))
case("metrics-tpr", "sel.metrics(C, R, tpr=2)", E("InvalidArgumentError", "tpr"))
case("metrics-coverage", "sel.metrics(C, R, coverage=NAN)", E("InvalidArgumentError", "coverage"))
case("metrics-risk", "sel.metrics(C, R, risk=-1)", E("InvalidArgumentError", "risk"))
case("metrics-propagate", 'sel.metrics([NAN, 0.2], [0, 1], nan_policy="propagate").aurc',
     V("math.isnan(r)"))  # fmt: skip
case("metrics-omit", 'sel.metrics([NAN, 0.2, 0.3], [0, 1, 0], nan_policy="omit").n_dropped',
     V("r == 1"))  # fmt: skip
case("aurc-one-sample", "sel.aurc([0.5], [1])", V("r == 1.0"))
case("aurc-unchecked", "sel.aurc(C, [0, 3.0, 0, 1], check_range=False)", V("r > 0"))
case("aurc-order", "sel.aurc([0, 0, 0], [.1, .2, .3]) == sel.aurc([0, 0, 0], [.3, .2, .1])",
     V("r is True"))  # fmt: skip
case("aurc_ba-labels-length", "sel.aurc_ba(C, R, [0, 1])", E("ShapeMismatchError", "labels"))
case("aurc_ba-labels-float", "sel.aurc_ba(C, R, [0, 0.5, 1, 1])", E("InvalidValueError", "labels"))
case("aurc_ba-fd-shifts", "sel.aurc_ba([0, 1, 2, 3], [0, 1, 0, 1], [0, 0, 1, 1])",
     V("r == 0.5"))  # fmt: skip
case("augrc_ba-labels-nan", "sel.augrc_ba(C, R, [0, NAN, 1, 1])", E("NaNInputError", "labels"))

# bootstrap
case(
    "bootstrap-n0",
    "sel.bootstrap_ci(C, R, n_resamples=0)",
    E("InvalidArgumentError", "n_resamples"),
)
case("bootstrap-n2^64", "sel.bootstrap_ci(C, R, n_resamples=2**64)",
     E("InvalidArgumentError", "n_resamples"))  # fmt: skip
case("bootstrap-n10^12", "sel.bootstrap_ci(C, R, n_resamples=10**12)",
     E("InvalidArgumentError", "n_resamples"))  # fmt: skip
case("bootstrap-nfloat", "sel.bootstrap_ci(C, R, n_resamples=10.5)",
     E("InvalidArgumentError", "n_resamples"))  # fmt: skip
case("bootstrap-alpha", "sel.bootstrap_ci(C, R, alpha=1.5)", E("InvalidArgumentError", "alpha"))
case("bootstrap-alpha-nan", "sel.bootstrap_ci(C, R, alpha=NAN)", E("InvalidArgumentError", "alpha"))
case("bootstrap-seed-neg", "sel.bootstrap_ci(C, R, seed=-1)", E("InvalidArgumentError", "seed"))
case("bootstrap-seed-2^64", "sel.bootstrap_ci(C, R, seed=2**64)", E("InvalidArgumentError", "seed"))
case(
    "bootstrap-metric",
    'sel.bootstrap_ci(C, R, metric="bogus")',
    E("InvalidArgumentError", "metric"),
)
case("bootstrap-empty", "sel.bootstrap_ci([], [])", E("EmptyInputError", "confids"))
case("paired-empty-map", "sel.paired_bootstrap({}, R)", E("InvalidArgumentError", "confids"))
case("paired-not-map", "sel.paired_bootstrap(C, R)", E("InvalidArgumentError", "confids"))
case(
    "paired-keys", 'sel.paired_bootstrap({"a": C}, {"b": R})', E("InvalidArgumentError", "residual")
)
case("paired-sizes", 'sel.paired_bootstrap({"a": C, "b": C[:3]}, {"a": R, "b": R[:3]})',
     E("ShapeMismatchError", "sizes"))  # fmt: skip
case("paired-omit-union",
     'sel.paired_bootstrap({"a": [NAN, .7, .6, .2, .9, .1], "b": [.5, NAN, .6, .2, .9, .1]}, '
     '[1, 0, 0, 1, 0, 1], n_resamples=20, nan_policy="omit").n_dropped', V("r == 2"))  # fmt: skip
case("paired-omit-all",
     'sel.paired_bootstrap({"a": [NAN, 1], "b": [1, NAN]}, [0, 1], nan_policy="omit")',
     E("EmptyInputError", "sample"))  # fmt: skip
case("rank_csfs-empty", "sel.rank_csfs({}, R)", E("InvalidArgumentError", "confids"))
case(
    "rank_csfs-metric",
    'sel.rank_csfs({"a": C}, R, metric="bogus")',
    E("InvalidArgumentError", "metric"),
)
case("evaluate-columns", 'sel.evaluate(pl.DataFrame({"a": C}), confid="a", residual="r")',
     E("InvalidArgumentError", "columns"))  # fmt: skip
case(
    "evaluate-not-df", 'sel.evaluate(42, confid="a", residual="r")', E("InvalidArgumentError", "df")
)
case("evaluate-ci-omit",
     'sel.evaluate(pl.DataFrame({"a": [NAN, .7, .6, .2, .9, .1], "b": [.5, NAN, .6, .2, .9, .1], '
     '"r": [1, 0, 0, 1, 0, 1]}), confid=["a", "b"], residual="r", ci=True, n_resamples=20, '
     'nan_policy="omit").height', V("r == 2"))  # fmt: skip
case("accumulator-keyword", "sel.RiskCoverageAccumulator(metricz=1)",
     E("InvalidArgumentError", "metricz"))  # fmt: skip
case("accumulator-tpr", "sel.RiskCoverageAccumulator(tpr=2)", E("InvalidArgumentError", "tpr"))
case("accumulator-policy", 'sel.RiskCoverageAccumulator(nan_policy="x")',
     E("InvalidArgumentError", "nan_policy"))  # fmt: skip
case(
    "accumulator-empty", "sel.RiskCoverageAccumulator().compute()", E("EmptyInputError", "batches")
)
case("accumulator-update-length", "sel.RiskCoverageAccumulator().update([1, 2], [0])",
     E("ShapeMismatchError", "confids"))  # fmt: skip
case("plot-empty-map", "sel.plot_risk_coverage({}, R)", E("InvalidArgumentError", "confids"))
case("plot-risk", 'sel.plot_risk_coverage(C, R, risk="bogus")', E("InvalidArgumentError", "risk"))

# CSFs
case("softmax-nan-T", "sel.csf.softmax(np.ones((2, 3)), temperature=NAN)",
     E("InvalidArgumentError", "temperature"))  # fmt: skip
case("softmax-zero-T", "sel.csf.softmax(np.ones((2, 3)), temperature=0)",
     E("InvalidArgumentError", "temperature"))  # fmt: skip
case(
    "mls-inf-T",
    "sel.mls(np.ones((2, 3)), temperature=INF)",
    E("InvalidArgumentError", "temperature"),
)
case("energy-neg-T", "sel.energy(np.ones((2, 3)), temperature=-1)",
     E("InvalidArgumentError", "temperature"))  # fmt: skip
case("msr-1d", "sel.msr(np.ones(3))", E("ShapeMismatchError", "probs"))
case("pe-string", 'sel.pe("abc")', E("DTypeError", "probs"))
case("mcd_msr-2d", "sel.mcd_msr(np.ones((2, 3)))", E("ShapeMismatchError", "samples"))
case("mcd_mi-4d", "sel.mcd_mi(np.ones((2, 3, 4, 5)))", E("ShapeMismatchError", "samples"))
case("residuals-length", "sel.residuals_from_predictions(np.ones((3, 2)), [0, 1])",
     E("ShapeMismatchError", "labels"))  # fmt: skip
case("msr-meta", 'sel.msr(__import__("torch").empty((2, 3), device="meta"))',
     E("DeviceError", "probs"))  # fmt: skip
case("aurc-meta", 'sel.aurc(__import__("torch").empty(3, device="meta"), [0, 1, 0])',
     E("DeviceError", "confids"))  # fmt: skip

# ------------------------------------------------------------------ segmentation
case("dice-float", "seg.dice(A.astype(float), B)", E("DTypeError", "pred"))
case("dice-shape", "seg.dice(A, B[:4])", E("ShapeMismatchError", "target"))
case(
    "dice-empty",
    "seg.dice(np.zeros(0, np.uint8), np.zeros(0, np.uint8))",
    E("EmptyInputError", "pred"),
)
case("dice-negative", "seg.dice(A.astype(np.int16) - 1, B)", E("InvalidValueError", "pred"))
case("dice-labels-empty", "seg.dice(A, B, labels=[])", E("InvalidArgumentError", "labels"))
case("dice-labels-2^64", "seg.dice(A, B, labels=[2**64])", E("InvalidArgumentError", "labels"))
case("dice-labels-neg", "seg.dice(A, B, labels=[-1])", E("InvalidArgumentError", "labels"))
case("dice-labels-str", 'seg.dice(A, B, labels="ab")', E("InvalidArgumentError", "labels"))
case("dice-labels-dup", "seg.dice(A, B, labels=[1, 1])", E("InvalidArgumentError", "labels"))
case("dice-n_classes-0", "seg.dice(A, B, n_classes=0)", E("InvalidArgumentError", "n_classes"))
case(
    "dice-n_classes-2^64", "seg.dice(A, B, n_classes=2**64)", E("InvalidArgumentError", "n_classes")
)
case("dice-empty-policy", 'seg.dice(A, B, empty="bogus")', E("InvalidArgumentError", "empty"))
case("dice-scalar", "seg.dice(np.uint8(1), np.uint8(1))", E("ShapeMismatchError", "pred"))
case("dice-object", 'seg.dice(np.array(["a", "b"]), np.array(["a", "b"]))', E("DTypeError", "pred"))
case("dice-uint64-huge", "seg.dice(np.array([2**63 + 5], np.uint64), np.array([1], np.uint64))",
     E("InvalidValueError", "pred"))  # fmt: skip
case("dice->i2", 'seg.dice(A.astype(">i2"), B.astype(">i2")).value', V("r == 0.75"))
case("dice->u2-mixed", 'seg.dice(A.astype(">u2"), B).value', V("r == 0.75"))
case("dice-both-empty", "seg.dice(np.zeros(4, np.uint8), np.zeros(4, np.uint8), labels=[1]).value",
     V("math.isnan(r)"))  # fmt: skip
case("dice-both-empty-one", 'seg.dice(np.zeros(4, np.uint8), np.zeros(4, np.uint8), labels=[1], '
     'empty="one").value', V("r == 1.0"))  # fmt: skip
case("dice-huge-label-cost",
     "(lambda m: (lambda t: (seg.dice(m, m), time.perf_counter() - t)[1])(time.perf_counter()))"
     "(np.pad(np.array([[[2**24 - 1]]], np.int32), ((0, 11), (0, 11), (0, 11))))",
     V("r < 2.0"))  # fmt: skip
case("iou-float", "seg.iou(A, B.astype(np.float32))", E("DTypeError", "target"))
case("iou-labels-empty", "seg.iou(A, B, labels=[])", E("InvalidArgumentError", "labels"))
case("confusion-ignore-2^64", "seg.confusion_counts(A, B, ignore_label=2**64)",
     E("InvalidArgumentError", "ignore_label"))  # fmt: skip
case("confusion-ignore-class", "seg.confusion_counts(A, B, ignore_label=1)",
     E("InvalidArgumentError", "ignore_label"))  # fmt: skip
case("pairwise-one", "seg.pairwise_dice([A])", E("InvalidArgumentError", "members"))
case("pairwise-shapes", "seg.pairwise_dice([A, B[:4]])", E("ShapeMismatchError", "members"))
case(
    "pairwise-labels-empty",
    "seg.pairwise_dice([A, B], labels=[])",
    E("InvalidArgumentError", "labels"),
)
case("pairwise-float", "seg.pairwise_dice([A, B.astype(float)])", E("DTypeError", "members"))
case("hd-no-spacing", "seg.hd(A, B, spacing=None)", E("InvalidArgumentError", "spacing"))
case("hd-spacing-length", "seg.hd(A, B, spacing=(1, 1))", E("ShapeMismatchError", "spacing"))
case("hd-spacing-zero", "seg.hd(A, B, spacing=(1, 0, 1))", E("InvalidValueError", "spacing"))
case("hd-spacing-nan", "seg.hd(A, B, spacing=(1, NAN, 1))", E("InvalidValueError", "spacing"))
case("hd-spacing-tiny", "seg.hd(A, B, spacing=(1e-200,) * 3)", E("InvalidValueError", "spacing"))
case("nsd-spacing-tiny", "seg.nsd(A, B, spacing=(1e-200,) * 3, tolerance=1)",
     E("InvalidValueError", "spacing"))  # fmt: skip
case("hd95-spacing-huge", "seg.hd95(A, B, spacing=(1e200,) * 3)", E("InvalidValueError", "spacing"))
case("hd-spacing-scalar", "seg.hd(A, B, spacing=1.0)", E("InvalidArgumentError", "spacing"))
case(
    "hd-spacing-str", 'seg.hd(A, B, spacing=("a", "b", "c"))', E("InvalidArgumentError", "spacing")
)
case("hd-1d", "seg.hd(A[0, 0], B[0, 0], spacing=(1,))", E("InvalidArgumentError", "pred"))
case("hd95-percentile", "seg.hd95(A, B, spacing=SP, percentile=150)",
     E("InvalidArgumentError", "percentile"))  # fmt: skip
case("hd95-percentile-nan", "seg.hd95(A, B, spacing=SP, percentile=NAN)",
     E("InvalidArgumentError", "percentile"))  # fmt: skip
case(
    "nsd-tolerance",
    "seg.nsd(A, B, spacing=SP, tolerance=-1)",
    E("InvalidArgumentError", "tolerance"),
)
case("nsd-tolerance-nan", "seg.nsd(A, B, spacing=SP, tolerance=NAN)",
     E("InvalidArgumentError", "tolerance"))  # fmt: skip
case("surface-kind", 'seg.surface_distances(A, B, spacing=SP, surface="bogus")',
     E("InvalidArgumentError", "surface"))  # fmt: skip
case("surface-one-empty", 'seg.surface_distances(A, B, spacing=SP, one_empty="x")',
     E("InvalidArgumentError", "one_empty"))  # fmt: skip
case("hd-one-empty", "seg.hd(A, np.zeros_like(A), spacing=SP)", V("r == INF"))
case("hd95-one-empty", "seg.hd95(A, np.zeros_like(A), spacing=SP)", V("r == INF"))
case("hd-both-empty", "seg.hd(np.zeros_like(A), np.zeros_like(A), spacing=SP)", V("math.isnan(r)"))
case("nsd-one-empty", "seg.nsd(A, np.zeros_like(A), spacing=SP, tolerance=1)", V("r == 0.0"))
case(
    "hd-bool-label", "seg.hd(A > 0, B > 0, spacing=SP, label=2)", E("InvalidArgumentError", "label")
)
case("hd->i2", 'seg.hd(A.astype(">i2"), B.astype(">i2"), spacing=SP)', V("r == 1.0"))
case("hd-spacing-ok-small", "seg.hd(A, B, spacing=(1e-3,) * 3)", V("abs(r - 1e-3) < 1e-12"))

# ------------------------------------------------------------------ failure detection
case(
    "aggregate-method",
    'fl.aggregate(CONF, A, methods=["bogus"])',
    E("InvalidArgumentError", "aggregation"),
)
case("aggregate-shape", "fl.aggregate(CONF[:4], A)", E("ShapeMismatchError", "confidence"))
case("aggregate-4d", "fl.aggregate(CONF[None], A[None])", E("InvalidArgumentError", "maps"))
case(
    "aggregate-str",
    'fl.aggregate(np.array([["a"]]), np.array([[1]]))',
    E("DTypeError", "confidence"),
)
case("aggregate-width", "fl.aggregate(CONF, A, width=3)", E("InvalidArgumentError", "width"))
case(
    "aggregate-patch",
    "fl.aggregate(CONF, A, patch_size=0)",
    E("InvalidArgumentError", "patch_size"),
)
case(
    "aggregate-saturate",
    "fl.aggregate(CONF, A, saturate=NAN)",
    E("InvalidArgumentError", "saturate"),
)
case(
    "aggregate-spacing", "fl.aggregate(CONF, A, spacing=(1, 1))", E("ShapeMismatchError", "spacing")
)
case("aggregate->f4",
     'fl.aggregate(CONF.astype(">f4"), A) == fl.aggregate(CONF.astype(np.float32), A)',
     V("r is True"))  # fmt: skip
case(
    "aggregate-1e308",
    "fl.aggregate(np.full((8, 8, 8), 1e308), A)",
    E("InvalidValueError", "confidence"),
)
case("aggregate-float-pred", "fl.aggregate(CONF, CONF)", E("DTypeError", "pred"))
case("patch_min-0d", "fl.patch_min(np.array(0.5))", E("ShapeMismatchError", "confidence"))
case("patch_min-size", "fl.patch_min(CONF, size=0)", E("InvalidArgumentError", "size"))
case("patch_min-size-bool", "fl.patch_min(CONF, size=True)", E("InvalidArgumentError", "size"))
case(
    "patch_min-1e308",
    "fl.patch_min(np.full((8, 8, 8), 1e308))",
    E("InvalidValueError", "confidence"),
)
case(
    "patch_min-ok",
    "fl.patch_min(np.array([0.9, 0.1, 0.2, 0.9]), size=2)",
    V("abs(r - 0.15) < 1e-12"),
)
case("mean-empty", "fl.mean(np.zeros(0))", E("EmptyInputError", "confidence"))
case("mean-1e308", "fl.mean(np.full(10, 1e308))", E("InvalidValueError", "confidence"))
case("boundary-width", "fl.boundary_band(A, width=1)", E("InvalidArgumentError", "width"))
case("boundary-float", "fl.boundary_band(CONF)", E("DTypeError", "pred"))
case("aggregate_ensemble-kinds", 'fl.aggregate_ensemble(acc_with(), kinds=["bogus"])',
     E("InvalidArgumentError", "bogus"))  # fmt: skip
case(
    "case_risks-spacing", "fl.case_risks(A, B, spacing=None)", E("InvalidArgumentError", "spacing")
)
case("case_risks-shape", "fl.case_risks(A, B[:4], spacing=SP)", E("ShapeMismatchError", "target"))
case("case_confidences-nothing", "fl.case_confidences()", E("MedtrustError", "probabilities"))
case("evaluate_fd-risk", 'fl.evaluate_failure_detection(CASES, risk="bogus")',
     E("InvalidArgumentError", "risk"))  # fmt: skip
case("evaluate_fd-dice-1.5",
     'fl.evaluate_failure_detection(CASES.with_columns(dice=pl.Series([1.5, 0.5, 0.7, 0.2])), '
     'csfs=["x"], n_resamples=10)', E("InvalidValueError", "'dice'"))  # fmt: skip
case("evaluate_fd-null-domain",
     'fl.evaluate_failure_detection(CASES.with_columns(domain=pl.Series(["d", None, "e", "e"])), '
     'csfs=["x"], n_resamples=10)', E("InvalidValueError", "domain"))  # fmt: skip
case("evaluate_fd-columns", 'fl.evaluate_failure_detection(CASES.drop("domain"))',
     E("InvalidArgumentError", "domain"))  # fmt: skip
case("evaluate_fd-no-csfs", "fl.evaluate_failure_detection(CASES)",
     E("InvalidArgumentError", "csfs"))  # fmt: skip
case("evaluate_fd-string-csf",
     'fl.evaluate_failure_detection(CASES.with_columns(s=pl.lit("a")), csfs=["x", "s"])',
     E("DTypeError", "s (String)"))  # fmt: skip
case("evaluate_fd-csfs", 'fl.evaluate_failure_detection(CASES, csfs=["nope"])',
     E("InvalidArgumentError", "nope"))  # fmt: skip
case("evaluate_fd-binary",
     'fl.evaluate_failure_detection(CASES.rename({"dice": "nsd"}), risk="nsd", binary=True, '
     'csfs=["x"])',
     E("InvalidArgumentError", "threshold"))  # fmt: skip
case("evaluate_fd-hd95-neg",
     'fl.evaluate_failure_detection(CASES.rename({"dice": "hd95"}).with_columns(hd95=pl.Series('
     '[-1.0, 2, 3, 4])), risk="hd95", csfs=["x"], n_resamples=10)',
     E("InvalidValueError", "hd95"))  # fmt: skip
case(
    "score_folder-missing",
    'fl.score_folder(TMP / "nope", TMP / "nope", DOMAINS)',
    E("DatasetError", "nope"),
)

# ------------------------------------------------------------------ uncertainty
case("acc-n_classes", "EnsembleAccumulator(n_classes=0)", E("InvalidArgumentError", "n_classes"))
case("acc-backend", 'EnsembleAccumulator(backend="x")', E("InvalidArgumentError", "backend"))
case("acc-sum_tol", "EnsembleAccumulator(sum_tol=-1)", E("InvalidArgumentError", "sum_tol"))
case("acc-int", "EnsembleAccumulator().add(np.ones((2, 3), np.int32))", E("DTypeError", "probs"))
case(
    "acc-1d", "EnsembleAccumulator().add(np.ones(3, np.float32))", E("ShapeMismatchError", "probs")
)
case(
    "acc-empty",
    "EnsembleAccumulator().add(np.ones((2, 0), np.float32))",
    E("EmptyInputError", "probs"),
)
case("acc-not-softmax", "EnsembleAccumulator().add(np.ones((2, 3), np.float32))",
     E("InvalidValueError", "probabilit"))  # fmt: skip
case("acc-shape-change", "(lambda a: a.add(np.full((2, 5), 0.5, np.float32)))(acc_with(1))",
     E("ShapeMismatchError", "member"))  # fmt: skip
case("acc->f4", 'EnsembleAccumulator().add(P.astype(">f4"))', V("r is None"))
case("acc-meta", 'EnsembleAccumulator().add(__import__("torch").empty((2, 3), device="meta"))',
     E("DeviceError", "probs"))  # fmt: skip
case("acc-maps-before", "EnsembleAccumulator().max_prob()", E("EmptyInputError", "member"))
case("acc-maps-kind", '(acc_with().maps([("bogus", None)]))', E("InvalidArgumentError", "bogus"))
case("acc-maps-class", '(acc_with().maps([("class_pe", 9)]))', E("InvalidArgumentError", "class"))
case(
    "acc-confidence-kind",
    'acc_with().confidence_maps(["bogus"])',
    E("InvalidArgumentError", "bogus"),
)
case("pixel_confidence-acc", 'pixel_confidence("x")', E("DTypeError", "acc"))
case(
    "pixel_confidence-kind",
    'pixel_confidence(acc_with(), "bogus")',
    E("InvalidArgumentError", "kind"),
)
case("argmax-int", "argmax_labels(np.ones((2, 3), np.int64))", E("DTypeError", "probs"))
case("argmax-meta", 'argmax_labels(__import__("torch").empty((2, 3), device="meta"))',
     E("DeviceError", "probs"))  # fmt: skip

# ------------------------------------------------------------------ io
case("nifti-missing", 'mio.load_nifti(TMP / "nope.nii")', E("DatasetError", "nope"))
case("nifti-truncated", "mio.load_nifti(TRUNC_NII)", E("DatasetError", "trunc.nii"))
case("nifti-garbage", "mio.load_nifti(GARBAGE_NII)", E("DatasetError", "garbage"))
case("labels-truncated", "mio.load_labels(TRUNC_NII)", E("DatasetError", "trunc.nii"))
case("labels-ok", "mio.load_labels(GOOD_NII)[1]", V("r == (1.0, 1.0, 1.0)"))
case("probs-truncated-npy", "mio.load_probabilities(TRUNC_NPY)", E("DatasetError", "trunc.npy"))
case("probs-pickled-npy", "mio.load_probabilities(PICKLED_NPY)", E("DatasetError", "pickled.npy"))
case("probs-truncated-npz", "mio.load_probabilities(TRUNC_NPZ)", E("DatasetError", "trunc.npz"))
case("probs-two-keys", 'mio.load_probabilities(TMP / "two.npz")', E("DatasetError", "key"))
case("probs-suffix", "mio.load_probabilities(GOOD_NII)", E("DatasetError", "good.nii"))
case(
    "save-spacing",
    'mio.save_nifti(TMP / "x.nii", A, spacing=(1, 1))',
    E("ShapeMismatchError", "spacing"),
)
case("save-spacing-zero", 'mio.save_nifti(TMP / "x.nii", A, spacing=(0, 1, 1))',
     E("InvalidValueError", "spacing"))  # fmt: skip
case("nnunet-latin1", "mio.load_nnunet_dataset(LATIN)", E("DatasetError", "UTF-8"))
case("nnunet-no-json", "mio.load_nnunet_dataset(NOJSON)", E("DatasetError", "dataset.json"))
case("nnunet-missing", 'mio.load_nnunet_dataset(TMP / "nope")', E("DatasetError", "nope"))
case("verify-latin1", "mio.verify_nnunet_dataset(LATIN)", E("DatasetError", "UTF-8"))
case("domains-missing", 'mio.load_domains(TMP / "nope.json")', E("DatasetError", "nope"))
case("domains-null", "mio.load_domains(NULL_DOMAINS)", E("DatasetError", "c0"))
case("find_cases-missing", 'mio.find_cases(TMP / "nope", TMP / "nope", DOMAINS)',
     E("DatasetError", "nope"))  # fmt: skip

# ------------------------------------------------------------------ active learning
case("strategy-pe-patch", 'al.get_strategy("pe")', E("InvalidArgumentError", "'pe'"))
case("strategy-unknown", 'al.get_strategy("bogus")', E("InvalidArgumentError", "bogus"))
case(
    "patch_scores-2d",
    "al.patch_scores(np.ones((4, 4)), patch_size=2)",
    E("ShapeMismatchError", "voxel_map"),
)
case("patch_scores-1e308", "al.patch_scores(np.full((4, 4, 4), 1e308), patch_size=2)",
     E("InvalidValueError", "voxel_map"))  # fmt: skip
case(
    "patch_scores-size0",
    "al.patch_scores(CONF, patch_size=0)",
    E("InvalidArgumentError", "patch_size"),
)
case("patch_scores-size-2^64", "al.patch_scores(CONF, patch_size=2**64)",
     E("InvalidArgumentError", "patch_size"))  # fmt: skip
case("patch_scores-stride", "al.patch_scores(CONF, patch_size=2, stride=0)",
     E("InvalidArgumentError", "stride"))  # fmt: skip
case("select-n", 'al.select_patches(np.ones((2, 2, 2)), "i", (3, 3, 3), patch_size=2, n=-1)',
     E("InvalidArgumentError", "n"))  # fmt: skip
case("aubc-nan", "al.aubc([0.5, NAN])", E("NaNInputError", "dice"))
case("aubc-empty", "al.aubc([])", E("EmptyInputError", "dice"))
case("read_round-missing", 'al.read_round(TMP / "nope.json")', E("DatasetError", "nope"))
case("read_rounds-missing", 'al.read_rounds(TMP / "nope")', E("DatasetError", "nope"))
case("probs_dir-truncated", "al.probs_dir_source(PROBS_TRUNC)", E("DatasetError", "img0.npy"))

# ------------------------------------------------------------------ vqa
case("normalize-none", "vqa.normalize_answer(None)", V('r == ""'))
case("token_f1-empty", 'vqa.metrics.token_f1("", "")', V("r == (1.0, 1.0, 1.0)"))
case("shift-unknown", 'vqa.get_shift("bogus_shift")', E("MedtrustError", "bogus_shift"))
case("shift-bad-dict", 'vqa.get_shift({"name": "x"})', E("MedtrustError", "attribute"))
case("evaluate-vqa-missing-pred",
     'vqa.evaluate(VQA_SAMPLES, VQA_PREDS.filter(pl.col("qid") != "1"), VQA_SHIFT)',
     E("DatasetError", "prediction"))  # fmt: skip
case("predictions-missing", 'vqa.load_predictions(TMP / "nope.parquet")', E("DatasetError", "nope"))
case(
    "load_scores-missing",
    'vqa.load_scores(TMP / "nothing_here")',
    E("DatasetError", "scores.parquet"),
)

# ------------------------------------------------------------------ CLI
case("cli-sel-missing", 'cli("selective", "evaluate", TMP / "nope.parquet", "--confid", "a", '
     '"--residual", "r")', CLI("nope.parquet"))  # fmt: skip
case("cli-sel-corrupt", 'cli("selective", "evaluate", CORRUPT_PARQUET, "--confid", "a", '
     '"--residual", "r")', CLI("corrupt.parquet"))  # fmt: skip
case("cli-sel-column", 'cli("selective", "evaluate", TABLE, "--confid", "zz", "--residual", "r")',
     CLI("zz"))  # fmt: skip
case("cli-sel-out-under-file", 'cli("selective", "evaluate", TABLE, "--confid", "a", "--residual", '
     '"r", "--out", A_FILE / "sub" / "o.parquet")', CLI("a_file"))  # fmt: skip
case("cli-sel-out-dir", 'cli("selective", "evaluate", TABLE, "--confid", "a", "--residual", "r", '
     '"--out", TMP)', CLI("mt_bad_"))  # fmt: skip
case("cli-sel-nan", 'cli("selective", "evaluate", NAN_TABLE, "--confid", "a", "--residual", "r")',
     CLI("nan_policy"))  # fmt: skip
case("cli-sel-n-resamples", 'cli("selective", "evaluate", TABLE, "--confid", "a", "--residual", '
     '"r", "--ci", "--n-resamples", "0")', CLI("n_resamples"))  # fmt: skip
case("cli-sel-n-resamples-type", 'cli("selective", "evaluate", TABLE, "--confid", "a", '
     '"--residual", "r", "--n-resamples", "abc")', CLI("--n-resamples", usage=True))  # fmt: skip
case("cli-sel-range", 'cli("selective", "evaluate", TABLE, "--confid", "a", "--residual", "big")',
     CLI("residuals"))  # fmt: skip
case("cli-failure-missing", 'cli("failure", "evaluate", "--pred", TMP / "nope", "--labels", '
     'TMP / "nope", "--domains", DOMAINS, "--out", TMP / "fo")', CLI("nope"))  # fmt: skip
case("cli-failure-risk", 'cli("failure", "evaluate", "--pred", TMP, "--labels", TMP, "--domains", '
     'DOMAINS, "--out", TMP / "fo", "--risk", "bogus")', CLI("--risk", usage=True))  # fmt: skip
case("cli-al-truncated-probs", 'cli("al", "query", "--probs", PROBS_TRUNC, "--strategy", "pe", '
     '"--size", "2", "--patch-size", "2", "--no-progress")', CLI("img0.npy"))  # fmt: skip
case("cli-al-truncated-labels", 'cli("al", "query", "--labels", LABELS_TRUNC, "--strategy", '
     '"random_fg33_all_classes", "--size", "2", "--patch-size", "2", "--no-progress")',
     CLI("img0.npy"))  # fmt: skip
case("cli-al-strategy", 'cli("al", "query", "--probs", PROBS_TRUNC, "--strategy", "bogus", '
     '"--size", "2", "--patch-size", "2")', CLI("bogus"))  # fmt: skip
case("cli-al-no-source",
     'cli("al", "query", "--strategy", "pe", "--size", "2", "--patch-size", "2")',
     CLI("--probs"))  # fmt: skip
case("cli-al-patch-size", 'cli("al", "query", "--probs", PROBS_TRUNC, "--strategy", "pe", '
     '"--size", "2", "--patch-size", "2", "2")', CLI("--patch-size"))  # fmt: skip
case("cli-al-validate-missing", 'cli("al", "validate", TMP / "nope.yaml")', CLI("nope"))
case("cli-al-report-missing", 'cli("al", "report", TMP / "nope")', CLI("nope"))
case("cli-vqa-missing-data", 'cli("vqa", "evaluate", "--data", TMP / "nope.parquet", "--pred", '
     'VQA_PRED_FILE, "--shift", VQA_SHIFT_FILE, "--no-judge", "--out", TMP / "v")',
     CLI("nope"))  # fmt: skip
case("cli-vqa-out-under-file",
     'cli("vqa", "evaluate", "--data", VQA_DATA, "--pred", VQA_PRED_FILE, '
     '"--shift", VQA_SHIFT_FILE, "--no-judge", "--no-progress", "--out", A_FILE / "v")',
     CLI("a_file"))  # fmt: skip
case("cli-vqa-shift", 'cli("vqa", "evaluate", "--data", VQA_DATA, "--pred", VQA_PRED_FILE, '
     '"--shift", "bogus_shift", "--no-judge", "--out", TMP / "v")', CLI("bogus_shift"))  # fmt: skip
case(
    "cli-vqa-robustness-nothing", 'cli("vqa", "robustness", TMP / "nothing")', CLI("scores.parquet")
)
case("cli-dataset-latin1", 'cli("dataset", "verify", LATIN)', CLI("UTF-8"))
case("cli-dataset-missing", 'cli("dataset", "verify", TMP / "nope")', CLI("nope"))
case("cli-unknown-command", 'cli("bogus")', CLI("bogus", usage=True))


# ------------------------------------------------------------------ integers >= 2^64
_BIG = {
    "patch_min-size": ("fl.patch_min(CONF, size=2**64)", "size"),
    "aggregate-width": ("fl.aggregate(CONF, A, width=2**64)", "width"),
    "aggregate-patch_size": ("fl.aggregate(CONF, A, patch_size=2**64)", "patch_size"),
    "boundary-width": ("fl.boundary_band(A, width=2**64)", "width"),
    "select-n": (
        'al.select_patches(np.ones((2, 2, 2)), "i", (3, 3, 3), patch_size=2, n=2**64)',
        "n",
    ),
    "acc-n_classes": ("EnsembleAccumulator(n_classes=2**64)", "n_classes"),
    "hd-label": ("seg.hd(A, B, spacing=SP, label=2**64)", "label"),
    "nsd-tolerance": ("seg.nsd(A, B, spacing=SP, tolerance=2**1100)", "tolerance"),
    "rank-seed": ('sel.rank_csfs({"a": C}, R, seed=2**64)', "seed"),
    "pairwise-n_classes": ("seg.pairwise_dice([A, B], n_classes=2**64)", "n_classes"),
    "case_risks-n_classes": ("fl.case_risks(A, B, spacing=SP, n_classes=2**64)", "n_classes"),
    "aubc-x": ("al.aubc([0.5, 0.6], x=[2**64, 2**64 + 1])", "x"),
    "metrics-tpr": ("sel.metrics(C, R, tpr=2**1100)", "tpr"),
}
for _k, (_code, _arg) in _BIG.items():
    case(f"bigint-{_k}", _code, E("MedtrustError", _arg))


# ------------------------------------------------------------------ runner
def _run_table() -> dict[str, dict[str, Any]]:
    """Run every case in child processes; a crash or hang costs that case only."""
    import tempfile

    table = [
        [cid, code, expect[1] if expect[0] == "value" else ""] for cid, code, expect, _ in CASES
    ]
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(table, f)
    env = dict(os.environ)
    src = str(Path(__import__("medtrust").__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, str(CHILD.parent), env.get("PYTHONPATH", "")])
    env.update(MPLBACKEND="Agg", MEDTRUST_NO_PROGRESS="1")
    results: dict[str, dict[str, Any]] = {}
    index = 0
    try:
        while index < len(table):
            proc = subprocess.Popen(
                [sys.executable, str(CHILD), path, str(index)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
            lines: queue.Queue[str | None] = queue.Queue()

            def pump(stream: Any, q: queue.Queue = lines) -> None:
                for line in stream:
                    q.put(line)
                q.put(None)

            threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
            err_lines: list[str] = []

            def drain(stream: Any, sink: list[str] = err_lines) -> None:
                sink.extend(stream)

            threading.Thread(target=drain, args=(proc.stderr,), daemon=True).start()
            current = None
            first = True
            while True:
                try:
                    # the first case also waits for the child's imports and fixtures
                    line = lines.get(timeout=CASE_TIMEOUT * (4 if first else 1))
                except queue.Empty:
                    proc.kill()
                    proc.wait()
                    cid = current or table[index][0]
                    results[cid] = {"kind": "hang"}
                    index = [c[0] for c in table].index(cid) + 1
                    break
                if line is None:  # the child died
                    proc.wait()
                    if current is None:
                        raise RuntimeError(
                            "bad-input child failed to start:\n" + "".join(err_lines)
                        )
                    results[current] = {"kind": "crash", "code": proc.returncode,
                                        "stderr": "".join(err_lines)[-1500:]}  # fmt: skip
                    index = [c[0] for c in table].index(current) + 1
                    break
                rec = json.loads(line)
                if "done" in rec:
                    proc.wait()
                    index = len(table)
                    break
                if "start" in rec:
                    current = rec["start"]
                    first = False
                    continue
                results[rec["id"]] = rec
                current = None
    finally:
        os.unlink(path)
    return results


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    return _run_table()


def test_table_is_big_and_ids_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(ids) >= 150, len(ids)


@pytest.mark.parametrize(
    ("cid", "code", "expect"),
    [pytest.param(cid, code, expect, id=cid, marks=marks) for cid, code, expect, marks in CASES],
)
def test_bad_input(cid: str, code: str, expect: tuple, outcomes: dict[str, dict[str, Any]]) -> None:
    got = outcomes.get(cid)
    assert got is not None, "case never ran"
    assert got["kind"] not in ("crash", "hang"), f"{code}\n-> {got}"
    kind = expect[0]
    if kind == "raise":
        _, cls, needle = expect
        assert got["kind"] == "raise", f"{code}\n-> returned {got.get('repr')}"
        assert "medtrust.exceptions.MedtrustError" in got["mro"], f"{code}\n-> {got['tb']}"
        assert any(m.endswith("." + cls) for m in got["mro"]), f"{code}\n-> {got['type']}"
        assert needle.lower() in got["message"].lower(), f"{code}\n-> {got['message']!r}"
    elif kind == "value":
        assert got["kind"] == "value", f"{code}\n-> {got.get('tb', got)}"
        assert got.get("check") is True, f"{code}\n-> {got['repr']} fails {expect[1]}"
    else:
        _, needle, usage = expect
        assert got["kind"] == "cli", f"{code}\n-> {got.get('tb', got)}"
        err = got["stderr"]
        assert got["code"] == 2, f"{code}\n-> exit {got['code']}: {err}"
        assert "Traceback" not in err, err
        # one error line (argparse adds its usage line above; notes such as "judge: not
        # configured" may precede it)
        errors = [ln for ln in err.splitlines() if "error:" in ln]
        assert len(errors) == 1, err
        assert needle.lower() in errors[0].lower(), err
        if usage:
            assert err.lstrip().startswith("usage:"), err
        else:
            assert errors[0].startswith("medtrust: error: "), err
