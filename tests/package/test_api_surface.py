"""The API contract (README, Conventions), checked on the public signatures of every job package.

Each test states one rule of the contract. Where a public name breaks a rule on purpose, it is
listed next to the rule with the reason, so a new breach fails here.
"""

import dataclasses
import importlib
import inspect
import math
import re
import typing
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

PACKAGES = [
    "medtrust.selective",
    "medtrust.segmentation",
    "medtrust.uncertainty",
    "medtrust.failure",
    "medtrust.active",
    "medtrust.active.metrics",
    "medtrust.vqa",
    "medtrust.analysis",
    "medtrust.io",
    "medtrust.data",
]
PKG_DIR = Path(__file__).resolve().parents[2] / "python" / "medtrust"


def _public():
    """(qualified name, function) of every public function, constructor and public method."""
    seen, out = set(), []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                items = [(f"{pkg}.{name}", obj)]
            elif inspect.isclass(obj) and obj.__module__.startswith("medtrust"):
                items = [(f"{pkg}.{name}", obj.__init__)]
                items += [
                    (f"{pkg}.{name}.{k}", v)
                    for k, v in vars(obj).items()
                    if inspect.isfunction(v) and not k.startswith("_")
                ]
            else:
                continue
            for qual, f in items:
                if f not in seen and getattr(f, "__module__", "").startswith("medtrust"):
                    seen.add(f)
                    out.append((qual, f))
    return out


PUBLIC = _public()


def _params():
    for qual, f in PUBLIC:
        for p in inspect.signature(f).parameters.values():
            if p.name not in ("self", "cls"):
                yield qual, f, p


def _annotation(f, p):
    """The parameter's annotation, resolved (names only imported for type checking too)."""
    ann = p.annotation
    if not isinstance(ann, str):
        return ann
    ns = dict(vars(importlib.import_module(f.__module__)))
    ns.setdefault("pl", pl)
    ns.setdefault("np", np)
    try:
        return eval(ann, ns)
    except NameError:
        return ann


def _literal_args(ann):
    """The values of a Literal annotation (through ``X | None``); None when not a Literal."""
    if typing.get_origin(ann) is typing.Literal:
        return set(typing.get_args(ann))
    args = typing.get_args(ann)
    lits = [a for a in args if typing.get_origin(a) is typing.Literal]
    if lits and all(a is type(None) or typing.get_origin(a) is typing.Literal for a in args):
        return set().union(*(typing.get_args(a) for a in lits))
    return None


def test_the_surface_is_not_empty():
    assert len(PUBLIC) > 150


# ----------------------------------------------------------------------------- names

#: Names of label maps: ``pred`` / ``target`` everywhere.
BANNED_NAMES = {
    "prediction": "pred",
    "ground_truth": "target",
    "gt": "target",
    "y_true": "target",
    "y_pred": "pred",
    "reference": "target",
}
#: Text fields of the VQA judge (a model's free-text answer, not a label map); owned by the
#: judge runner, renamed there when that module is split.
NAME_EXCEPTIONS = {
    "medtrust.vqa.JudgeCache.put": "prediction",
    "medtrust.vqa.JudgeItem": "prediction",
}


def test_label_maps_are_pred_and_target():
    bad = [
        f"{q}({p.name}) -> {BANNED_NAMES[p.name]}"
        for q, _, p in _params()
        if p.name in BANNED_NAMES and NAME_EXCEPTIONS.get(q) != p.name
    ]
    assert bad == []


#: ``size`` is a patch edge length nowhere: that is ``patch_size``. These take the number of
#: patches of a query, a different concept, or are the Patch type itself.
SIZE_IS_A_COUNT = {
    "medtrust.active.Patch",  # a Patch's own edge lengths (Patch.size reads as patch size)
    "medtrust.active.clasp_quotas",
    "medtrust.active.Strategy.query",
    "medtrust.active.Strategy.candidates",
    "medtrust.active.Strategy.per_image",  # patches per image of a query of `size` patches
}


def test_one_word_per_concept():
    bad = []
    for q, _, p in _params():
        if p.name == "size" and q not in SIZE_IS_A_COUNT:
            bad.append(f"{q}(size): use patch_size")
        if p.name == "methods" and q.startswith("medtrust.failure"):
            bad.append(f"{q}(methods): use aggregations")
        if p.name in ("labels", "label") and re.search(r"\bPath\b", str(p.annotation)):
            bad.append(f"{q}({p.name}) is a path: labels are class labels (use labels_dir)")
    assert bad == []


def test_seed_is_only_a_random_seed():
    bad = []
    for q, f, p in _params():
        if p.name == "seed":
            ok_default = p.default is inspect.Parameter.empty or (
                p.default is None or isinstance(p.default, int)
            )
            if not ok_default or "str" in str(_annotation(f, p)):
                bad.append(f"{q}(seed={p.default!r}): a column of seeds is seed_col")
        if p.name in ("seed_column", "seed_name"):
            bad.append(f"{q}({p.name}): use seed_col")
    assert bad == []


def test_clip_default_is_the_same_everywhere():
    from medtrust.active import Strategy, patch_scores, score_grids, select_patches

    defaults = {
        f.__qualname__: inspect.signature(f).parameters["clip"].default
        for f in (patch_scores, select_patches, score_grids, Strategy.__init__)
    }
    assert set(defaults.values()) == {True}, defaults


def test_one_empty_policy_vocabulary():
    from medtrust import segmentation as seg

    def values(f):
        return _literal_args(_annotation(f, inspect.signature(f).parameters["empty"]))

    overlap = [seg.dice, seg.iou, seg.pairwise_dice, seg.SegmentationAccumulator.__init__]
    surface = [seg.surface_distances, seg.hd, seg.hd95, seg.assd, seg.nsd]
    assert all(values(f) == {"nan", "perfect", "skip"} for f in overlap)
    assert all(values(f) == {"nan", "perfect"} for f in surface)
    assert set(seg.EMPTY_SURFACE_POLICIES) <= set(seg.EMPTY_POLICIES)


# ----------------------------------------------------------------------------- types

#: String parameters that are not options: column names, free text, file endings, and names
#: looked up in a registry that grows (metric names of the native metric list, strategies).
FREE_STRINGS = {
    "case_col",  # column names (evaluate_failure_detection)
    "group_col",
    "value",
    "strategy",
    "budget",
    "seed_col",
    "setting",
    "block",
    "fg_fraction",
    "human",
    "question",
    "answer",
    "pred",
    "subset",
    "file_ending",
    "what",
    "name",
    "name_col",
    "rank_col",
    "description",
    "key",
    "model",
    "prompt_version",
    "path",
    "lang",
    "group",
    "metric",
    "rank_metric",
    "prompt",  # a judge prompt template's registry name (templates can be registered)
}


def test_every_string_option_is_a_literal_alias():
    bad = []
    for q, f, p in _params():
        if not isinstance(p.default, str) or p.name in FREE_STRINGS:
            continue
        if NAME_EXCEPTIONS.get(q) == p.name:  # free text (see NAME_EXCEPTIONS)
            continue
        ann = _annotation(f, p)
        args = _literal_args(ann)
        if args is None:
            bad.append(f"{q}({p.name}: {p.annotation})")
        elif p.default not in args:
            bad.append(f"{q}({p.name}={p.default!r}) not in {sorted(args)}")
    assert bad == []


def test_nan_policy_is_the_shared_alias():
    from medtrust._arrays import NAN_POLICIES, NanPolicy

    assert set(typing.get_args(NanPolicy)) == set(NAN_POLICIES)
    bad = [
        q for q, f, p in _params() if p.name == "nan_policy" and _annotation(f, p) is not NanPolicy
    ]
    assert bad == []


#: Factories whose keyword arguments are forwarded to a class chosen at run time.
VAR_KEYWORD_OK = {
    "medtrust.uncertainty.SlabAccumulator",  # EnsembleAccumulator's options, forwarded
    "medtrust.active.get_strategy",
    "medtrust.active.register_strategy",
    "medtrust.active.probs_dir_source",
    "medtrust.selective.RiskCoverageAccumulator",
    "medtrust.vqa.load_predictions",
    "medtrust.vqa.load_vqa",
    "medtrust.io.write_dataset_json",
}


def test_explicit_keyword_arguments():
    bad = [
        q
        for q, _, p in _params()
        if p.kind is inspect.Parameter.VAR_KEYWORD and q not in VAR_KEYWORD_OK
    ]
    assert bad == []


def test_polars_return_types_are_annotated():
    # `def f():  # -> polars.DataFrame` hides the type from type checkers; the annotation
    # (with polars imported under TYPE_CHECKING) does not.
    hidden = [
        f"{path.relative_to(PKG_DIR)}:{i}"
        for path in PKG_DIR.rglob("*.py")
        if "cli" not in path.parts
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\):\s*# -> (pl|polars)\.", line)
    ]
    assert hidden == []


# ----------------------------------------------------------------------------- results


def _results():
    """One real instance of every result type with parts."""
    from medtrust import segmentation as seg
    from medtrust import selective as sel
    from medtrust.active import metrics as alm
    from medtrust.vqa import robustness

    rng = np.random.default_rng(0)
    r = (rng.random(60) < 0.3).astype(float)
    c = {"a": 1 - r + rng.normal(0, 0.5, 60), "b": rng.random(60)}
    a = np.zeros((6, 6, 6), np.uint8)
    a[1:4, 1:4, 1:4] = 1
    b = np.roll(a, 1, axis=0)
    runs = pl.DataFrame(
        {
            "setting": ["s"] * 12,
            "strategy": ["x"] * 6 + ["y"] * 6,
            "seed": [0, 0, 0, 1, 1, 1] * 2,
            "round": [0, 1, 2] * 4,
            "dice_mean": [0.2, 0.4, 0.5, 0.25, 0.45, 0.5, 0.2, 0.3, 0.35, 0.2, 0.3, 0.4],
        }
    )
    scores = pl.DataFrame(
        {"subset": ["iid", "iid", "ood", "ood"], "seed": [0] * 4}
        | {"judge_score": [1.0, 0.8, 0.6, 0.4]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "ConfusionCounts": seg.confusion_counts(a, b),
            "OverlapResult": seg.dice(a, b),
            "PairwiseDiceResult": seg.pairwise_dice([a, b, a]),
            "SurfaceDistances": seg.surface_distances(a, b, spacing=(1, 1, 2)),
            "SelectiveMetrics": sel.metrics(c["a"], r),
            "RiskCoverageCurve": sel.risk_coverage_curve(c["a"], r),
            "ConfidenceInterval": sel.bootstrap_ci(c["a"], r, n_resamples=20),
            "PairedBootstrap": sel.paired_bootstrap(c, r, n_resamples=20),
            "CSFRanking": sel.rank_csfs(c, r, n_resamples=20),
            "FGEfficiency": alm.fg_efficiency([0.0, 0.5, 1.0], [0.2, 0.5, 0.6], full_dice=0.7),
            "PairwisePenaltyMatrix": alm.pairwise_penalty_matrix(runs),
            "StrategyRanking": alm.rank_strategies(alm.run_metrics(runs), block="seed"),
            "RobustnessResult": robustness(scores, metric="judge_score"),
        }


RESULTS = _results()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_results_are_frozen_with_to_dict_and_to_frame(name):
    res = RESULTS[name]
    assert type(res).__name__ == name
    assert dataclasses.is_dataclass(res) and type(res).__dataclass_params__.frozen
    field = dataclasses.fields(res)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(res, field, None)
    d = res.to_dict()
    assert isinstance(d, dict) and d
    frame = res.to_frame()
    assert isinstance(frame, pl.DataFrame) and frame.height >= 1


def test_to_frame_is_one_row_per_item():
    r = RESULTS
    assert r["OverlapResult"].to_frame().height == len(r["OverlapResult"].per_class)
    assert r["ConfusionCounts"].to_frame().height == r["ConfusionCounts"].n_classes
    assert r["RiskCoverageCurve"].to_frame().height == len(r["RiskCoverageCurve"].coverages)
    assert r["CSFRanking"].to_frame()["csf"].sort().to_list() == ["a", "b"]
    sd = r["SurfaceDistances"]
    assert sd.to_frame().height == len(sd.pred_to_target) + len(sd.target_to_pred)
    for one_row in ("SelectiveMetrics", "ConfidenceInterval", "FGEfficiency"):
        assert r[one_row].to_frame().height == 1
        assert r[one_row].to_frame().row(0, named=True) == pytest.approx(
            r[one_row].to_dict(), nan_ok=True
        )


def test_scalar_metrics_are_python_floats():
    from medtrust import active, failure, vqa
    from medtrust import segmentation as seg
    from medtrust import selective as sel

    rng = np.random.default_rng(1)
    conf, res = rng.random(30), (rng.random(30) < 0.4).astype(float)
    a = np.zeros((6, 6), bool)
    a[1:4, 1:4] = True
    b = np.roll(a, 1, axis=1)
    values = {
        "aurc": sel.aurc(conf, res),
        "augrc": sel.augrc(conf, res),
        "eaurc": sel.eaurc(conf, res),
        "naurc": sel.naurc(conf, res),
        "failure_auroc": sel.failure_auroc(conf, res),
        "ece": sel.ece(conf, res),
        "hd": seg.hd(a, b, spacing=(1, 1)),
        "hd95": seg.hd95(a, b, spacing=(1, 1)),
        "assd": seg.assd(a, b, spacing=(1, 1)),
        "nsd": seg.nsd(a, b, spacing=(1, 1), tolerance=1.0),
        "dice": seg.dice(a, b).value,
        "aubc": active.aubc([0.1, 0.2]),
        "final_dice": active.final_dice([0.1, 0.2]),
        "mean": failure.mean(conf),
        "patch_min": failure.patch_min(conf, patch_size=3),
        "relative_robustness": vqa.relative_robustness(0.5, 0.4),
    }
    bad = {k: type(v).__name__ for k, v in values.items() if type(v) is not float}
    assert bad == {}
    assert all(type(v) is float for v in RESULTS["OverlapResult"].per_class.values())


def test_stateful_metrics_share_update_compute_reset():
    from medtrust.segmentation import SegmentationAccumulator
    from medtrust.selective import RiskCoverageAccumulator

    for cls in (SegmentationAccumulator, RiskCoverageAccumulator):
        assert {"update", "compute", "reset"} <= set(vars(cls)), cls


# ----------------------------------------------------------------------------- renames


def test_old_keywords_are_deprecated_aliases():
    from medtrust import failure, vqa
    from medtrust import segmentation as seg
    from medtrust.active import metrics as alm

    renamed = [(q, f) for q, f in PUBLIC if getattr(f, "__deprecated_kwargs__", None) is not None]
    assert len(renamed) >= 10
    for q, f in renamed:
        params = inspect.signature(f).parameters
        for old, new in f.__deprecated_kwargs__.items():
            assert old not in params and new in params, q

    conf = np.random.default_rng(2).random((8, 8))
    pred = np.zeros((8, 8), np.uint8)
    pred[2:6, 2:6] = 1
    calls = [
        (
            lambda: failure.aggregate(conf, pred, aggregations=["mean"]),
            lambda: failure.aggregate(conf, prediction=pred, methods=["mean"]),
        ),
        (lambda: failure.patch_min(conf, patch_size=3), lambda: failure.patch_min(conf, size=3)),
        (lambda: failure.boundary_band(pred), lambda: failure.boundary_band(prediction=pred)),
    ]
    for new_call, old_call in calls:
        new = new_call()
        with pytest.warns(DeprecationWarning, match="deprecated; use"):
            old = old_call()
        if isinstance(new, np.ndarray):
            np.testing.assert_array_equal(new, old)
        else:
            assert new == old
    with pytest.raises(ValueError, match="pass 'pred' only"):
        failure.aggregate(conf, pred=pred, prediction=pred)
    table = pl.DataFrame(
        {"strategy": ["a"] * 3 + ["b"] * 3, "run": [0, 1, 2] * 2, "round": [0] * 6}
        | {"dice_mean": [0.5, 0.6, 0.7, 0.6, 0.75, 0.82]}
    )
    with pytest.warns(DeprecationWarning):
        old = alm.pairwise_penalty_matrix(table, seed="run")
    assert old.to_dict() == alm.pairwise_penalty_matrix(table, seed_col="run").to_dict()
    scores = pl.DataFrame(
        {"subset": ["iid", "ood"] * 2, "run": [0, 0, 1, 1], "judge_score": [1.0, 0.5, 0.8, 0.6]}
    )
    with pytest.warns(DeprecationWarning):
        old = vqa.robustness(scores, seed="run")
    assert old.summary.equals(vqa.robustness(scores, seed_col="run").summary)
    with pytest.warns(DeprecationWarning, match='empty="perfect"'):
        one = seg.dice(pred, pred, labels=[1, 2], empty="one")
    assert one.per_class == {1: 1.0, 2: 1.0} and one.empty == "perfect"
    assert math.isnan(seg.dice(pred, pred, labels=[1, 2]).per_class[2])


def test_case_files_old_field_names_warn():
    from medtrust.io import CaseFiles

    cf = CaseFiles("c", (), (), Path("p.nii.gz"), Path("t.nii.gz"), "iid")
    with pytest.warns(DeprecationWarning, match="pred_file"):
        assert cf.prediction == cf.pred_file
    with pytest.warns(DeprecationWarning, match="target_file"):
        assert cf.label == cf.target_file
