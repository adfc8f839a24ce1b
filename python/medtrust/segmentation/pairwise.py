"""Agreement of ensemble (or MC) members: Dice over every member pair, in one pass.

The "pairwise DSC" confidence of Zenk et al.: all pairs and classes are counted from one joint
histogram of the members' labels (never one pass per pair). Classes absent from both members
of a pair follow the ``empty=`` vocabulary of :mod:`medtrust.segmentation.policies`.

Examples
--------
>>> import numpy as np
>>> from medtrust.segmentation import pairwise_dice
>>> a = np.array([0, 1, 1, 1], np.uint8); b = np.array([0, 1, 0, 0], np.uint8)
>>> round(pairwise_dice([a, b]).value, 4)  # one pair: 2 * 1 / (3 + 1)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtrust import _native
from medtrust._arrays import as_label_map, check_same_shape, common_label_dtype, to_numpy
from medtrust.exceptions import InvalidArgumentError
from medtrust.segmentation.overlap import (
    EMPTY_POLICIES,
    _check_label_args,
    _class_list,
    _classes,
    _selected,
)
from medtrust.segmentation.policies import EmptyPolicy, check_empty

if TYPE_CHECKING:
    import polars as pl

__all__ = ["PairwiseDiceResult", "pairwise_dice"]


@dataclass(frozen=True)
class PairwiseDiceResult:
    """Mean Dice over the M(M-1)/2 member pairs, per class and averaged over classes.

    ``per_pair[p, k]`` is the Dice of pair ``pairs[p]`` for class ``classes[k]``.

    Attributes
    ----------
    value
        Mean over classes of the per-class pairwise Dice (higher = members agree).
    per_class
        Class label -> mean Dice over the member pairs.
    per_pair
        Array ``[n_pairs, n_classes]`` of Dice per pair and class.
    pairs
        Member index pairs ``(a, b)``, in the order of ``per_pair``'s rows.
    classes
        Class labels, in the order of ``per_pair``'s columns.
    n_members
        Number of members M.
    empty
        The empty-class policy used.
    """

    value: float
    per_class: dict[int, float]
    per_pair: np.ndarray
    pairs: tuple[tuple[int, int], ...]
    classes: tuple[int, ...]
    n_members: int
    empty: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict.

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        return {
            "value": self.value,
            "per_class": dict(self.per_class),
            "n_members": self.n_members,
            "empty": self.empty,
        }

    def to_frame(self) -> pl.DataFrame:
        """Rows: member_a, member_b, class, dice.

        Returns
        -------
        polars.DataFrame
            Columns ``member_a, member_b, class, dice``.
        """
        import polars as pl

        rows = [
            {"member_a": a, "member_b": b, "class": c, "dice": float(self.per_pair[p, k])}
            for p, (a, b) in enumerate(self.pairs)
            for k, c in enumerate(self.classes)
        ]
        return pl.DataFrame(rows)


def pairwise_dice(
    members: Any,
    *,
    labels: Sequence[int] | None = None,
    n_classes: int | None = None,
    include_background: bool = False,
    empty: EmptyPolicy = "perfect",
) -> PairwiseDiceResult:
    """Agreement of ensemble (or MC) members: mean Dice over all member pairs.

    All pairs and classes are counted in one pass over the voxels (a joint histogram of the
    members' labels), never one pass per pair. This is the "pairwise DSC" confidence of
    Zenk et al. (higher = members agree).

    Parameters
    ----------
    members
        M >= 2 label maps of one case: a sequence of arrays, or one array ``[M, ...]``.
    labels, n_classes, include_background
        As in :func:`dice`.
    empty
        A class absent from both members of a pair: "perfect" (default, Dice 1: members
        agreeing that a class is absent agree), "nan" (left out of the means) or "skip"
        (same as "nan" here).

    Returns
    -------
    PairwiseDiceResult
        Mean Dice in [0, 1] over the member pairs, per class and overall.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([0, 1, 1, 1], np.uint8); b = np.array([0, 1, 1, 0], np.uint8)
    >>> pairwise_dice([a, a, b]).value  # pairs: 1, 0.8, 0.8
    0.8666666666666667
    """
    empty = check_empty(empty, EMPTY_POLICIES)
    labels, n_classes, _ = _check_label_args(labels, n_classes, None)
    if isinstance(members, np.ndarray) or hasattr(members, "shape"):
        arr = to_numpy(members, "members")
        if arr.ndim < 2:
            raise InvalidArgumentError("members as one array must have shape [M, ...]")
        items = [arr[m] for m in range(arr.shape[0])]
    else:
        items = list(members)
    if len(items) < 2:
        raise InvalidArgumentError(f"pairwise_dice needs at least 2 members, got {len(items)}")
    maps = [as_label_map(m, f"members[{i}]") for i, m in enumerate(items)]
    check_same_shape(**{f"members[{i}]": m for i, m in enumerate(maps)})
    maps = common_label_dtype(*maps)
    # Classes counted: n_classes when given, else the labels present (cost follows them).
    classes = _classes(n_classes, labels, [(m, f"members[{i}]") for i, m in enumerate(maps)])
    sel = _selected(classes, labels, include_background)
    index = {c: k for k, c in enumerate(_class_list(classes))}
    cols = [index[c] for c in sel]
    vol, inter = _native.pairwise_counts([m.reshape(-1) for m in maps], classes)
    m_count = len(maps)
    pairs = tuple((a, b) for a in range(m_count) for b in range(a + 1, m_count))
    ia = np.array([a for a, _ in pairs])
    ib = np.array([b for _, b in pairs])
    den = (vol[ia][:, cols] + vol[ib][:, cols]).astype(np.float64)
    num = 2.0 * inter[:, cols].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pair = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if empty == "perfect":
        per_pair = np.where(den > 0, per_pair, 1.0)
    per_class = {}
    for k, c in enumerate(sel):
        col = per_pair[:, k]
        per_class[c] = float(np.nanmean(col)) if np.any(~np.isnan(col)) else math.nan
    vals = np.array(list(per_class.values()), dtype=float)
    value = float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else math.nan
    return PairwiseDiceResult(value, per_class, per_pair, pairs, tuple(sel), m_count, empty)
