"""AL loop benches: peak memory of a query round, streaming vs holding all members.

A query round on one volume: M members predict softmax maps by Gaussian-weighted sliding
windows, the maps are reduced to PE / BALD / class-weighted PE, and patch scores are pooled.
medtrust streams every member slab by slab into one ``(C + 1)``-volume accumulator
(:class:`~medtrust.uncertainty.SlabAccumulator`); the plain way (as nnActive does)
holds all M members' ``[C, Z, Y, X]`` maps and reduces them with numpy.

Both run in fresh subprocesses on a volume read from a memory-mapped ``.npy`` (as the loop
does); peak *anonymous* memory (heap, not the file pages of the image) is sampled from
``/proc/self/status`` every 2 ms. The model is a per-voxel linear map (the network's memory is
"plus the model" and the same for both), so the bench measures the streaming machinery.
A KiTS-size volume (400 x 512 x 512, C = 4, M = 5) would need 8.4 GB for the plain way, more
than this shared machine may use, so both run at 1/16 of the voxels (25 x 512 x 512) and the
figures are scaled linearly (memory of both grows linearly with the voxel count). The cut is
along axis 0 only, so rows, tiles-per-row and slab chunks are those of the KiTS volume.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

KITS = (400, 512, 512)
REDUCED = (25, 512, 512)
C, M = 4, 5


def _rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


class _Peak:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_anon())
            time.sleep(0.002)

    def __enter__(self) -> _Peak:
        self._t.start()
        return self

    def __exit__(self, *a: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_anon())


def _member(m: int, n_in: int = 1):
    rng = np.random.default_rng(100 + m)
    w = rng.normal(size=(C, n_in)).astype(np.float32)
    b = rng.normal(size=C).astype(np.float32)
    return w, b


def _worker(mode: str, image_path: str, tile: tuple[int, int, int]) -> dict:
    from medtrust.active.trainers.inference import sliding_window_slabs
    from medtrust.uncertainty import SlabAccumulator

    try:  # the query side's Rust pooling (imported before the baseline is taken)
        from medtrust.active import score_grids
    except ImportError:  # pragma: no cover - query side not installed: maps one at a time
        score_grids = None
    from medtrust.active.trainers.inference import gaussian_importance

    gaussian_importance(tile)  # imports scipy.ndimage before the baseline is taken
    SlabAccumulator(C, (1, 1, 1)).add(np.full((C, 1, 1, 1), 1 / C, np.float32))
    image = np.load(image_path, mmap_mode="r")
    shape = image.shape[1:]
    phases: dict[str, int] = {}
    patch, stride = (tile[0], tile[1] // 2, tile[2] // 2), (1, 8, 8)
    kinds = [("pe", None), ("mi", None)] + [("class_pe", c) for c in range(1, C)]
    base = _rss_anon()
    t0 = time.perf_counter()
    with _Peak() as pk:
        if mode == "streaming":
            acc = SlabAccumulator(C, shape)
            for m in range(M):
                w, b = _member(m)

                def predict(x, w=w, b=b):
                    return np.einsum("kc,bc...->bk...", w, x) + b[None, :, None, None, None]

                acc.add_slabs(sliding_window_slabs(predict, image, tile, n_classes=C))
            phases["after_members"] = pk.peak - base
            if score_grids is not None:
                grids = score_grids(acc, kinds, patch_size=patch, stride=stride)[0]
            else:
                grids = [float(acc.maps([k])[0].mean()) for k in kinds]
        else:  # plain numpy: all members held, then reduced
            members = np.empty((M, C, *shape), np.float32)
            for m in range(M):
                w, b = _member(m)
                logits = np.einsum("kc,c...->k...", w, np.asarray(image)) + b[:, None, None, None]
                logits -= logits.max(0)
                np.exp(logits, out=logits)
                logits /= logits.sum(0)
                members[m] = logits
                del logits
            pbar = members.mean(0)
            pe = -(pbar * np.log(np.maximum(pbar, 1e-30))).sum(0)
            ee = np.zeros(shape, np.float32)
            for m in range(M):
                ee -= (members[m] * np.log(np.maximum(members[m], 1e-30))).sum(0) / M
            maps = [pe, pe - ee] + [pe * pbar[c] for c in range(1, C)]
            grids = [float(x.mean()) for x in maps]
    return {
        "mode": mode,
        "peak_bytes": pk.peak - base,
        "seconds": time.perf_counter() - t0,
        "phases": phases,
        "voxels": int(np.prod(shape)),
        "checksum": float(np.sum(grids)),
    }


def _run(mode: str, image_path: Path, tile: tuple[int, int, int]) -> dict:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import json, bench_al_loop as b; "
        f"print(json.dumps(b._worker({mode!r}, {str(image_path)!r}, {tile!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark(group="al_loop")
def test_query_round_peak_memory_streaming_vs_all_members(ratio):
    with tempfile.TemporaryDirectory() as tmp:
        img = np.random.default_rng(0).normal(size=(1, *REDUCED)).astype(np.float32)
        path = Path(tmp) / "image.npy"
        np.save(path, img)
        del img
        tile = (4, 128, 128)  # tile rows / volume rows as KiTS' 64 / 400
        ours = _run("streaming", path, tile)
        plain = _run("all_members", path, tile)
    v = ours["voxels"]
    scale = int(np.prod(KITS)) / v
    bound = (C + 3) * v * 4
    held = M * C * v * 4
    gib = 1024**3
    print(
        f"\nquery round, {REDUCED} x C={C} x M={M} (1/{scale:.0f} of KiTS):"
        f"\n  streaming   peak {ours['peak_bytes'] / gib:.3f} GiB ({ours['seconds']:.1f} s; "
        f"{ours['phases'].get('after_members', 0) / gib:.3f} GiB before pooling)"
        f"\n  all members peak {plain['peak_bytes'] / gib:.3f} GiB ({plain['seconds']:.1f} s)"
        f"\n  bound (C+3)*V*4 = {bound / gib:.3f} GiB; M*C*V*4 = {held / gib:.3f} GiB"
        f"\n  scaled to KiTS {KITS}: streaming {ours['peak_bytes'] * scale / gib:.2f} GiB, "
        f"all members {plain['peak_bytes'] * scale / gib:.2f} GiB, bound "
        f"{bound * scale / gib:.2f} GiB"
    )
    ratio(
        "al query round peak memory (all members / streaming)",
        ours["peak_bytes"] / 1e9,
        plain["peak_bytes"] / 1e9,
        target=None,
        unit="GB-as-seconds",
    )
    ratio(
        "al query round time, streaming vs all members",
        ours["seconds"],
        plain["seconds"],
        target=None,
    )
    assert ours["peak_bytes"] < bound
    assert plain["peak_bytes"] > 0.9 * held


@pytest.mark.benchmark(group="al_loop")
def test_sliding_window_vs_plain_torch(benchmark, ratio):
    """Slab-streaming sliding window vs the plain whole-volume torch stitching, same network."""
    torch = pytest.importorskip("torch")
    from itertools import product

    from medtrust.active.trainers.inference import gaussian_importance, tile_starts
    from medtrust.active.trainers.unet import UNetPredictor, UNetSettings, build_unet, plan_unet

    torch.manual_seed(0)
    tile = (16, 64, 64)
    plan = plan_unet(tile, (3.0, 1.0, 1.0), in_channels=1, n_classes=C, base_channels=8)
    model = build_unet(plan).eval()
    # No test-time mirroring (the eval default, nnU-Net's 8 flips): the plain baseline below
    # stitches one pass per tile, step 0.5, as the eval mode does.
    pred = UNetPredictor(model, plan, UNetSettings(device="cpu", mirroring=False))
    img = np.random.default_rng(0).normal(size=(1, 24, 112, 112)).astype(np.float32)

    def ours():
        return np.concatenate([s for _, s in pred.predict_array_slabs(img)], axis=1)

    def plain():
        shape = img.shape[1:]
        g = torch.from_numpy(np.array(gaussian_importance(tile)))
        out = torch.zeros((C, *shape))
        wsum = torch.zeros(shape)
        x = torch.from_numpy(img)
        starts = [tile_starts(s, t, 0.5) for s, t in zip(shape, tile)]
        with torch.inference_mode():
            for z, y, xx in product(*starts):
                sl = (slice(z, z + tile[0]), slice(y, y + tile[1]), slice(xx, xx + tile[2]))
                out[(slice(None), *sl)] += model(x[(slice(None), *sl)][None])[0] * g
                wsum[sl] += g
        return torch.softmax(out / wsum, 0).numpy()

    np.testing.assert_allclose(ours(), plain(), atol=1e-4)
    t_plain = min(_time(plain) for _ in range(2))
    benchmark.pedantic(ours, rounds=2, iterations=1)
    t_ours = benchmark.stats.stats.min
    ratio("al sliding window 24x112x112 (plain torch / medtrust)", t_ours, t_plain, target=None)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
