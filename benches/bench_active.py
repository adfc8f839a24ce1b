"""A full ClaSP PE query step on one KiTS-like pool image, medtrust beside the plain way.

Image: M = 5 members x C = 4 classes x 160 x 256 x 256 float32 softmax maps (840 MB), patch
64^3, stride 8, 20 patches. medtrust streams the members through the Rust accumulator, pools the
class-weighted maps with summed-area tables on the fly, noises and selects in Rust. The plain
pipeline (numpy/torch on the CPU, nnActive-style) holds all members, computes the strata maps
as full volumes, pools them with a strided avg_pool3d and builds the candidate list as Python
dicts with a greedy overlap check. Peak memory increase is read from /proc (VmHWM, reset through
/proc/self/clear_refs). Timings are noisy on a shared machine.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest

from medtrust.active import Pool, clasp_quotas, get_strategy
from medtrust.uncertainty import EnsembleAccumulator

M, C, SHAPE = 5, 4, (160, 256, 256)
PATCH, STRIDE, N_PATCHES, N_PPI = 64, 8, 20, 32
ROUND, SEED, STEPS = 1, 0, 5
V = SHAPE[0] * SHAPE[1] * SHAPE[2]
GIB = M * C * V * 4 / 2**30
_RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module")
def members():
    rng = np.random.default_rng(0)
    out = np.empty((M, C, *SHAPE), np.float32)
    for m in range(M):
        for z in range(0, SHAPE[0], 32):
            logits = rng.standard_normal((C, 32, *SHAPE[1:]), dtype=np.float32) * 2.0
            logits[1:] -= 2.0  # background dominates, as in real scans
            e = np.exp(logits - logits.max(axis=0))
            out[m, :, z : z + 32] = e / e.sum(axis=0)
    return out


def _status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def _peak_increase(fn):
    """(result, seconds, peak RSS increase in bytes) of fn()."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        ok = True
    except OSError:
        ok = False
    before = _status("VmRSS")
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = _status("VmHWM") - before if ok else float("nan")
    return out, dt, peak


# ------------------------------------------------------------------ medtrust
def medtrust_query(members):
    def source(_image_id):
        # ClaSP PE needs no members' entropies (kinds=, issue 13): one read of p per member.
        acc = EnsembleAccumulator(n_classes=C, kinds=["pe", "class_pe"])
        for m in range(M):
            acc.add(members[m])
        return acc

    pool = Pool(("img",), {"img": SHAPE}, uncertainty=source)
    strategy = get_strategy(
        "clasp_pe", patch_size=PATCH, stride=STRIDE, n_patch_per_image=N_PPI, query_steps=STEPS
    )
    return strategy.query(pool, [], size=N_PATCHES, round_index=ROUND, seed=SEED)


# ------------------------------------------------------------------ the plain way
def _overlaps(a, b):
    return all(x < y + PATCH and y < x + PATCH for x, y in zip(a, b))


def plain_query(members):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        t = torch.from_numpy(members)  # all members at once, as nnActive holds them
        pbar = t.mean(0)
        h = -torch.special.xlogy(pbar, pbar).sum(0)
        maps = torch.stack([h * pbar[c] for c in range(1, C)] + [h])  # strata maps
        pooled = F.avg_pool3d(maps[None], kernel_size=PATCH, stride=STRIDE)[0].double().numpy()
    rng = np.random.default_rng(SEED)
    beta = 100 ** (ROUND / (STEPS - 1))
    q = clasp_quotas(N_PATCHES, C - 1, N_PPI)
    strata = [f"class_{c}" for c in range(1, C)] + ["pe"]
    chosen_boxes, per_stratum = [], {s: [] for s in strata}
    for s in rng.permutation(len(strata)):
        name = strata[s]
        cands = []
        for (i, j, k), score in np.ndenumerate(pooled[s]):  # one dict per window
            key = math.log(score) + rng.gumbel() / beta if score > 0 else -math.inf
            cands.append({"coords": (i * STRIDE, j * STRIDE, k * STRIDE), "score": key})
        cands.sort(key=lambda d: d["score"], reverse=True)
        want = q["pe_candidates"] if name == "pe" else q["class_candidates"]
        for d in cands:
            if len(per_stratum[name]) >= want:
                break
            if not any(_overlaps(d["coords"], b) for b in chosen_boxes):
                chosen_boxes.append(d["coords"])
                per_stratum[name].append(d)
    requested = {s: q["per_class"] for s in strata[:-1]}
    requested["pe"] = q["pe"]
    for i in rng.choice(C - 1, size=q["remainder"], replace=False):
        requested[strata[i]] += 1
    query, rest = [], {}
    for s in strata:
        ranked = sorted(per_stratum[s], key=lambda d: d["score"], reverse=True)
        query += ranked[: requested[s]]
        rest[s] = ranked[requested[s] :]
    while len(query) < N_PATCHES and any(rest.values()):  # fill short strata round robin
        for s in strata:
            if rest[s] and len(query) < N_PATCHES:
                query.append(rest[s].pop(0))
    return query


# ------------------------------------------------------------------ benches
@pytest.mark.benchmark(group="clasp_pe query step, 5 x 4 x 160x256x256 f32")
def test_bench_medtrust_clasp_query(benchmark, members):
    (res, dt, peak) = _peak_increase(lambda: medtrust_query(members))
    # 64^3 boxes at stride-8 offsets pack a 160 x 256 x 256 image only so tightly: a few
    # strata may run short (filled from the others, logged); the query may end below 20.
    assert len(res.patches) >= 10
    limit = (C + 3) * V * 4
    benchmark.extra_info.update(
        {
            "peak_increase_MiB": peak / 2**20,
            "limit_(C+3)xVx4_MiB": limit / 2**20,
            "first_run_s": dt,
            "s_per_GiB_read": dt / GIB,
            "patches": len(res.patches),
        }
    )
    print(
        f"\nmedtrust: {dt:.2f} s, peak RSS increase {peak / 2**20:.0f} MiB "
        f"(limit (C+3) x V x 4 = {limit / 2**20:.0f} MiB), {dt / GIB:.2f} s per GiB read, "
        f"{len(res.patches)} patches"
    )
    assert peak < limit
    benchmark.pedantic(medtrust_query, args=(members,), rounds=2, iterations=1)
    _RESULTS.update(medtrust=min(dt, benchmark.stats.stats.min), peak=peak)


@pytest.mark.benchmark(group="clasp_pe query step, 5 x 4 x 160x256x256 f32")
def test_bench_plain_numpy_torch_clasp_query(benchmark, members):
    (res, dt, peak) = _peak_increase(lambda: plain_query(members))
    assert len(res) >= 10
    benchmark.extra_info.update({"peak_increase_MiB": peak / 2**20, "first_run_s": dt})
    print(
        f"\nplain numpy/torch: {dt:.2f} s, peak RSS increase {peak / 2**20:.0f} MiB, "
        f"{len(res)} patches"
    )
    benchmark.pedantic(plain_query, args=(members,), rounds=1, iterations=1)
    _RESULTS.update(plain=min(dt, benchmark.stats.stats.min))


def test_ratio_clasp_query(ratio):
    if not {"medtrust", "plain"} <= set(_RESULTS):
        pytest.skip("the two timed benches above did not both run")
    ratio(
        "clasp_pe query step, M=5 C=4 160x256x256 f32, patch 64^3 stride 8",
        _RESULTS["medtrust"],
        _RESULTS["plain"],
        10,
        peak_increase_MiB=round(_RESULTS["peak"] / 2**20, 1),
        s_per_GiB_read=round(_RESULTS["medtrust"] / GIB, 3),
    )


# ------------------------------------------- issue 13: one query image vs a lean numpy pipeline
S13, P13, ST13, N13 = (96, 192, 192), 32, 8, 20


@pytest.fixture(scope="module")
def members13():
    rng = np.random.default_rng(13)
    out = np.empty((M, C, *S13), np.float32)
    for m in range(M):
        logits = rng.standard_normal((C, *S13), dtype=np.float32) * 2.0
        logits[1:] -= 2.0
        e = np.exp(logits - logits.max(axis=0))
        out[m] = e / e.sum(axis=0)
    return out


def medtrust_query13(members, stacked=True):
    def source(_image_id):
        # ClaSP PE reads PE and the class-weighted maps only: no members' entropies. The
        # stack goes through one pass (add_members), or member by member as a stream.
        acc = EnsembleAccumulator(n_classes=C, kinds=["pe", "class_pe"])
        if stacked:
            acc.add_members(members)
        else:
            for m in range(M):
                acc.add(members[m])
        return acc

    pool = Pool(("img",), {"img": S13}, uncertainty=source)
    strategy = get_strategy(
        "clasp_pe", patch_size=P13, stride=ST13, n_patch_per_image=N_PPI, query_steps=STEPS
    )
    return strategy.query(pool, [], size=N13, round_index=ROUND, seed=SEED)


def lean_numpy_query13(members):
    """The lean numpy way: mean, entropy, class-weighted maps, float64 summed-area tables,
    strided box means and an argsort of every stratum's scores."""
    pbar = members.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(pbar > 0, pbar * np.log(pbar), 0).sum(axis=0)
    out = []
    for s in [h * pbar[c] for c in range(1, C)] + [h]:
        sat = np.zeros(tuple(n + 1 for n in s.shape))
        sat[1:, 1:, 1:] = s.astype(np.float64).cumsum(0).cumsum(1).cumsum(2)
        z, y, x = (np.arange(0, n - P13 + 1, ST13) for n in s.shape)
        a0, a1 = np.ix_(z, y, x), np.ix_(z + P13, y + P13, x + P13)
        box = (
            sat[a1[0], a1[1], a1[2]]
            - sat[a0[0], a1[1], a1[2]]
            - sat[a1[0], a0[1], a1[2]]
            - sat[a1[0], a1[1], a0[2]]
            + sat[a0[0], a0[1], a1[2]]
            + sat[a0[0], a1[1], a0[2]]
            + sat[a1[0], a0[1], a0[2]]
            - sat[a0[0], a0[1], a0[2]]
        ) / P13**3
        out.append(np.argsort(-box, axis=None, kind="stable"))
    return out


def test_ratio_clasp_query_one_image_vs_lean_numpy(members13, ratio, copy_bandwidth):
    from conftest import best_of

    res = medtrust_query13(members13)
    assert len(res.patches) >= 10
    assert list(res.patches) == list(medtrust_query13(members13, stacked=False).patches)
    t_ours = best_of(lambda: medtrust_query13(members13), 3)
    t_stream = best_of(lambda: medtrust_query13(members13, stacked=False), 3)
    t_numpy = best_of(lambda: lean_numpy_query13(members13), 1)
    read = members13.nbytes / copy_bandwidth["read_Bps"]
    ratio(
        "clasp_pe query, M=5 C=4 96x192x192 f32 stack, 32^3 stride 8, vs lean numpy",
        t_ours,
        t_numpy,
        6,
        bound_ms=round(read * 1e3, 1),
    )
    ratio(
        "same, members added one at a time (a stream), vs lean numpy",
        t_stream,
        t_numpy,
        None,
    )
    ratio(
        "same vs reading the probabilities once (bytes / copy bandwidth)",
        t_ours,
        4 * read,
        1.0,
        note="ratio >= 1 means within 4x of the read time",
    )


# ------------------------------- issue 13: one state buffer per pool, page faults paid once
N_POOL13 = 4


def _pool_query13(members, reuse):
    from medtrust.active.pool import AccumulatorSource

    ids = tuple(f"img{i}" for i in range(N_POOL13))  # the same members for every image
    src = AccumulatorSource(lambda _i: members, {"n_classes": C}, reuse_buffers=reuse)
    pool = Pool(ids, {i: S13 for i in ids}, uncertainty=src)
    strategy = get_strategy(
        "clasp_pe", patch_size=P13, stride=ST13, n_patch_per_image=N_PPI, query_steps=STEPS
    )
    return strategy.query(pool, [], size=N13, round_index=ROUND, seed=SEED)


def _faults_and_time(fn):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    return dt, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_ratio_pool_buffer_reuse(members13, ratio):
    """A ClaSP PE query over a pool of 4 images: the source hands each image's state buffers
    to the next (``reuse_buffers=True``, default) vs a new state per image."""
    a = _pool_query13(members13, True)
    b = _pool_query13(members13, False)
    assert list(a.patches) == list(b.patches)
    runs = {True: [], False: []}
    for _ in range(2):
        for reuse in (True, False):
            runs[reuse].append(_faults_and_time(lambda r=reuse: _pool_query13(members13, r)))
    t_reuse, f_reuse = min(runs[True])
    t_fresh, f_fresh = min(runs[False])
    ratio(
        f"clasp_pe query over {N_POOL13} pool images M=5 C=4 96x192x192: state buffers reused "
        "vs allocated per image",
        t_reuse,
        t_fresh,
        None,
        minor_page_faults_reused=f_reuse,
        minor_page_faults_per_image=f_fresh,
    )
    # Reported, not asserted: whether a new state per image faults its pages (C x V floats,
    # 14k pages here) depends on whether the allocator kept freed memory mapped, which varies
    # between runs of the same process history (one run: 0 faults in both modes).
    assert f_reuse <= f_fresh + C * S13[0] * S13[1] * S13[2] * 4 // 4096
