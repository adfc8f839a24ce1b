"""Small helpers shared by the active-learning modules: seeds, stream keys, argument checks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from medtrust.exceptions import InvalidArgumentError

#: Stream codes of the non-class strata (class strata use their class index).
STRATUM_CODES = {
    "pe": 1 << 32,
    "bald": (1 << 32) + 1,
    "softrank": (1 << 32) + 2,
    "ee": (1 << 32) + 3,
}


def image_key(image_id: str) -> int:
    """A stable 63-bit key of an image id (so noise does not depend on the pool's order)."""
    digest = hashlib.blake2b(image_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def generator(seed: int, *ids: int) -> np.random.Generator:
    """A numpy Generator for the stream (seed, ids...); independent of any global state."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *ids])))


def check_seed(seed: Any, name: str = "seed") -> int:
    """A non-negative integer seed below 2**64."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be an integer, got {seed!r}")
    if not 0 <= int(seed) < 2**64:
        raise InvalidArgumentError(f"{name} must be in [0, 2**64), got {seed}")
    return int(seed)


def check_count(value: Any, name: str, *, minimum: int = 0) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    if int(value) > 2**63 - 1:  # a larger Python int overflows the kernels' integers
        raise InvalidArgumentError(f"{name} must be < 2^63, got {value}")
    return int(value)


def as_triple(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int, int]:
    """An int or a length-3 sequence of ints (z, y, x), each >= ``minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        vals = [int(value)] * 3
    elif isinstance(value, Sequence) or isinstance(value, np.ndarray):
        vals = list(value)
        if len(vals) != 3:
            raise InvalidArgumentError(f"{name} must have 3 values (z, y, x), got {value!r}")
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InvalidArgumentError(f"{name} must hold integers, got {value!r}")
        vals = [int(v) for v in vals]
    else:
        raise InvalidArgumentError(f"{name} must be an int or 3 ints (z, y, x), got {value!r}")
    if min(vals) < minimum:
        raise InvalidArgumentError(f"{name} values must be >= {minimum}, got {tuple(vals)}")
    if max(vals) > 2**31 - 1:  # a larger Python int overflows the kernels' sizes
        raise InvalidArgumentError(f"{name} values must be < 2^31, got {tuple(vals)}")
    return (vals[0], vals[1], vals[2])
