"""Pooled patch-score grids of an image's uncertainty maps (Rust kernel or torch on device).

Examples
--------
>>> import numpy as np
>>> from medtrust.active import score_grids
>>> from medtrust.uncertainty import EnsembleAccumulator
>>> acc = EnsembleAccumulator()
>>> acc.add(np.full((2, 4, 4, 4), 0.5, np.float32))
>>> grids, box, dims = score_grids(acc, [("pe", None)], patch_size=(2, 2, 2), stride=(2, 2, 2))
>>> grids.shape, box, dims, round(float(grids.max()), 4)
((1, 2, 2, 2), (2, 2, 2), (2, 2, 2), 0.6931)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medtrust import _native
from medtrust.active._common import as_triple
from medtrust.exceptions import ShapeMismatchError
from medtrust.uncertainty import EnsembleAccumulator

__all__ = ["score_grids"]


def score_grids(
    acc: EnsembleAccumulator,
    kinds: list[tuple[str, int | None]],
    *,
    patch_size: Sequence[int],
    stride: Sequence[int],
    clip: bool = True,
) -> tuple[np.ndarray, tuple[int, int, int], tuple[int, int, int]]:
    """Patch scores ``[len(kinds), gz, gy, gx]`` (float64) of uncertainty maps of one image.

    On the Rust backend the maps are computed row by row inside the pooling kernel (no
    full-volume map); on the torch backend maps and summed-area tables are computed on the
    state's device and only the score grids come back.

    Parameters
    ----------
    acc
        The image's accumulator (all members added).
    kinds
        ``(map, class)`` pairs: ``("pe", None)``, ``("mi", None)``, ``("ee", None)``,
        ``("class_pe", c)`` (``H * p_bar(c)``), as the pooling kernel names them.
    patch_size, stride, clip
        As for :func:`~medtrust.active.patch_scores`.

    Returns
    -------
    (numpy.ndarray, tuple, tuple)
        The scores, the (clipped) box size and the grid dims.
    """
    shape = acc.spatial_shape
    if shape is None or len(shape) != 3:
        raise ShapeMismatchError(f"patch scores need 3D volumes, got spatial shape {shape}")
    patch = as_triple(patch_size, "patch_size")
    st = as_triple(stride, "stride")
    eff, dims = _native.patch_grid(shape, patch, st, bool(clip))
    eff_t = (int(eff[0]), int(eff[1]), int(eff[2]))
    dims_t = (int(dims[0]), int(dims[1]), int(dims[2]))
    if acc.backend == "torch":
        # One map (and its summed-area table) on the device at a time.
        grids = np.stack([_torch_pool(acc.maps([k])[0], eff_t, st, dims_t) for k in kinds])
        return grids, eff_t, dims_t
    sum_p, sum_ent = acc.state()
    grids = _native.pool_uncertainty(
        sum_p, sum_ent, int(acc.n_classes or 0), acc.n_members, shape, kinds, patch, st, bool(clip)
    )
    return grids, eff_t, dims_t


def _torch_pool(
    m: Any, eff: tuple[int, int, int], stride: tuple[int, int, int], dims: tuple[int, int, int]
) -> np.ndarray:
    """Box means on the grid via a float64 summed-area table in torch (on the map's device)."""
    import torch

    with torch.no_grad():
        z, y, x = m.shape
        sat = torch.zeros((z + 1, y + 1, x + 1), dtype=torch.float64, device=m.device)
        sat[1:, 1:, 1:] = m.double().cumsum(0).cumsum(1).cumsum(2)
        idx = [
            torch.arange(dims[a], device=m.device) * stride[a] for a in range(3)
        ]  # grid starts per axis

        def corner(dz: int, dy: int, dx: int) -> Any:
            return sat[idx[0] + dz][:, idx[1] + dy][:, :, idx[2] + dx]

        pz, py, px = eff
        total = (
            corner(pz, py, px)
            - corner(0, py, px)
            - corner(pz, 0, px)
            - corner(pz, py, 0)
            + corner(0, 0, px)
            + corner(0, py, 0)
            + corner(pz, 0, 0)
            - corner(0, 0, 0)
        )
        means = (total / float(pz * py * px)).clamp_min(0.0)
        return means.cpu().numpy()
