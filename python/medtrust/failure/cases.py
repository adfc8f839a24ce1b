"""Per-case scoring: segmentation risks and confidence scores (CSFs) of one case.

:func:`case_risks` measures a prediction against its reference (mean foreground Dice, NSD,
HD95); :func:`case_confidences` computes every CSF of a case from its ensemble: pairwise Dice
of the members' label maps, and pixel-confidence maps (MSR, PE, EE, MI from
:mod:`medtrust.uncertainty`, streamed over members) aggregated by every method of
:mod:`medtrust.failure.aggregation`. :func:`score_folder` does both for every case of the
folder layout of :mod:`medtrust.io.layout`.

Examples
--------
>>> import numpy as np
>>> from medtrust.failure import case_risks
>>> t = np.zeros((10, 10, 10), np.uint8); t[2:7, 2:7, 2:7] = 1
>>> p = np.zeros_like(t); p[2:7, 2:7, 3:8] = 1
>>> r = case_risks(p, t, spacing=(1, 1, 1), tolerance=1.0)
>>> r["dice"], r["hd95"]
(0.8, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust._arrays import as_label_map, as_spacing, check_same_shape, to_numpy
from medtrust._deprecation import renamed_kwargs
from medtrust.exceptions import ShapeMismatchError
from medtrust.failure.aggregation import (
    AGGREGATIONS,
    PIXEL_CONFIDENCES,
    aggregate,
    aggregate_ensemble,
)
from medtrust.segmentation.policies import Surface

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "PIXEL_CONFIDENCES",
    "ScoreOptions",
    "case_confidences",
    "case_risks",
    "score_case",
    "score_folder",
]

#: Short names of the aggregations in CSF column names.
SHORT = {
    "mean": "mean",
    "non_boundary_mean": "nonbnd",
    "foreground_mean": "fg",
    "patch_min": "patchmin",
    "distance_weighted_mean": "distw",
    "volume_weighted_mean": "volw",
}


@renamed_kwargs(prediction="pred")
def case_risks(
    pred: Any,
    target: Any,
    *,
    spacing: Any,
    n_classes: int | None = None,
    tolerance: float = 2.0,
    percentile: float = 95.0,
    surface: Surface = "voxels",
) -> dict[str, float]:
    """Mean foreground Dice, NSD at ``tolerance`` mm and HD95 of one case.

    Per foreground class, then averaged: Dice counts a class empty in both maps as 1 (the
    risk convention of Zenk et al.); NSD likewise 1; HD95 as 0 when both are empty and the
    image diagonal (mm) when exactly one is, so that the risk stays finite.

    Parameters
    ----------
    pred
        Predicted label map of the same shape (0 = background).
    target
        Reference label map of the same shape.
    spacing
        Voxel spacing in mm, array-axis order.
    n_classes
        Number of classes (None: from the maps).
    tolerance
        NSD tolerance in mm.
    percentile
        Percentile of the robust Hausdorff distance.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).

    Returns
    -------
    dict of str to float
        ``dice`` and ``nsd`` in [0, 1] (higher is better) and ``hd95`` in mm.
    """
    from medtrust.segmentation import dice, surface_distances

    p = as_label_map(pred, "pred")
    t = as_label_map(target, "target")
    shape = check_same_shape(pred=p, target=t)
    sp = as_spacing(spacing, len(shape))
    d = dice(p, t, n_classes=n_classes, empty="perfect")
    classes = list(d.per_class)
    nsds, hds = [], []
    for c in classes:
        s = surface_distances(
            p, t, spacing=sp, label=c, surface=surface, one_empty="diagonal", empty="perfect"
        )
        nsds.append(s.nsd(tolerance))
        hds.append(s.hd95(percentile))
    return {
        "dice": d.value if classes else 1.0,
        "nsd": float(np.mean(nsds)) if classes else 1.0,
        "hd95": float(np.mean(hds)) if classes else 0.0,
    }


def _vote_confidence(members: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """Fraction of members voting for the majority label, per voxel."""
    best = np.zeros(members[0].shape, np.int32)
    for c in range(n_classes):
        best = np.maximum(best, sum((m == c).astype(np.int32) for m in members))
    return (best / len(members)).astype(np.float32)


def majority_vote(members: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """Per-voxel majority label of member label maps (ties: the lowest label)."""
    counts = np.stack([sum((m == c).astype(np.int32) for m in members) for c in range(n_classes)])
    return np.argmax(counts, axis=0).astype(np.uint8 if n_classes <= 256 else np.int32)


@renamed_kwargs(prediction="pred")
def case_confidences(
    *,
    members: Sequence[Any] | None = None,
    probabilities: Iterable[Any] | None = None,
    pred: Any = None,
    spacing: Any = None,
    kinds: Sequence[str] = PIXEL_CONFIDENCES,
    aggregations: Sequence[str] = AGGREGATIONS,
    width: int = 4,
    patch_size: int = 10,
    n_classes: int | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Every CSF of one case, and the prediction they refer to.

    Parameters
    ----------
    members
        Label maps of the M ensemble members (for pairwise Dice, and the majority vote).
    probabilities
        Softmax maps ``[C, *spatial]`` of the members, fed one at a time (an iterable, e.g. a
        generator reading files: memory stays O(C x voxels)). The confidences are aggregated
        straight from the ensemble's running sums (:func:`aggregate_ensemble`).
    pred
        The segmentation being judged; default: argmax of the mean probabilities, else the
        members' majority vote.
    spacing
        Voxel spacing in array-axis order (for the distance-weighted aggregation); None: 1.
    kinds
        Pixel confidences to compute (names of :data:`PIXEL_CONFIDENCES`).
    aggregations
        Pixel-to-case aggregations (names of :data:`AGGREGATIONS`).
    width
        Width in voxels of the boundary band left out by ``non_boundary_mean``.
    patch_size
        Edge length in voxels of the sliding patch of ``patch_min``.
    n_classes
        Number of classes; None: inferred from the probabilities or the label maps.

    Returns
    -------
    csfs : dict of str to float
        Names such as ``"pairwise_dice"``, ``"pe_nonbnd"``, ``"msr_patchmin"`` mapped to
        confidences (higher = more confident). Without probabilities the pixel map is the
        members' vote fraction (``"vote_*"``).
    pred : numpy.ndarray
        The prediction the confidences refer to.
    """
    from medtrust.segmentation import pairwise_dice

    maps: dict[str, np.ndarray] = {}
    aggregated: dict[str, dict[str, float]] = {}
    csfs: dict[str, float] = {}
    member_maps = [as_label_map(m, f"members[{i}]") for i, m in enumerate(members or [])]
    pred = None if pred is None else as_label_map(pred, "pred")
    n_cls = n_classes
    if probabilities is not None:
        from medtrust.uncertainty import EnsembleAccumulator, argmax_labels

        # Lean path: members are streamed into the accumulator; the prediction (argmax of the
        # mean probabilities) and every confidence aggregate come from its running sums,
        # without a copy of the mean probabilities or any full confidence map. Member label
        # maps are uint8 and freed (after pairwise Dice) before the aggregation runs.
        # Only the sums the confidences need: without EE / MI no member entropies (issue 13).
        # Unknown names keep everything and are reported by aggregate_ensemble below.
        known = all(k in ("msr", "pe", "ee", "mi") for k in kinds)
        acc = EnsembleAccumulator(n_classes=n_classes, kinds=list(kinds) if known else None)
        derive_members = not member_maps
        for probs in probabilities:
            acc.add(probs)
            if derive_members:
                member_maps.append(to_numpy(argmax_labels(probs), "members"))
            del probs
        if pred is None:
            pred = as_label_map(to_numpy(acc.predicted_labels(), "prediction"), "prediction")
        if n_cls is None and member_maps:
            n_cls = int(max(int(m.max()) for m in member_maps)) + 1
        if len(member_maps) >= 2:
            csfs["pairwise_dice"] = pairwise_dice(member_maps, n_classes=max(n_cls or 2, 2)).value
        member_maps = []
        aggregated = aggregate_ensemble(
            acc,
            pred,
            kinds=list(kinds),
            aggregations=aggregations,
            width=width,
            patch_size=patch_size,
            spacing=spacing,
        )
        del acc
    if n_cls is None and member_maps:
        n_cls = int(max(int(m.max()) for m in member_maps)) + 1
    if pred is None:
        if not member_maps:
            raise ShapeMismatchError("a case needs member label maps or probabilities")
        pred = majority_vote(member_maps, max(n_cls or 2, 2))
    if not aggregated and len(member_maps) >= 2:
        maps["vote"] = _vote_confidence(member_maps, max(n_cls or 2, 2))
    if len(member_maps) >= 2:
        csfs["pairwise_dice"] = pairwise_dice(member_maps, n_classes=max(n_cls or 2, 2)).value
    for kind, cmap in maps.items():
        if cmap.shape != pred.shape:
            raise ShapeMismatchError(
                f"confidence map {cmap.shape} and prediction {pred.shape} shapes differ"
            )
        aggregated[kind] = aggregate(
            cmap,
            pred,
            aggregations=aggregations,
            width=width,
            patch_size=patch_size,
            spacing=spacing,
        )
    for kind, agg in aggregated.items():
        for name, v in agg.items():
            csfs[f"{kind}_{SHORT[name]}"] = v
    return csfs, pred


@dataclass(frozen=True)
class ScoreOptions:
    """How :func:`score_case` scores a case (the settings of :func:`score_folder`)."""

    tolerance: float = 2.0
    percentile: float = 95.0
    surface: Surface = "voxels"
    width: int = 4
    patch_size: int = 10


def score_case(cf: Any, options: ScoreOptions | None = None) -> dict[str, Any]:
    """Risks and CSFs of one case of a prediction folder (one row of :func:`score_folder`).

    ``cf`` is a :class:`medtrust.io.layout.CaseFiles` from :func:`medtrust.io.find_cases`. A
    pure function of the case's files: an engine may run it anywhere the files are visible.
    """
    from medtrust.io import load_labels, load_probabilities

    options = options or ScoreOptions()
    target, spacing, _ = load_labels(cf.target_file)
    members = []
    for path in cf.members:
        m, sp, _ = load_labels(path)
        _check_geometry(cf.case, path.name, m.shape, sp, target.shape, spacing)
        members.append(m)
    pred = None
    if cf.pred_file is not None:
        pred, sp, _ = load_labels(cf.pred_file)
        _check_geometry(cf.case, cf.pred_file.name, pred.shape, sp, target.shape, spacing)

    def stream() -> Iterator[np.ndarray]:
        for path in cf.probabilities:
            probs = load_probabilities(path)
            if tuple(probs.shape[1:]) != tuple(target.shape):
                raise ShapeMismatchError(
                    f"case {cf.case}: {path.name} has spatial shape {probs.shape[1:]}, the "
                    f"label map {target.shape} (probabilities must use the label maps' "
                    "axis order)"
                )
            yield probs

    csfs, pred = case_confidences(
        members=members or None,
        probabilities=stream() if cf.probabilities else None,
        pred=pred,
        spacing=spacing,
        width=options.width,
        patch_size=options.patch_size,
    )
    risks = case_risks(
        pred,
        target,
        spacing=spacing,
        tolerance=options.tolerance,
        percentile=options.percentile,
        surface=options.surface,
    )
    return {"case": cf.case, "domain": cf.domain, **risks, **csfs}


def score_folder(
    pred_dir: Any,
    labels_dir: Any,
    domains: Any,
    *,
    tolerance: float = 2.0,
    percentile: float = 95.0,
    surface: Surface = "voxels",
    width: int = 4,
    patch_size: int = 10,
    progress: bool = False,
) -> pl.DataFrame:
    """Risks and CSFs of every case of a prediction folder, one row per case.

    Columns: case, domain, dice, nsd, hd95 and one per CSF. The folder follows the layout of
    :mod:`medtrust.io.layout`. :func:`medtrust.engine.score_folder` scores the cases in
    parallel (local processes or a Ray cluster) with the same result.

    Parameters
    ----------
    pred_dir
        Folder of the members' predictions (:mod:`medtrust.io.layout`).
    labels_dir
        Folder of the reference label maps.
    domains
        Mapping case -> domain, or a JSON / CSV / TSV file of it.
    tolerance
        NSD tolerance in mm.
    percentile
        Percentile of the robust Hausdorff distance.
    surface
        ``"voxels"`` (border voxels weighted equally, MONAI's default) or ``"surfels"``
        (marching-cubes surface elements weighted by area, DeepMind's surface-distance).
    width
        Width in voxels of the band around predicted label boundaries that is left out.
    patch_size
        Window edge in voxels of ``patch_min``.
    progress
        Show a progress bar over the cases.

    Returns
    -------
    polars.DataFrame
        One row per case: ``case, domain, dice, nsd, hd95`` and one column per CSF.
    """
    import polars as pl

    from medtrust._io import progress as bar
    from medtrust.io import find_cases

    cases = find_cases(pred_dir, labels_dir, domains)
    opts = ScoreOptions(tolerance, percentile, surface, width, patch_size)
    rows = [
        score_case(cf, opts) for cf in bar(cases, desc="cases", enabled=progress, total=len(cases))
    ]
    return pl.DataFrame(rows)


def _check_geometry(case, name, shape, spacing, t_shape, t_spacing) -> None:
    if tuple(shape) != tuple(t_shape):
        raise ShapeMismatchError(
            f"case {case}: {name} has shape {tuple(shape)}, the label map {tuple(t_shape)}"
        )
    if not np.allclose(spacing, t_spacing, rtol=1e-4):
        raise ShapeMismatchError(
            f"case {case}: {name} has spacing {spacing}, the label map {t_spacing}"
        )
