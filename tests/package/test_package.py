import threading
import time

import numpy as np
import pytest

import medtrust
from medtrust import _native
from medtrust.exceptions import InternalError, MedtrustError


def test_version_matches_cargo_workspace():
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[2]
    cargo = tomllib.loads((root / "Cargo.toml").read_text())
    assert medtrust.__version__ == cargo["workspace"]["package"]["version"]
    assert _native.__version__ == medtrust.__version__


def test_panic_becomes_internal_error_not_panic_exception():
    with pytest.raises(InternalError, match="deliberate test panic"):
        _native._panic_for_tests()


def test_core_errors_map_to_medtrust_exceptions():
    with pytest.raises(MedtrustError):
        _native.risk_metrics(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError):
        _native.risk_metrics(np.zeros(3), np.zeros(2))


def test_num_threads_positive():
    assert medtrust.num_threads() >= 1


def test_gil_is_released_during_kernels():
    # Two threads each run a long kernel; if the GIL were held they could not overlap, and a
    # pure-Python counter thread would make no progress while a kernel runs.
    rng = np.random.default_rng(0)
    c = rng.random(3_000_000)
    r = (rng.random(3_000_000) > c).astype(float)
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    start = time.perf_counter()
    _native.risk_metrics(c, r)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # The kernel takes tens of ms; the counter ticks every ~1 ms meanwhile.
    assert end - start > 0.005
    assert len(during) >= 2
