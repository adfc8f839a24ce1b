"""Streaming ensemble uncertainty: medtrust (Rust) beside the plain numpy way, same run.

Members are generated one at a time; the numpy way holds all of them ([M, C, *spatial]) as
pipelines commonly do. Timings are noisy on a shared machine.
"""

import numpy as np
import pytest

from conftest import best_of
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


# ---------------------------------------------------------------- issue 13: maps + patch means
M13, C13, S13, P13, ST13 = 5, 4, (128, 128, 128), 32, 16


@pytest.fixture(scope="module")
def members13():
    rng = np.random.default_rng(13)
    out = np.empty((M13, C13, *S13), np.float32)
    for m in range(M13):
        logits = rng.standard_normal((C13, *S13), dtype=np.float32) * 2.0
        e = np.exp(logits - logits.max(axis=0))
        out[m] = e / e.sum(axis=0)
    return out


def _medtrust_patch_means(members, stacked=True):
    """The stack in one pass (``add_members``), or member by member as a stream."""
    from medtrust.active.grids import score_grids

    acc = EnsembleAccumulator(n_classes=C13)  # all sums kept: EE and MI are asked for
    if stacked:
        acc.add_members(members)
    else:
        for m in members:
            acc.add(m)
    grids, _, _ = score_grids(
        acc, [("pe", None), ("ee", None), ("mi", None)], patch_size=P13, stride=ST13
    )
    return grids


def _fresh_pages(members):
    """As `_medtrust_patch_means`, with no buffers kept from the previous call's accumulator."""
    EnsembleAccumulator.release_buffers()
    return _medtrust_patch_means(members)


def _torch_patch_means(members):
    """nnActive's way: full PE / EE / MI maps in torch, box means by conv3d with a ones kernel."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        t = torch.from_numpy(members)
        pbar = t.mean(0)
        pe = -torch.special.xlogy(pbar, pbar).sum(0)
        ee = -torch.special.xlogy(t, t).sum(1).mean(0)
        mi = (pe - ee).clamp_min(0)
        maps = torch.stack([pe, ee, mi])[:, None]
        w = torch.full((1, 1, P13, P13, P13), 1.0 / P13**3)
        return F.conv3d(maps, w, stride=ST13)[:, 0].double().numpy()


def test_ratio_maps_patch_means_vs_conv3d(members13, ratio, copy_bandwidth):
    ours = _medtrust_patch_means(members13)
    ref = _torch_patch_means(members13)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ours, _medtrust_patch_means(members13, stacked=False))
    t_ours = best_of(lambda: _medtrust_patch_means(members13), 3)
    t_fresh = best_of(lambda: _fresh_pages(members13), 3)
    t_stream = best_of(lambda: _medtrust_patch_means(members13, stacked=False), 3)
    t_torch = best_of(lambda: _torch_patch_means(members13), 2)
    read = members13.nbytes / copy_bandwidth["read_Bps"]
    ratio(
        "PE+EE+MI maps + 32^3 patch means, M=5 C=4 128^3 f32 stack, vs torch conv3d",
        t_ours,
        t_torch,
        6,
        bound_ms=round(read * 1e3, 1),
    )
    ratio(
        "same, the state on fresh pages each call (no dropped buffers kept), vs kept ones",
        t_ours,
        t_fresh,
        None,
    )
    ratio(
        "same, members added one at a time (a stream), vs torch conv3d",
        t_stream,
        t_torch,
        None,
    )
    ratio(
        "same vs reading the inputs once (bytes / copy bandwidth)",
        t_ours,
        4 * read,
        1.0,
        note="ratio >= 1 means within 4x of the read time",
    )
