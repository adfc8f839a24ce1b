"""Segmentation metrics and failure-detection aggregation: medtrust beside plain numpy / scipy /
torch implementations of the same definitions, in the same run.

- pairwise Dice, M = 5 uint8 label maps of 256^3, 4 classes: vs numpy per pair and class, and
  vs reading the inputs once (``max`` over a uint64 view of every member: memory bandwidth);
- HD95 + NSD of two 256^3 masks, spacing (0.8, 0.8, 2.5): vs scipy (binary erosion and
  ``distance_transform_edt``, on the joint bounding box and on the whole volume), and vs MONAI
  when installed;
- pixel confidence (MSR, PE, EE, MI) + aggregation of [M = 5, C = 4, 128^3] float32: vs torch on
  the CPU, and the peak extra memory of the pipeline (lean path: the prediction and every
  aggregate straight from the accumulator's running sums) beside the map-by-map way, measured
  in a fresh process (RSS high-water mark, with numpy's share from tracemalloc).

Timings are noisy on a shared machine; compare the groups' ratios, not absolute times.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from medtrust import failure, segmentation

N = 256
SPACING = (0.8, 0.8, 2.5)


def _ball(shape, center, radius, rng, wobble=0.12):
    g = np.ogrid[tuple(slice(0, n) for n in shape)]
    r2 = sum(((x - c) / r) ** 2 for x, c, r in zip(g, center, radius))
    phase = sum(
        np.sin(x / n * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)) for x, n in zip(g, shape)
    )
    return r2 <= (1 + wobble * phase / 3) ** 2


@pytest.fixture(scope="module")
def members():
    rng = np.random.default_rng(0)
    shape = (N, N, N)
    base = np.zeros(shape, np.uint8)
    for k, (c, r) in enumerate(
        [
            ((128, 128, 128), (70, 60, 50)),
            ((100, 150, 120), (30, 25, 20)),
            ((160, 100, 140), (20, 30, 25)),
        ],
        start=1,
    ):
        base[_ball(shape, c, r, rng)] = k
    out = []
    for _ in range(5):
        m = base.copy()
        # members disagree near the boundaries: shift each by a voxel along a random axis
        m = np.roll(m, rng.integers(-1, 2), axis=int(rng.integers(0, 3)))
        out.append(np.ascontiguousarray(m))
    return out


def _numpy_pairwise(members, classes=(1, 2, 3)):
    vals = []
    for c in classes:
        per = []
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                x, y = members[a] == c, members[b] == c
                den = x.sum() + y.sum()
                per.append(1.0 if den == 0 else 2 * np.logical_and(x, y).sum() / den)
        vals.append(np.mean(per))
    return float(np.mean(vals))


@pytest.mark.benchmark(group="pairwise_dice M=5 256^3 uint8")
def test_pairwise_medtrust(benchmark, members):
    r = benchmark(segmentation.pairwise_dice, members, labels=[1, 2, 3], n_classes=4)
    assert r.value == pytest.approx(_numpy_pairwise(members), rel=1e-12)


@pytest.mark.benchmark(group="pairwise_dice M=5 256^3 uint8")
def test_pairwise_numpy_per_pair_and_class(benchmark, members):
    benchmark.pedantic(_numpy_pairwise, args=(members,), rounds=2, iterations=1)


@pytest.mark.benchmark(group="pairwise_dice M=5 256^3 uint8")
def test_pairwise_read_once_bandwidth(benchmark, members):
    benchmark(lambda: [int(m.view(np.uint64).max()) for m in members])


@pytest.fixture(scope="module")
def masks():
    rng = np.random.default_rng(1)
    shape = (N, N, N)
    a = _ball(shape, (128, 128, 128), (90, 80, 30), rng)
    b = _ball(shape, (130, 126, 129), (88, 83, 29), rng)
    return a, b


def _scipy_hd95_nsd(a, b, spacing=SPACING, tol=2.0, crop=True):
    if crop:
        idx = np.nonzero(a | b)
        sl = tuple(slice(i.min(), i.max() + 1) for i in idx)
        a, b = a[sl], b[sl]
    ba = a & ~ndimage.binary_erosion(a, border_value=0)
    bb = b & ~ndimage.binary_erosion(b, border_value=0)
    da = ndimage.distance_transform_edt(~bb, sampling=spacing)[ba]
    db = ndimage.distance_transform_edt(~ba, sampling=spacing)[bb]
    hd95 = max(np.percentile(da, 95), np.percentile(db, 95))
    nsd = ((da <= tol).sum() + (db <= tol).sum()) / (len(da) + len(db))
    return hd95, nsd


def _medtrust_hd95_nsd(a, b, surface="voxels"):
    d = segmentation.surface_distances(a, b, spacing=SPACING, surface=surface)
    return d.hd95(), d.nsd(2.0)


_RESULTS: dict[str, float] = {}


@pytest.mark.benchmark(group="hd95+nsd 256^3")
def test_surface_medtrust_voxels(benchmark, masks):
    hd95, nsd = benchmark(_medtrust_hd95_nsd, *masks)
    _RESULTS["surface"] = benchmark.stats.stats.min
    want = _scipy_hd95_nsd(*masks)
    assert hd95 == pytest.approx(want[0], rel=1e-9) and nsd == pytest.approx(want[1], rel=1e-9)
    s = _medtrust_hd95_nsd(*masks, surface="surfels")
    print(f"\nNSD@2mm voxels {nsd:.4f} vs surfels {s[1]:.4f}; HD95 {hd95:.3f} vs {s[0]:.3f} mm")


@pytest.mark.benchmark(group="hd95+nsd 256^3")
def test_surface_medtrust_surfels(benchmark, masks):
    benchmark(_medtrust_hd95_nsd, *masks, surface="surfels")


@pytest.mark.benchmark(group="hd95+nsd 256^3")
def test_surface_scipy(benchmark, masks):
    benchmark.pedantic(_scipy_hd95_nsd, args=masks, rounds=2, iterations=1)
    _RESULTS["surface_scipy"] = benchmark.stats.stats.min


@pytest.mark.benchmark(group="hd95+nsd 256^3")
def test_surface_scipy_full_volume(benchmark, masks):
    benchmark.pedantic(_scipy_hd95_nsd, args=masks, kwargs={"crop": False}, rounds=1, iterations=1)
    _RESULTS["surface_scipy_full"] = benchmark.stats.stats.min


@pytest.mark.benchmark(group="hd95+nsd 256^3")
def test_surface_monai(benchmark, masks):
    monai_metrics = pytest.importorskip("monai.metrics", reason="MONAI not installed")
    import torch

    pa = torch.from_numpy(masks[0])[None, None]
    pb = torch.from_numpy(masks[1])[None, None]

    def run():
        hd = monai_metrics.compute_hausdorff_distance(
            pa, pb, include_background=True, percentile=95, spacing=SPACING
        )
        nsd = monai_metrics.compute_surface_dice(
            pa, pb, [2.0], include_background=True, spacing=SPACING
        )
        return hd.item(), nsd.item()

    hd95, nsd = benchmark.pedantic(run, rounds=2, iterations=1)
    _RESULTS["surface_monai"] = benchmark.stats.stats.min
    mine = _medtrust_hd95_nsd(*masks)
    assert hd95 == pytest.approx(mine[0], rel=1e-6) and nsd == pytest.approx(mine[1], rel=1e-6)


def test_ratio_surface(ratio):
    if not {"surface", "surface_scipy"} <= set(_RESULTS):
        pytest.skip("the medtrust and scipy surface benches above did not both run")
    ours = _RESULTS["surface"]
    for key, name in (
        ("surface_scipy_full", "hd95+nsd 256^3 vs scipy EDT on the whole volume"),
        ("surface_monai", "hd95+nsd 256^3 vs MONAI (torch CPU)"),
    ):
        if key in _RESULTS:
            ratio(name, ours, _RESULTS[key], None)
    ratio("hd95+nsd 256^3 vs scipy EDT on the bounding box", ours, _RESULTS["surface_scipy"], 10)


M, C, S = 5, 4, (128, 128, 128)


def _softmax_members():
    rng = np.random.default_rng(2)
    base = np.zeros(S, np.int64)
    base[_ball(S, (64, 64, 64), (40, 35, 30), rng)] = 1
    base[_ball(S, (50, 70, 60), (12, 10, 14), rng)] = 2
    base[_ball(S, (80, 50, 70), (10, 12, 9), rng)] = 3
    out = []
    for m in range(M):
        logits = np.eye(C, dtype=np.float32)[base].transpose(3, 0, 1, 2) * 4
        logits += rng.normal(size=(C, *S)).astype(np.float32) * (0.5 + 0.2 * m)
        e = np.exp(logits - logits.max(axis=0, keepdims=True))
        out.append(np.ascontiguousarray(e / e.sum(axis=0, keepdims=True), dtype=np.float32))
    return out


@pytest.fixture(scope="module")
def softmax():
    return _softmax_members()


AGGS = ("mean", "non_boundary_mean", "foreground_mean", "patch_min", "volume_weighted_mean")


def _medtrust_confidence(members):
    """The lean path: prediction and every aggregate straight from the running sums."""
    from medtrust.uncertainty import EnsembleAccumulator

    acc = EnsembleAccumulator(n_classes=C)
    for p in members:
        acc.add(p)
    pred = acc.predicted_labels()
    return failure.aggregate_ensemble(acc, pred, aggregations=AGGS, patch_size=10)


def _medtrust_confidence_maps(members):
    """The map-by-map way (public API too): mean probabilities, argmax, one map per kind."""
    from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence

    acc = EnsembleAccumulator(n_classes=C)
    for p in members:
        acc.add(p)
    pred = np.argmax(acc.mean_probs(), axis=0).astype(np.uint8)
    return {
        k: failure.aggregate(pixel_confidence(acc, k), pred, aggregations=AGGS, patch_size=10)
        for k in ("msr", "pe", "ee", "mi")
    }


def _torch_confidence(members):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        ps = [torch.from_numpy(p) for p in members]
        sum_p = torch.zeros_like(ps[0])
        sum_h = torch.zeros(S)
        for p in ps:
            sum_p += p
            sum_h += -(torch.xlogy(p, p)).sum(0)
        pbar = sum_p / len(ps)
        pe = -(torch.xlogy(pbar, pbar)).sum(0)
        ee = sum_h / len(ps)
        logc = float(np.log(C))
        maps = {"msr": pbar.max(0).values, "pe": logc - pe, "ee": logc - ee, "mi": -(pe - ee)}
        pred = pbar.argmax(0).float()[None, None]
        mx = F.max_pool3d(pred, 3, 1, 1)
        mn = -F.max_pool3d(-pred, 3, 1, 1)
        bnd = (mx != mn)[0, 0].float()  # 26-neighbourhood: an approximation of the band
        band = F.max_pool3d(bnd[None, None], 3, 1, 1)[0, 0] > 0
        fg = (pred[0, 0] > 0) & ~band
        out = {}
        for k, c in maps.items():
            mean = c.mean()
            out[k] = {
                "mean": float(mean),
                "non_boundary_mean": float(c[~band].mean()),
                "foreground_mean": float(c[fg].mean()) if fg.any() else float(mean),
                "patch_min": float(F.avg_pool3d(c[None, None], 10, 1).min()),
                "volume_weighted_mean": float(mean / max(int((pred > 0).sum()), 1)),
            }
        return out


@pytest.mark.benchmark(group="pixel confidence + aggregation M=5 C=4 128^3")
def test_confidence_medtrust(benchmark, softmax):
    got = benchmark(_medtrust_confidence, softmax)
    _RESULTS["confidence"] = benchmark.stats.stats.min
    want = _torch_confidence(softmax)
    maps = _medtrust_confidence_maps(softmax)
    for k in got:
        assert got[k] == maps[k]  # the lean path gives the map-by-map values exactly
        assert got[k]["mean"] == pytest.approx(want[k]["mean"], rel=1e-4, abs=1e-5)
        assert got[k]["patch_min"] == pytest.approx(want[k]["patch_min"], rel=1e-4, abs=1e-5)


@pytest.mark.benchmark(group="pixel confidence + aggregation M=5 C=4 128^3")
def test_confidence_medtrust_map_by_map(benchmark, softmax):
    benchmark.pedantic(_medtrust_confidence_maps, args=(softmax,), rounds=3, iterations=1)


@pytest.mark.benchmark(group="pixel confidence + aggregation M=5 C=4 128^3")
def test_confidence_torch_cpu(benchmark, softmax):
    pytest.importorskip("torch")
    benchmark.pedantic(_torch_confidence, args=(softmax,), rounds=3, iterations=1)
    _RESULTS["confidence_torch"] = benchmark.stats.stats.min


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _measure_peak(fn_name: str) -> dict[str, float]:
    """Peak extra memory of ``fn_name(members)`` once the members are in memory, in units of
    one member's probabilities: RSS high-water mark (every allocation, Rust's included) and
    numpy's share (tracemalloc). Run in a fresh process by :func:`_peak_extra`."""
    fn = globals()[fn_name]
    members = _softmax_members()
    fn([np.ascontiguousarray(m[:, :16, :16, :16]) for m in members])  # imports, thread pool
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    base = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the RSS high-water mark
    tracemalloc.start()
    fn(members)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status("VmHWM")
    one = members[0].nbytes
    return {"rss": (peak - base) / one, "numpy": traced / one}


def _peak_extra(fn_name: str) -> dict[str, float]:
    if not (sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK)):
        pytest.skip("peak memory needs Linux /proc/self/clear_refs")
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        import bench_segmentation as b
        print(json.dumps(b._measure_peak({fn_name!r})))
        """
    )
    # A fixed mmap threshold returns freed blocks to the system at once, so the RSS follows
    # the live allocations rather than what the allocator keeps cached.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_confidence_peak_memory():
    lean = _peak_extra("_medtrust_confidence")
    maps = _peak_extra("_medtrust_confidence_maps")
    _RESULTS.update(mem_lean=lean["rss"], mem_maps=maps["rss"], mem_lean_numpy=lean["numpy"])
    print(f"\npeak extra memory (x one member's probabilities): lean {lean}, map by map {maps}")
    assert lean["rss"] < 2.0, lean


def test_ratio_confidence(ratio):
    if not {"confidence", "confidence_torch"} <= set(_RESULTS):
        pytest.skip("the medtrust and torch confidence benches above did not both run")
    extra = {}
    if "mem_lean" in _RESULTS:
        extra = {
            "peak_extra_x_member": round(_RESULTS["mem_lean"], 2),
            "peak_extra_x_member_map_by_map": round(_RESULTS["mem_maps"], 2),
        }
    ratio(
        "pixel confidence + aggregation M=5 C=4 128^3 vs torch CPU",
        _RESULTS["confidence"],
        _RESULTS["confidence_torch"],
        5,
        **extra,
    )
