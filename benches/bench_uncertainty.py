"""Streaming ensemble uncertainty: medtrust (Rust) beside the plain numpy way, same run.

Members are generated one at a time; the numpy way holds all of them ([M, C, *spatial]) as
pipelines commonly do. Timings are noisy on a shared machine.
"""

import numpy as np
import pytest

from medtrust.uncertainty import EnsembleAccumulator

M, C, SHAPE = 5, 4, (64, 128, 128)


@pytest.fixture(scope="module")
def members():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(M, C, *SHAPE)).astype(np.float32) * 3
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _numpy_maps(members):
    pbar = members.mean(axis=0)
    pe = -(pbar * np.log(np.where(pbar > 0, pbar, 1))).sum(axis=0)
    ee = np.mean([-(m * np.log(np.where(m > 0, m, 1))).sum(axis=0) for m in members], axis=0)
    return pe, pe - ee


def _medtrust_maps(members):
    acc = EnsembleAccumulator(n_classes=C)
    for m in members:
        acc.add(m)
    pe, mi = acc.maps([("pe", None), ("mi", None)])
    return pe, mi


_RESULTS: dict[str, float] = {}


@pytest.mark.benchmark(group="uncertainty")
def test_bench_medtrust(benchmark, members):
    pe, mi = benchmark(_medtrust_maps, members)
    _RESULTS["medtrust"] = benchmark.stats.stats.min
    pe_np, mi_np = _numpy_maps(members[:, :, :4])
    np.testing.assert_allclose(pe[:4], pe_np, atol=1e-4)
    np.testing.assert_allclose(mi[:4], np.maximum(mi_np, 0), atol=1e-4)


@pytest.mark.benchmark(group="uncertainty")
def test_bench_numpy(benchmark, members):
    benchmark(_numpy_maps, members)
    _RESULTS["numpy"] = benchmark.stats.stats.min


def test_ratio_uncertainty(ratio):
    if not {"medtrust", "numpy"} <= set(_RESULTS):
        pytest.skip("the two timed benches above did not both run")
    ratio(
        "PE + BALD maps, M=5 C=4 64x128x128 f32 (all members held)",
        _RESULTS["medtrust"],
        _RESULTS["numpy"],
        None,
    )
