"""Input helpers shared by the MONAI shims: tensor coercion, background drop, unsupported options.

Examples
--------
>>> import torch
>>> p, y = drop_background(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
>>> tuple(p.shape)
(1, 2, 2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medtrust.compat._tensors import reject_option

__all__ = ["as_tensor", "check_ignore_index", "drop_background"]


def check_ignore_index(ignore_index: int | None) -> None:
    if ignore_index is not None:
        reject_option("monai", "ignore_index", ignore_index, "not implemented in the shim")


def as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    return torch.as_tensor(np.asarray(x))


def drop_background(y_pred: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MONAI's ``ignore_background``: drop channel 0 of each input that has more than one."""
    return (y_pred[:, 1:] if y_pred.shape[1] > 1 else y_pred), (y[:, 1:] if y.shape[1] > 1 else y)
