"""State buffers that a dropped ensemble accumulator leaves to the next one.

A new :class:`~medtrust.uncertainty.EnsembleAccumulator` takes its state from fresh pages,
which the kernel maps and clears on first touch; a loop that creates one accumulator per image
paid that again for every image. This module keeps the buffers of the last accumulator let go
while nothing else referred to them (see :class:`DroppedBuffers`), for the next one of that
size.

>>> import numpy as np
>>> slot = DroppedBuffers()
>>> slot.keep(np.zeros(8, np.float32), np.zeros(2, np.float32))
>>> slot.take(8, 0) is None, slot.take(8, 2) is not None, slot.take(8, 2) is None
(True, True, True)
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

__all__ = ["DROPPED", "SOLE_HOLDER", "DroppedBuffers", "sole_holder_refcount"]


class DroppedBuffers:
    """Buffers of the last dropped accumulator, for the next one of the same size.

    The state buffers of the last Rust-backed accumulator dropped (or reset) while nothing
    else referred to them go to the next accumulator whose first member has their size.
    Why: fresh pages are faulted in and cleared by the kernel (`clear_page_erms`; with a new
    accumulator a call, about 14% of a [5, 4, 128^3] maps-and-patches call, which
    `benches/bench_uncertainty.py` times both ways). A kept pair pays that once per size, as
    ``reset(keep_buffers=True)`` and ``offer_buffers`` do by hand; the first member overwrites
    the sums, so a reused pair needs no clearing either. Only buffers that no array, view or
    tensor still refers to are kept (the reference count says so), so no array a caller holds
    is ever overwritten. One pair at most (the latest), of at most :attr:`MAX_BYTES`;
    ``EnsembleAccumulator.release_buffers()`` frees it.
    """

    #: The largest pair kept (bytes of both buffers).
    MAX_BYTES = 1 << 31

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pair: tuple[np.ndarray, np.ndarray] | None = None

    def keep(self, sum_p: Any, sum_ent: Any) -> None:
        """Keep a pair handed over by its only holder (``EnsembleAccumulator._drop``)."""
        with self._lock:
            self._pair = (sum_p, sum_ent)

    def take(self, n_p: int, n_ent: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The kept pair if it holds ``n_p`` and ``n_ent`` values (then no longer kept)."""
        with self._lock:
            pair = self._pair
            if pair is None or pair[0].size != n_p or pair[1].size != n_ent:
                return None
            self._pair = None
            return pair

    def release(self) -> None:
        """Forget the kept pair (its memory goes back when nothing else holds it)."""
        with self._lock:
            self._pair = None


DROPPED = DroppedBuffers()


def sole_holder_refcount() -> int:
    """What ``sys.getrefcount`` gives for an object held by one local variable only.

    2 on CPython up to 3.13 (the local and the call's argument); measured rather than assumed,
    since an interpreter that borrows the argument's reference counts one fewer, and a fixed
    2 would then take a buffer that a caller still holds for an unreferenced one.
    """
    x = np.empty(0)
    return sys.getrefcount(x)


SOLE_HOLDER = sole_holder_refcount()
