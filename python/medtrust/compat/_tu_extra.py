"""torch-uncertainty's ``FPRx`` / ``FPR95`` and adaptive calibration error, torchmetrics-style.

Re-exported by :mod:`medtrust.compat.torch_uncertainty`. Conventions reproduced from
torch-uncertainty 0.x (the installed peer is the reference of the parity tests):

- ``FPRx(recall_level, pos_label)``: ``update(confidences, target)``; samples with
  ``target == pos_label`` are the positives, ranked by descending confidence. Thresholds are
  taken only after complete groups of tied confidences (so the value does not depend on input
  order), and the FPR is read at the first threshold whose recall reaches ``recall_level``.
  NaN (in the confidences' float dtype) when there is no positive or no negative; 0 at
  ``recall_level == 0``; otherwise a float32 ratio.
- ``AdaptiveCalibrationError(task, num_bins, norm, num_classes)`` (ACE): top-label confidences
  (binary: ``max(p, 1 - p)`` against ``round(p)``; multiclass: the row maximum against its
  arg-max) sorted ascending and cut into ``num_bins`` bins of equal count (the first ``n %
  num_bins`` bins one sample larger, as ``Tensor.tensor_split``); ``"l1"``: the
  bin-size-weighted mean of ``|accuracy - confidence|``, ``"l2"``: the square root of the
  weighted mean square (0 when that is not > 0), ``"max"``: the largest gap. With fewer samples
  than bins an empty bin makes ``"l1"`` / ``"max"`` NaN and ``"l2"`` 0, as the peer.

Ties in ACE: a tie group cut by a bin border puts its accuracies in one bin or the other by the
order ``torch.sort`` gives; the shim sorts with the same call, so it reproduces the peer on the
same input and backend (continuous confidences have no such ties).

Examples
--------
>>> import torch
>>> fpr_at_recall(torch.tensor([0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.1]),
...               torch.tensor([1, 0, 1, 0, 0, 1, 0]), recall_level=0.95, pos_label=1)
tensor(0.7500)
"""

from __future__ import annotations

from typing import Any

import torch

from medtrust.exceptions import InvalidArgumentError, InvalidValueError

__all__ = ["adaptive_calibration_error", "build_extra_classes", "fpr_at_recall"]

NORMS: tuple[str, ...] = ("l1", "l2", "max")


def fpr_at_recall(
    confidences: torch.Tensor, target: torch.Tensor, recall_level: float, pos_label: int
) -> torch.Tensor:
    """False positive rate at the first complete-tie-group threshold reaching ``recall_level``.

    Parameters
    ----------
    confidences
        Scores, higher = more likely positive (any shape; flattened).
    target
        Labels of the same number of elements; ``pos_label`` marks a positive.
    recall_level
        The recall to reach, in [0, 1].
    pos_label
        The positive label.

    Returns
    -------
    torch.Tensor
        A 0-d tensor: float32 FPR; NaN without positives or negatives.

    Examples
    --------
    >>> fpr_at_recall(torch.tensor([0.9, 0.5, 0.5, 0.1]), torch.tensor([1, 0, 1, 0]), 0.9, 1)
    tensor(0.5000)
    """
    s = confidences.flatten()
    pos = target.flatten() == pos_label
    if s.shape != pos.shape:
        raise InvalidArgumentError(
            f"confidences and target must have the same number of elements, got "
            f"{s.numel()} and {pos.numel()}"
        )
    n_pos = int(pos.sum())
    n_neg = pos.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        dtype = s.dtype if s.is_floating_point() else torch.float32
        return torch.tensor(float("nan"), dtype=dtype, device=s.device)
    if recall_level == 0:
        return torch.tensor(0.0, dtype=torch.float32, device=s.device)
    order = torch.argsort(s, descending=True, stable=True)
    s, pos = s[order], pos[order]
    # Last index of each tie group: thresholds that keep whole groups only.
    last = torch.ones_like(pos)
    last[:-1] = s[1:] != s[:-1]
    ends = torch.nonzero(last).flatten()
    tp = pos.cumsum(0)[ends]
    # The first group whose recall reaches the level; the recall is a float32 ratio compared in
    # float32, as the peer's (a level like 0.95 rounds there).
    recall = tp / n_pos
    i = int(torch.nonzero(recall >= recall_level).flatten()[0])
    fp = int(ends[i]) + 1 - int(tp[i])
    return torch.tensor(fp / n_neg, dtype=torch.float32, device=s.device)


def adaptive_calibration_error(
    confidences: torch.Tensor, accuracies: torch.Tensor, num_bins: int = 10, norm: str = "l1"
) -> torch.Tensor:
    """Adaptive (equal-count bins) calibration error of top-label confidences.

    Parameters
    ----------
    confidences
        1-D top-label confidences.
    accuracies
        1-D, 1.0 where the top label is correct.
    num_bins
        Number of equal-count bins.
    norm
        "l1" (ACE), "l2" (root mean square) or "max".

    Returns
    -------
    torch.Tensor
        A 0-d float tensor (see the module docs for NaN / 0 with fewer samples than bins).

    Examples
    --------
    >>> c = torch.tensor([0.6, 0.7, 0.8, 0.9]); a = torch.tensor([1.0, 0.0, 1.0, 1.0])
    >>> adaptive_calibration_error(c, a, num_bins=2)
    tensor(0.1500)
    """
    if norm not in NORMS:
        raise InvalidArgumentError(f"norm must be one of {NORMS}, got {norm!r}")
    n = confidences.numel()
    if n == 0:
        return torch.tensor(float("nan"), device=confidences.device)
    conf, idx = torch.sort(confidences.flatten())  # the peer's call: same order of ties
    acc = accuracies.flatten()[idx].to(torch.float64)
    q, r = divmod(n, num_bins)
    sizes = torch.full((num_bins,), q, dtype=torch.long)
    sizes[:r] += 1
    bin_of = torch.repeat_interleave(torch.arange(num_bins), sizes).to(conf.device)
    zeros = torch.zeros(num_bins, dtype=torch.float64, device=conf.device)
    cnt = sizes.to(device=conf.device, dtype=torch.float64)
    acc_bin = zeros.index_add(0, bin_of, acc) / cnt
    conf_bin = zeros.index_add(0, bin_of, conf.to(torch.float64)) / cnt
    prop = cnt / n
    gap = acc_bin - conf_bin
    if norm == "l1":
        out = torch.sum(gap.abs() * prop)
    elif norm == "l2":
        ms = torch.sum(gap**2 * prop)
        out = ms.sqrt() if bool(ms > 0) else torch.zeros((), dtype=torch.float64)
    else:
        out = gap.abs().max()
    return out.to(dtype=confidences.dtype if confidences.is_floating_point() else torch.float32)


def _check_ace_args(num_bins: Any, norm: Any, ignore_index: Any) -> None:
    if ignore_index is not None:
        raise InvalidArgumentError(
            f"torch_uncertainty option ignore_index={ignore_index!r} is not supported (the peer "
            "refuses it too)"
        )
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
        raise InvalidArgumentError(f"num_bins must be a positive integer, got {num_bins!r}")
    if norm not in NORMS:
        raise InvalidArgumentError(f"norm must be one of {NORMS}, got {norm!r}")


def build_extra_classes(metric_base: type) -> dict[str, type]:
    """``FPRx``, ``FPR95`` and the adaptive calibration classes on ``torchmetrics.Metric``.

    Parameters
    ----------
    metric_base
        ``torchmetrics.Metric``.

    Returns
    -------
    dict
        Name -> class: ``FPRx``, ``FPR95``, ``BinaryAdaptiveCalibrationError``,
        ``MulticlassAdaptiveCalibrationError``, ``AdaptiveCalibrationError`` (a factory on
        ``task``, as the peer's). States are lists with ``dist_reduce_fx="cat"``.

    Examples
    --------
    >>> from torchmetrics import Metric
    >>> m = build_extra_classes(Metric)["FPR95"](pos_label=1)
    >>> m.update(torch.tensor([0.9, 0.1]), torch.tensor([1, 0]))
    >>> m.compute()
    tensor(0.)
    """

    def cat(states: Any, device: torch.device) -> torch.Tensor:
        if isinstance(states, torch.Tensor):
            return states
        if not states:
            return torch.zeros(0, device=device)
        return torch.cat([t.reshape(-1) for t in states])

    class FPRx(metric_base):  # type: ignore[misc, valid-type]
        """FPR at ``recall_level`` recall of the positives (see :func:`fpr_at_recall`)."""

        is_differentiable = False
        higher_is_better = False
        full_state_update = False

        def __init__(self, recall_level: float, pos_label: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if not 0 <= recall_level <= 1:
                raise InvalidValueError(f"recall_level must lie in [0, 1], got {recall_level}")
            self.recall_level = recall_level
            self.pos_label = pos_label
            self.add_state("confidences", [], dist_reduce_fx="cat")
            self.add_state("targets", [], dist_reduce_fx="cat")

        def update(self, confidences: torch.Tensor, target: torch.Tensor) -> None:
            self.confidences.append(confidences)
            self.targets.append(target)

        def compute(self) -> torch.Tensor:
            return fpr_at_recall(
                cat(self.confidences, self.device),
                cat(self.targets, self.device),
                self.recall_level,
                self.pos_label,
            )

    class FPR95(FPRx):
        """``FPRx`` at 95 % recall."""

        def __init__(self, pos_label: int, **kwargs: Any) -> None:
            super().__init__(recall_level=0.95, pos_label=pos_label, **kwargs)

    class _ACE(metric_base):  # type: ignore[misc, valid-type]
        is_differentiable = False
        higher_is_better = False
        full_state_update = False

        def __init__(
            self,
            n_bins: int = 10,
            norm: str = "l1",
            ignore_index: int | None = None,
            validate_args: bool = True,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            _check_ace_args(n_bins, norm, ignore_index)
            self.n_bins = n_bins
            self.norm = norm
            self.add_state("confidences", [], dist_reduce_fx="cat")
            self.add_state("accuracies", [], dist_reduce_fx="cat")

        def _top(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            raise NotImplementedError  # each task defines its top label

        def update(self, probs: torch.Tensor, targets: torch.Tensor) -> None:
            conf, pred = self._top(probs)
            self.confidences.append(conf.float())
            self.accuracies.append((pred == targets).float())

        def compute(self) -> torch.Tensor:
            return adaptive_calibration_error(
                cat(self.confidences, self.device),
                cat(self.accuracies, self.device),
                self.n_bins,
                self.norm,
            )

    class BinaryAdaptiveCalibrationError(_ACE):
        """ACE of binary probabilities P(class 1): confidence ``max(p, 1 - p)``."""

        def _top(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.max(probs, 1 - probs), torch.round(probs)

    class MulticlassAdaptiveCalibrationError(_ACE):
        """ACE of ``[N, C]`` probabilities: the row maximum against its arg-max."""

        def __init__(
            self,
            num_classes: int,
            n_bins: int = 10,
            norm: str = "l1",
            ignore_index: int | None = None,
            validate_args: bool = True,
            **kwargs: Any,
        ) -> None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
                raise InvalidArgumentError(
                    f"num_classes must be an integer >= 2, got {num_classes!r}"
                )
            super().__init__(n_bins, norm, ignore_index, validate_args, **kwargs)
            self.num_classes = num_classes

        def _top(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            values, labels = torch.max(probs, 1)
            return values, labels

    class AdaptiveCalibrationError:
        """Factory as the peer's: ``task`` "binary" or "multiclass" picks the class."""

        def __new__(  # type: ignore[misc]
            cls,
            task: str,
            num_bins: int = 10,
            norm: str = "l1",
            num_classes: int | None = None,
            ignore_index: int | None = None,
            validate_args: bool = True,
            **kwargs: Any,
        ) -> Any:
            common: dict[str, Any] = {
                "norm": norm,
                "ignore_index": ignore_index,
                "validate_args": validate_args,
            }
            if task == "binary":
                return BinaryAdaptiveCalibrationError(num_bins, **common, **kwargs)
            if task == "multiclass":
                if not isinstance(num_classes, int):
                    raise InvalidArgumentError(
                        f"num_classes must be an integer for task='multiclass', got {num_classes!r}"
                    )
                return MulticlassAdaptiveCalibrationError(num_classes, num_bins, **common, **kwargs)
            raise InvalidArgumentError(f"task must be 'binary' or 'multiclass', got {task!r}")

    return {
        c.__name__: c
        for c in (
            FPRx,
            FPR95,
            BinaryAdaptiveCalibrationError,
            MulticlassAdaptiveCalibrationError,
            AdaptiveCalibrationError,
        )
    }
