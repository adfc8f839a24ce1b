"""Demo step of active learning: a starting budget and one query round per strategy.

The pool is synthetic; the table shows the foreground each query reaches (the oracle labels are
synthetic too).
"""

from __future__ import annotations

import time
from pathlib import Path

STRATEGIES = ["random", "random_fg33", "pe", "bald", "power_bald", "softrank_bald", "clasp_pe"]


def run(out: Path, *, quick: bool = False, progress: bool = False) -> list[str]:
    """Write ``active/loop_000.json`` and ``active/<strategy>/loop_001.json`` (+ candidates)."""
    import numpy as np

    from medtrust._io import atomic_write_parquet
    from medtrust.active import Pool, get_strategy
    from medtrust.data.al_pool import synthetic_al_pool

    folder = Path(out) / "active"
    folder.mkdir(parents=True, exist_ok=True)
    n_images, shape = (3, (16, 24, 24)) if quick else (6, (32, 48, 48))
    probs, labels = synthetic_al_pool(n_images=n_images, shape=shape, n_classes=4, seed=0)
    pool = Pool.from_arrays(probs, labels=labels)
    cfg = {"patch_size": 6 if quick else 8, "stride": 2, "n_patch_per_image": 10}
    size = 10 if quick else 20
    start = get_strategy("random_fg33_all_classes", **cfg).query(pool, [], size=size, seed=0)
    start.write_round(folder / "loop_000.json")
    lines = [
        "## Active learning (query strategies)",
        "",
        f"Synthetic pool: {n_images} images of {shape}, 4 classes, 3 ensemble members; starting "
        f"budget `random_fg33_all_classes` ({size} patches of {cfg['patch_size']}^3), then one "
        "query of the same size per strategy (round k = 0).",
        "",
        "| strategy | patches | foreground voxels in query | classes hit | time (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in STRATEGIES:
        t0 = time.perf_counter()
        res = get_strategy(name, **cfg).query(
            pool, list(start.patches), size=size, round_index=0, seed=0
        )
        dt = time.perf_counter() - t0
        sub = folder / name
        res.write_round(sub / "loop_001.json")
        atomic_write_parquet(sub / "loop_001.candidates.parquet", res.log.to_frame())
        voxels = np.concatenate([labels[p.image_id][p.slices].ravel() for p in res.patches])
        fg = float((voxels > 0).mean())
        hit = sorted(int(c) for c in np.unique(voxels) if c > 0)
        lines.append(f"| {name} | {len(res.patches)} | {fg:.1%} | {hit} | {dt:.2f} |")
    lines += ["", f"Round files in `{folder}` (nnActive `loop_XXX.json` format)."]
    return lines
