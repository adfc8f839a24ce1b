"""Gaussian-weighted sliding-window inference that yields the result slab by slab.

Tiles of size ``tile`` cover the volume with a relative step of ``step`` (nnU-Net's rule:
``ceil((size - tile) / (tile * step)) + 1`` evenly spaced starts per axis). Tile logits are
weighted by a Gaussian importance map (sigma = tile / 8, centre weight 1) and averaged; the
softmax is taken after stitching. Tiles are processed in order of their start along axis 0, and
rows before the next tile row's start are final, so they are emitted at once: memory is one
band of ``tile[0]`` rows, never the whole ``[C, *volume]`` logits.

Examples
--------
>>> import numpy as np
>>> from medtrust.active.trainers.inference import sliding_window_slabs, tile_starts
>>> tile_starts(10, 4, 0.5)
[0, 2, 4, 6]
>>> img = np.zeros((1, 6, 5, 5), np.float32)
>>> fn = lambda x: np.zeros((x.shape[0], 2, *x.shape[2:]), np.float32)
>>> [(z0, s.shape) for z0, s in sliding_window_slabs(fn, img, (4, 4, 4), n_classes=2)]
[(0, (2, 2, 5, 5)), (2, (2, 2, 5, 5)), (4, (2, 2, 5, 5))]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

import numpy as np

from medtrust.exceptions import InvalidArgumentError, ShapeMismatchError

__all__ = [
    "encoder_feature_map",
    "gaussian_importance",
    "sliding_window",
    "sliding_window_slabs",
    "tile_starts",
]


def tile_starts(size: int, tile: int, step: float) -> list[int]:
    """Start indices of tiles along one axis (the last tile ends at ``size``)."""
    if tile >= size:
        return [0]
    n = math.ceil((size - tile) / (tile * step)) + 1
    actual = (size - tile) / (n - 1)
    return sorted({round(actual * i) for i in range(n)})


@lru_cache(maxsize=8)
def _gaussian(tile: tuple[int, ...], sigma_scale: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    g = np.zeros(tile, np.float32)
    g[tuple(t // 2 for t in tile)] = 1.0
    g = gaussian_filter(g, [t * sigma_scale for t in tile], mode="constant", cval=0.0)
    g = (g / g.max()).astype(np.float32)
    positive = g[g > 0]
    g[g == 0] = positive.min() if positive.size else 1.0
    g.setflags(write=False)
    return g


def gaussian_importance(tile: Sequence[int], sigma_scale: float = 1.0 / 8) -> np.ndarray:
    """Gaussian importance map of a tile (max 1, no zeros)."""
    return _gaussian(tuple(int(t) for t in tile), float(sigma_scale))


def _softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over axis 0, in place (``x`` must be a float32 array the caller owns)."""
    x -= x.max(axis=0, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=0, keepdims=True)
    return x


def sliding_window_slabs(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: Sequence[int],
    *,
    n_classes: int,
    step: float = 0.5,
    gaussian: bool = True,
    batch_size: int = 1,
) -> Iterator[tuple[int, np.ndarray]]:
    """Softmax probabilities of ``image`` by sliding windows, yielded as ``(z0, slab)``.

    Parameters
    ----------
    predict
        Maps a batch ``[B, C_in, *tile]`` (float32) to logits ``[B, n_classes, *tile]``.
    image
        ``[C_in, Z, Y, X]``; axes smaller than the tile are zero-padded (and cropped back).
    tile
        Tile size per spatial axis.
    n_classes
        Number of output classes.
    step
        Tile step as a fraction of the tile size, in (0, 1].
    gaussian
        Gaussian importance weighting (otherwise a plain average).
    batch_size
        Tiles per ``predict`` call.

    Yields
    ------
    z0, probs
        Consecutive slabs ``probs[:, z0:z0 + dz]`` of shape ``[n_classes, dz, Y, X]`` (float32)
        covering the whole volume in order.
    """
    if image.ndim != 4:
        raise ShapeMismatchError(f"image must be [C_in, Z, Y, X], got shape {image.shape}")
    tile = tuple(int(t) for t in tile)
    if len(tile) != 3 or min(tile) < 1:
        raise InvalidArgumentError(f"tile must be 3 positive sizes, got {tile}")
    if not 0 < step <= 1:
        raise InvalidArgumentError(f"step must lie in (0, 1], got {step}")
    shape = image.shape[1:]
    pad = [max(0, t - s) for t, s in zip(tile, shape)]
    if any(pad):
        before = [p // 2 for p in pad]
        image = np.pad(image, [(0, 0)] + [(b, p - b) for b, p in zip(before, pad)])
    else:
        before = [0, 0, 0]
    padded = image.shape[1:]
    weight = gaussian_importance(tile) if gaussian else np.ones(tile, np.float32)
    starts = [tile_starts(s, t, step) for s, t in zip(padded, tile)]
    tz = tile[0]
    _, py, px = padded
    logits = np.zeros((n_classes, tz, py, px), np.float32)  # band of rows [lo, lo + tz)
    wsum = np.zeros((tz, py, px), np.float32)
    lo = 0
    crop_y = slice(before[1], before[1] + shape[1])
    crop_x = slice(before[2], before[2] + shape[2])
    z_lo_valid, z_hi_valid = before[0], before[0] + shape[0]

    # Slabs of at most one tile step and ~256k voxels per class (bounded temporaries).
    emit_rows = max(1, min(math.ceil(tz * step), (1 << 18) // (py * px)))

    def emit(upto: int) -> Iterator[tuple[int, np.ndarray]]:
        nonlocal lo
        n = upto - lo
        if n <= 0:
            return
        for r0 in range(lo, upto, emit_rows):
            r1 = min(r0 + emit_rows, upto)
            a, b = max(r0, z_lo_valid), min(r1, z_hi_valid)
            if b > a:
                band = (
                    logits[:, a - lo : b - lo, crop_y, crop_x]
                    / wsum[a - lo : b - lo, crop_y, crop_x]
                )
                yield a - z_lo_valid, _softmax(band)
                del band
        # Shift the live rows to the front of the band, row by row (no temporary copy).
        for r in range(tz - n):
            logits[:, r] = logits[:, r + n]
            wsum[r] = wsum[r + n]
        logits[:, tz - n :] = 0
        wsum[tz - n :] = 0
        lo = upto

    zs = starts[0]
    for i, z in enumerate(zs):
        boxes = [(z, y, x) for y in starts[1] for x in starts[2]]
        for b0 in range(0, len(boxes), batch_size):
            chunk = boxes[b0 : b0 + batch_size]
            batch = np.stack(
                [image[:, a : a + tile[0], b : b + tile[1], c : c + tile[2]] for a, b, c in chunk]
            ).astype(np.float32, copy=False)
            out = np.asarray(predict(batch), dtype=np.float32)
            if out.shape != (len(chunk), n_classes, *tile):
                raise ShapeMismatchError(
                    f"predict returned shape {out.shape}, expected {(len(chunk), n_classes, *tile)}"
                )
            for (a, b, c), o in zip(chunk, out):
                r = a - lo
                logits[:, r : r + tile[0], b : b + tile[1], c : c + tile[2]] += o * weight
                wsum[r : r + tile[0], b : b + tile[1], c : c + tile[2]] += weight
        nxt = zs[i + 1] if i + 1 < len(zs) else z + tz
        yield from emit(nxt)


def sliding_window(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: Sequence[int],
    *,
    n_classes: int,
    step: float = 0.5,
    gaussian: bool = True,
    batch_size: int = 1,
) -> np.ndarray:
    """Whole-volume version of :func:`sliding_window_slabs`: ``[n_classes, Z, Y, X]``."""
    out = np.empty((n_classes, *image.shape[1:]), np.float32)
    for z0, slab in sliding_window_slabs(
        predict,
        image,
        tile,
        n_classes=n_classes,
        step=step,
        gaussian=gaussian,
        batch_size=batch_size,
    ):
        out[:, z0 : z0 + slab.shape[1]] = slab
    return out


def encoder_feature_map(
    encode: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: Sequence[int],
    stride: Sequence[int],
) -> np.ndarray:
    """Encoder features of a whole image, tile by tile, on a grid ``stride`` times coarser.

    Non-overlapping tiles (step 1, the last one ending at the border) go through ``encode``;
    each tile's features land at its start divided by ``stride`` (rounded) and overlapping
    cells are averaged. Axes smaller than the tile are zero-padded as in
    :func:`sliding_window_slabs` and the padding's cells cropped again, so the map covers the
    image: feature cell ``i`` of an axis lies over voxels ``[i * s, (i + 1) * s)``.

    Parameters
    ----------
    encode
        Maps a batch ``[1, C_in, *tile]`` (float32) to features ``[1, F, *(tile / stride)]``.
    image
        ``[C_in, Z, Y, X]``.
    tile
        Tile size per spatial axis (a multiple of ``stride``).
    stride
        Total downsampling of the encoder per axis.

    Returns
    -------
    numpy.ndarray
        float32 ``[F, ceil(Z / s_z), ceil(Y / s_y), ceil(X / s_x)]``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(64, dtype=np.float32).reshape(1, 4, 4, 4)
    >>> pool2 = lambda x: x.reshape(1, 1, 2, 2, 2, 2, 2, 2).mean(axis=(3, 5, 7))
    >>> f = encoder_feature_map(pool2, img, (4, 4, 4), (2, 2, 2))
    >>> f.shape, float(f[0, 0, 0, 0]) == float(img[0, :2, :2, :2].mean())
    ((1, 2, 2, 2), True)
    """
    if image.ndim != 4:
        raise ShapeMismatchError(f"image must be [C_in, Z, Y, X], got shape {image.shape}")
    tile = tuple(int(t) for t in tile)
    st = tuple(int(s) for s in stride)
    if len(tile) != 3 or len(st) != 3 or min(st) < 1 or any(t % s for t, s in zip(tile, st)):
        raise InvalidArgumentError(f"tile {tile} must be a multiple of the stride {st}")
    shape = image.shape[1:]
    pad = [max(0, t - s) for t, s in zip(tile, shape)]
    before = [p // 2 for p in pad]
    if any(pad):
        image = np.pad(image, [(0, 0)] + [(b, p - b) for b, p in zip(before, pad)])
    padded = image.shape[1:]
    grid = [math.ceil(n / s) for n, s in zip(padded, st)]
    cells = [t // s for t, s in zip(tile, st)]
    total: np.ndarray | None = None
    count = np.zeros(grid, np.float32)
    starts = [tile_starts(n, t, 1.0) for n, t in zip(padded, tile)]
    for z in starts[0]:
        for y in starts[1]:
            for x in starts[2]:
                part = image[None, :, z : z + tile[0], y : y + tile[1], x : x + tile[2]]
                f = np.asarray(encode(np.ascontiguousarray(part, np.float32)), np.float32)[0]
                if total is None:
                    total = np.zeros((f.shape[0], *grid), np.float32)
                # a start that is not a multiple of the stride lands on the nearest cell
                c = [min(round(a / s), g - n) for a, s, g, n in zip((z, y, x), st, grid, cells)]
                sl = tuple(slice(a, a + n) for a, n in zip(c, cells))
                total[(slice(None), *sl)] += f
                count[sl] += 1.0
    assert total is not None
    total /= np.maximum(count, 1.0)
    lo = [b // s for b, s in zip(before, st)]
    hi = [max(math.ceil((b + n) / s), a + 1) for b, n, s, a in zip(before, shape, st, lo)]
    return np.ascontiguousarray(total[:, lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
