"""Overlap metrics of label maps: confusion counts, Dice and IoU (pairwise Dice: ``pairwise``).

Counts come from one parallel pass in Rust with 64-bit integer counters; every metric derives
from them.

Undefined cases
---------------
- a class empty in both maps: ``empty="nan"`` (default; excluded from macro means, which use
  nanmean), ``"perfect"`` (Dice = IoU = 1; formerly ``"one"``) or ``"skip"`` (left out of
  ``per_class``): the vocabulary of :mod:`medtrust.segmentation.policies`. The result lists
  these classes in ``empty_classes`` and counts the defined ones in ``n_valid``;
- a class empty in one map only: 0;
- ``ignore_label``: voxels whose *target* holds it count nowhere; elsewhere both maps must hold
  labels in ``[0, n_classes)``;
- classes counted: ``range(n_classes)`` when ``n_classes`` is given, otherwise the labels present
  in the maps (with 0 and 1, and any ``labels`` asked for), so that cost follows the labels
  present, never the largest label value (one voxel labelled 2^24 - 1 costs two classes);
- float label maps, shape mismatch, negative labels: clear errors before any work.

Examples
--------
>>> import numpy as np
>>> from medtrust.segmentation import dice
>>> pred = np.array([0, 1, 1, 2, 2, 0], dtype=np.uint8)
>>> target = np.array([0, 1, 2, 2, 2, 1], dtype=np.uint8)
>>> r = dice(pred, target)
>>> r.per_class
{1: 0.5, 2: 0.8}
>>> round(r.value, 4)
0.65
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    as_int,
    as_label_map,
    check_same_shape,
    common_label_dtype,
)
from medtrust.exceptions import InvalidArgumentError
from medtrust.segmentation.policies import OVERLAP_EMPTY_POLICIES, EmptyPolicy, check_empty

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "EMPTY_POLICIES",
    "ConfusionCounts",
    "OverlapResult",
    "confusion_counts",
    "dice",
    "iou",
]

#: Values of the ``empty=`` policy for classes empty in both maps (see
#: :mod:`medtrust.segmentation.policies`: one vocabulary with the surface metrics).
EMPTY_POLICIES: tuple[str, ...] = OVERLAP_EMPTY_POLICIES


@dataclass(frozen=True)
class ConfusionCounts:
    """Per-class counts (uint64 arrays, one entry per class counted) of one prediction vs target.

    Entry k belongs to the class label ``class_labels[k]`` (``classes``; ``None`` means 0, 1, ...).

    Attributes
    ----------
    tp
        True positives per class (uint64).
    fp
        False positives per class.
    fn
        False negatives per class.
    tn
        True negatives per class.
    n_voxels
        Voxels counted (excluding ignored ones).
    n_ignored
        Voxels left out because the target holds ``ignore_label``.
    classes
        Class label of each entry (None: 0, 1, ...).
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    n_voxels: int
    n_ignored: int
    classes: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes counted."""
        return len(self.tp)

    @property
    def class_labels(self) -> np.ndarray:
        """The class label of each entry."""
        return np.arange(len(self.tp)) if self.classes is None else self.classes

    @property
    def pred_volume(self) -> np.ndarray:
        """Voxels per class in the prediction (TP + FP)."""
        return self.tp + self.fp

    @property
    def target_volume(self) -> np.ndarray:
        """Voxels per class in the target (TP + FN)."""
        return self.tp + self.fn

    def _ratio(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.full(len(num), np.nan)
        ok = den > 0
        out[ok] = num[ok].astype(np.float64) / den[ok].astype(np.float64)
        return out

    def dice(self) -> np.ndarray:
        """Dice per class, NaN where both maps lack the class.

        Returns
        -------
        numpy.ndarray
            float64 Dice in [0, 1] per entry.
        """
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def iou(self) -> np.ndarray:
        """IoU (Jaccard) per class, NaN where both maps lack the class.

        Returns
        -------
        numpy.ndarray
            float64 IoU in [0, 1] per entry.
        """
        return self._ratio(self.tp, self.tp + self.fp + self.fn)

    def precision(self) -> np.ndarray:
        """TP / (TP + FP) per class, NaN where the prediction lacks the class.

        Returns
        -------
        numpy.ndarray
            float64 precision per entry.
        """
        return self._ratio(self.tp, self.tp + self.fp)

    def recall(self) -> np.ndarray:
        """TP / (TP + FN) per class, NaN where the target lacks the class.

        Returns
        -------
        numpy.ndarray
            float64 recall per entry.
        """
        return self._ratio(self.tp, self.tp + self.fn)

    def volume_difference(self) -> np.ndarray:
        """(pred volume - target volume) / target volume per class (NaN for an empty target).

        Returns
        -------
        numpy.ndarray
            Signed relative volume difference per entry (0 = same volume).
        """
        pv = self.pred_volume.astype(np.float64)
        tv = self.target_volume.astype(np.float64)
        return _safe_div(pv - tv, tv)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with lists.

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {
            "classes": self.class_labels.tolist(),
            "tp": self.tp.tolist(),
            "fp": self.fp.tolist(),
            "fn": self.fn.tolist(),
            "tn": self.tn.tolist(),
            "n_voxels": self.n_voxels,
            "n_ignored": self.n_ignored,
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per class: class, tp, fp, fn, tn.

        Returns
        -------
        polars.DataFrame
            Columns ``class, tp, fp, fn, tn``.
        """
        import polars as pl

        return pl.DataFrame(
            {
                "class": self.class_labels.astype(np.int64),
                "tp": self.tp.astype(np.int64),
                "fp": self.fp.astype(np.int64),
                "fn": self.fn.astype(np.int64),
                "tn": self.tn.astype(np.int64),
            }
        )


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


@dataclass(frozen=True)
class OverlapResult:
    """An overlap metric per class and its macro mean.

    ``value`` is the nanmean over ``per_class`` (NaN when no class is defined); classes empty in
    both maps are listed in ``empty_classes`` whatever the policy.

    Attributes
    ----------
    metric
        ``"dice"`` or ``"iou"``.
    value
        Macro mean over the reported classes (NaN when none is defined).
    per_class
        Class label -> value (NaN for a class empty in both maps under ``empty='nan'``).
    empty_classes
        Classes absent from both maps.
    n_valid
        Classes with a defined value.
    empty
        The empty-class policy used.
    counts
        The :class:`ConfusionCounts` behind the values.
    """

    metric: str
    value: float
    per_class: dict[int, float]
    empty_classes: tuple[int, ...]
    n_valid: int
    empty: str
    counts: ConfusionCounts | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (without the counts).

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {
            "metric": self.metric,
            "value": self.value,
            "per_class": dict(self.per_class),
            "empty_classes": list(self.empty_classes),
            "n_valid": self.n_valid,
            "empty": self.empty,
        }

    def to_frame(self) -> pl.DataFrame:
        """Tidy rows: class, metric, value, status ("ok" or "empty").

        Returns
        -------
        polars.DataFrame
            Columns ``class, metric, value, status``.
        """
        import polars as pl

        rows = [
            {
                "class": c,
                "metric": self.metric,
                "value": v,
                "status": "empty" if c in self.empty_classes else "ok",
            }
            for c, v in self.per_class.items()
        ]
        schema = {"class": pl.Int64, "metric": pl.Utf8, "value": pl.Float64, "status": pl.Utf8}
        return pl.DataFrame(rows, schema=schema)


def _prepare_pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p = as_label_map(pred, "pred")
    t = as_label_map(target, "target")
    check_same_shape(pred=p, target=t)
    p, t = common_label_dtype(p, t)
    return p, t


def _check_label_args(
    labels: Any, n_classes: Any, ignore_label: Any
) -> tuple[list[int] | None, int | None, int | None]:
    """Validate the class options before any work (empty lists and huge ints named, not crashed)."""
    if labels is not None:
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
            raise InvalidArgumentError(
                f"labels must be a sequence of class indices, got {labels!r}"
            )
        labels = [as_int(c, "labels", lo=0, hi=_MAX_LABEL) for c in labels]
        if not labels:
            raise InvalidArgumentError("labels is empty; pass None for every class")
    if n_classes is not None:
        n_classes = as_int(n_classes, "n_classes", lo=1, hi=_MAX_LABEL + 1)
    if ignore_label is not None:
        ignore_label = as_int(ignore_label, "ignore_label", lo=-(2**63), hi=2**63 - 1)
    return labels, n_classes, ignore_label


#: Largest class index accepted in options (label maps hold int64 at most; counts are per class).
_MAX_LABEL = 2**31 - 1


def _classes(
    n_classes: int | None,
    labels: Sequence[int] | None,
    maps: Sequence[tuple[np.ndarray, str]],
    ignore: int | None = None,
) -> int | np.ndarray:
    """Classes to count: ``n_classes`` (0..n-1) when given, else the labels present.

    The labels present come from one native pass (negative labels are refused there); 0 and 1
    are always counted (a binary task's foreground is reported even when absent), and so is
    every class in ``labels``.
    """
    if n_classes is not None:
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise InvalidArgumentError(f"n_classes must be a positive integer, got {n_classes!r}")
        return int(n_classes)
    wanted = [0, 1]
    if labels is not None:
        bad = [int(c) for c in labels if int(c) < 0]
        if bad:
            raise InvalidArgumentError(f"labels must be class indices >= 0, got {bad}")
        wanted += [int(c) for c in labels]
    present = _native.present_labels(
        [a.reshape(-1) for a, _ in maps], [name for _, name in maps], ignore
    )
    classes = np.union1d(present, np.array(wanted, dtype=np.int64)).astype(np.int64)
    # Labels 0..k-1 with no gap (the common case) take the kernels' plain range path.
    return len(classes) if classes[-1] == len(classes) - 1 else classes


def _class_list(classes: int | np.ndarray) -> list[int]:
    return list(range(classes)) if isinstance(classes, int) else classes.tolist()


def _selected(
    classes: int | np.ndarray, labels: Sequence[int] | None, include_background: bool
) -> list[int]:
    """The class labels to report, validated against the classes counted."""
    if labels is not None:
        sel = [int(c) for c in labels]
        if isinstance(classes, int):
            bad = [c for c in sel if not 0 <= c < classes]
            where = f"outside [0, n_classes={classes})"
        else:
            counted = set(classes.tolist())
            bad = [c for c in sel if c not in counted]
            where = "not among the classes counted"
        if bad:
            raise InvalidArgumentError(f"labels {bad} {where}")
        if len(set(sel)) != len(sel):
            raise InvalidArgumentError(f"labels must be distinct, got {sel}")
        return sel
    return [c for c in _class_list(classes) if include_background or c != 0]


def confusion_counts(
    pred: Any,
    target: Any,
    *,
    n_classes: int | None = None,
    ignore_label: int | None = None,
) -> ConfusionCounts:
    """Per-class TP, FP, FN, TN of a label map against a reference, in one pass.

    Parameters
    ----------
    pred, target
        Label maps of equal shape (2-D or 3-D; uint8/uint16/int32/int64 or bool).
    n_classes
        Number of classes (entries 0..n-1); default: the labels present (not counting
        ``ignore_label``) with 0 and 1, listed in ``classes``.
    ignore_label
        Target label whose voxels count nowhere (e.g. 255).

    Returns
    -------
    ConfusionCounts
        64-bit per-class counts of one pass over the voxels.

    Examples
    --------
    >>> import numpy as np
    >>> c = confusion_counts(np.array([0, 1, 1]), np.array([0, 1, 255]), ignore_label=255)
    >>> c.tp.tolist(), c.n_ignored
    ([1, 1], 1)
    """
    _, n_classes, ignore_label = _check_label_args(None, n_classes, ignore_label)
    p, t = _prepare_pair(pred, target)
    if ignore_label is not None:
        ignore_label = int(ignore_label)
    return _counts(p, t, n_classes, None, ignore_label)


def _counts(
    p: np.ndarray,
    t: np.ndarray,
    n_classes: int | None,
    labels: Sequence[int] | None,
    ignore_label: int | None,
) -> ConfusionCounts:
    classes = _classes(n_classes, labels, [(p, "pred"), (t, "target")], ignore_label)
    if ignore_label is not None and ignore_label in _class_list(classes):
        raise InvalidArgumentError(
            f"ignore_label {ignore_label} is also a class index; use a label outside the "
            "classes counted, e.g. 255"
        )
    tp, pv, tv, n_counted, n_ignored = _native.confusion_counts(
        p.reshape(-1), t.reshape(-1), classes, ignore_label
    )
    fp = pv - tp
    fn = tv - tp
    tn = np.uint64(n_counted) - tp - fp - fn
    labels_out = np.arange(classes) if isinstance(classes, int) else classes
    return ConfusionCounts(tp, fp, fn, tn, int(n_counted), int(n_ignored), labels_out)


def _overlap(
    metric: str,
    pred: Any,
    target: Any,
    labels: Sequence[int] | None,
    n_classes: int | None,
    include_background: bool,
    ignore_label: int | None,
    empty: str,
    batch_axis: int | None = None,
) -> Any:
    empty = check_empty(empty, EMPTY_POLICIES)
    labels, n_classes, ignore_label = _check_label_args(labels, n_classes, ignore_label)
    p, t = _prepare_pair(pred, target)
    if batch_axis is not None:
        # One result per case: a batch is never pooled into one score.
        axis = as_int(batch_axis, "batch_axis", lo=-p.ndim, hi=p.ndim - 1) % p.ndim
        if p.ndim < 2:
            raise InvalidArgumentError(
                f"batch_axis needs label maps with a batch axis, got {p.shape}"
            )
        return [
            overlap_from_counts(
                metric,
                _counts(
                    np.ascontiguousarray(pc),
                    np.ascontiguousarray(tc),
                    n_classes,
                    labels,
                    ignore_label,
                ),
                labels,
                include_background,
                empty,
                n_classes,
            )
            for pc, tc in zip(np.moveaxis(p, axis, 0), np.moveaxis(t, axis, 0))
        ]
    if p.ndim > 3:
        raise InvalidArgumentError(
            f"pred and target have {p.ndim} axes (shape {p.shape}): a batch of label maps? "
            f"{metric} would pool it into one score; pass batch_axis=0 for one result per case "
            "(or reshape to one 2-D / 3-D map)"
        )
    counts = _counts(p, t, n_classes, labels, ignore_label)
    return overlap_from_counts(metric, counts, labels, include_background, empty, n_classes)


def overlap_from_counts(
    metric: str,
    counts: ConfusionCounts,
    labels: Sequence[int] | None,
    include_background: bool,
    empty: str,
    n_classes: int | None = None,
) -> OverlapResult:
    """Dice or IoU per class and their macro mean from confusion counts (policies checked).

    Shared by :func:`dice` / :func:`iou` and the stateful
    :class:`~medtrust.segmentation.SegmentationAccumulator`, so one map and a stream of
    batches follow the same rules. ``n_classes``: the classes were 0..n-1 by request (the
    error for a label outside them names that range).
    """
    values = counts.dice() if metric == "dice" else counts.iou()
    classes = counts.class_labels
    sel = _selected(n_classes if n_classes is not None else classes, labels, include_background)
    index = {int(c): k for k, c in enumerate(classes.tolist())}
    both_empty = (counts.tp + counts.fp + counts.fn) == 0
    per_class: dict[int, float] = {}
    empties = []
    for c in sel:
        k = index[c]
        if both_empty[k]:
            empties.append(c)
            if empty == "skip":
                continue
            per_class[c] = 1.0 if empty == "perfect" else math.nan
        else:
            per_class[c] = float(values[k])
    vals = np.array(list(per_class.values()), dtype=float)
    n_valid = int(np.sum(~np.isnan(vals)))
    value = float(np.nanmean(vals)) if n_valid else math.nan
    return OverlapResult(metric, value, per_class, tuple(empties), n_valid, empty, counts)


def dice(
    pred: Any,
    target: Any,
    *,
    labels: Sequence[int] | None = None,
    n_classes: int | None = None,
    include_background: bool = False,
    ignore_label: int | None = None,
    empty: EmptyPolicy = "nan",
    batch_axis: int | None = None,
) -> Any:
    """Dice per class (2 TP / (2 TP + FP + FN)) and its mean over the selected classes.

    Parameters
    ----------
    pred
        Predicted label map (integer classes; 0 = background), one to three axes (more only with
        ``batch_axis``).
    target
        Reference label map of the same shape as ``pred``.
    labels
        Classes to report (default: every class but 0 unless ``include_background``).
    n_classes
        Number of classes: classes ``range(n_classes)``; None: the labels present in either map plus
        0 and 1.
    include_background
        Count class 0 in the per-class values and the macro mean.
    ignore_label
        Voxels with this label in ``target`` are left out of every count (None: none).
    empty
        Classes empty in both maps: "nan" (default), "perfect" (value 1) or "skip".
    batch_axis
        Axis of a batch of maps (e.g. 0 for ``[B, Z, Y, X]``): one :class:`OverlapResult` per
        case, in a list. Maps with more than three axes and no ``batch_axis`` are refused
        rather than pooled into one score.

    Returns
    -------
    OverlapResult or list of OverlapResult
        Dice in [0, 1] per class (higher is better) and their macro mean ``.value``; a list with
        one result per case when ``batch_axis`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> dice(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)).value
    0.6666666666666666
    """
    return _overlap(
        "dice",
        pred,
        target,
        labels,
        n_classes,
        include_background,
        ignore_label,
        empty,
        batch_axis,
    )


def iou(
    pred: Any,
    target: Any,
    *,
    labels: Sequence[int] | None = None,
    n_classes: int | None = None,
    include_background: bool = False,
    ignore_label: int | None = None,
    empty: EmptyPolicy = "nan",
    batch_axis: int | None = None,
) -> Any:
    """IoU per class (TP / (TP + FP + FN)) and its mean; arguments as :func:`dice`.

    Parameters
    ----------
    pred
        Predicted label map (integer classes; 0 = background), one to three axes (more only
        with ``batch_axis``).
    target
        Reference label map of the same shape as ``pred``.
    labels
        Classes to report (default: every class counted but 0 unless ``include_background``).
    n_classes
        Number of classes: classes ``range(n_classes)``; None: the labels present in either map plus
        0 and 1.
    include_background
        Count class 0 in the per-class values and the macro mean.
    ignore_label
        Voxels with this label in ``target`` are left out of every count (None: none).
    empty
        Classes empty in both maps: ``"nan"`` (default, left out of the mean), ``"perfect"`` (value
        1) or ``"skip"`` (not reported).
    batch_axis
        Axis of a batch of maps: one result per case, in a list (see :func:`dice`).

    Returns
    -------
    OverlapResult or list of OverlapResult
        IoU in [0, 1] per class (higher is better) and their macro mean ``.value``; a list with
        one result per case when ``batch_axis`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> iou(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)).value
    0.5
    """
    return _overlap(
        "iou",
        pred,
        target,
        labels,
        n_classes,
        include_background,
        ignore_label,
        empty,
        batch_axis,
    )
