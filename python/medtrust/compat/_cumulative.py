"""MONAI-style cumulative metric base: ``__call__`` buffers per-item scores, ``aggregate`` reduces.

Behaves as MONAI's ``CumulativeIterationMetric``: inputs are a batch-first tensor or a list of
channel-first tensors; each call returns the ``[B, C]`` scores of that iteration and appends
them to a buffer; ``get_buffer()`` concatenates every rank's buffer (``torch.distributed``
all-gather when a process group of more than one rank is initialised), ``reset()`` empties it.

Examples
--------
>>> import torch
>>> class Ones(CumulativeMetric):
...     def _compute_tensor(self, y_pred, y, **kwargs):
...         return torch.ones(y_pred.shape[0], 1)
>>> m = Ones(); _ = m(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)); len(m)
2
"""

from __future__ import annotations

from typing import Any

import torch

from medtrust.compat._tensors import metric_reduction
from medtrust.exceptions import DTypeError, InvalidArgumentError

__all__ = ["CumulativeMetric"]


def _gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` over every rank when a multi-rank process group is up."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return t
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, t.cpu())
    return torch.cat([p.to(t.device) for p in parts], dim=0)


class CumulativeMetric:
    """Buffers of per-item metric rows with MONAI's ``Cumulative`` interface."""

    reduction: Any = "mean"
    get_not_nans: bool = False

    def __init__(self) -> None:
        self._buffers: list[list[torch.Tensor]] | None = None
        self._synced: list[torch.Tensor] | None = None

    def __str__(self) -> str:
        return self.__class__.__name__

    # -- buffers --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty the buffers."""
        self._buffers = None
        self._synced = None

    def extend(self, *data: Any) -> None:
        """Add a batch (batch-first tensor or list of rows) to each buffer."""
        if self._buffers is None:
            self._buffers = [[] for _ in data]
        for buf, d in zip(self._buffers, data):
            t = d if isinstance(d, torch.Tensor) else torch.as_tensor(d)
            if t.ndim == 0:
                raise DTypeError("extend() takes batch-first data; use append() for one value")
            buf.extend(t.unbind(0))
        self._synced = None

    def append(self, *data: Any) -> None:
        """Add one item to each buffer."""
        if self._buffers is None:
            self._buffers = [[] for _ in data]
        for buf, d in zip(self._buffers, data):
            buf.append(d if isinstance(d, torch.Tensor) else torch.as_tensor(d))
        self._synced = None

    def _sync(self) -> None:
        if self._synced is None and self._buffers is not None:
            self._synced = [_gather(torch.stack(b, dim=0)) for b in self._buffers]

    def __len__(self) -> int:
        self._sync()
        return 0 if self._synced is None else max(len(x) for x in self._synced)

    def get_buffer(self) -> Any:
        """The buffered rows of every rank (one tensor, or a list with several buffers)."""
        self._sync()
        if self._synced is None:
            return None
        out = [x.detach().clone() for x in self._synced]
        return out[0] if len(out) == 1 else out

    # -- iteration ------------------------------------------------------------------------------
    def __call__(self, y_pred: Any, y: Any = None, **kwargs: Any) -> Any:
        """Scores of one iteration (``[B, C]``), also appended to the buffer."""
        if isinstance(y_pred, (list, tuple)) or isinstance(y, (list, tuple)):
            if y is None or len(y_pred) != len(y):
                raise InvalidArgumentError("y_pred and y lists must have the same length")
            rows = [
                self._compute_tensor(p.detach()[None], t.detach()[None], **kwargs)
                for p, t in zip(y_pred, y)
            ]
            out = torch.cat(rows, dim=0)
        elif isinstance(y_pred, torch.Tensor):
            yy = y.detach() if isinstance(y, torch.Tensor) else y
            out = self._compute_tensor(y_pred.detach(), yy, **kwargs)
        else:
            raise DTypeError(
                "y_pred must be a batch-first tensor or a list of channel-first tensors, "
                f"got {type(y_pred).__name__}"
            )
        self.extend(out)
        return out

    def _compute_tensor(self, y_pred: torch.Tensor, y: Any, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError

    def aggregate(self, reduction: Any = None) -> Any:
        """Reduce the buffer (``reduction`` defaults to the constructor's), NaN skipped."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise InvalidArgumentError("nothing to aggregate: call the metric on data first")
        f, not_nans = metric_reduction(data, reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f
