"""``al report`` writes nnActive's analyses (tables and figures) on an experiment folder.

The folder is built by hand (no training): per-round tables, patch tables, round files and the
label cache, with values chosen so that the tables can be checked by hand.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import kendalltau

from medtrust.active import Patch, write_round
from medtrust.active.loop.analyses import per_class_dice, seed_stability
from medtrust.active.loop.report import build_report

CLASSES = ["background", "organ", "lesion"]
GAIN = {"clasp_pe": 0.08, "pe": 0.06, "random": 0.04}


def _experiment(tmp_path):
    out = tmp_path / "exp"
    cache = out / "cache" / "Dataset900_X_abcd"
    cache.mkdir(parents=True)
    (cache / "meta.json").write_text("{}")
    gt = np.zeros((16, 16, 6), np.uint8)
    gt[4:12, 4:12, :] = 1
    gt[6:9, 6:9, 2:4] = 2
    for case in ("c0", "c1"):
        np.save(cache / f"{case}.gt.npy", gt)
    rng = np.random.default_rng(0)
    for strategy, gain in GAIN.items():
        for seed in range(3):
            run = out / "runs" / "default" / strategy / f"seed_{seed}"
            run.mkdir(parents=True)
            rows, prow = [], []
            for r in range(4):
                x = 0.1 * (r + 1)
                fgx = x * (1.5 if strategy != "random" else 1.0) + 0.01 * seed
                d = 0.3 + gain * r + 0.01 * rng.normal()
                rows.append(
                    {"setting": "default", "strategy": strategy, "seed": seed, "round": r,
                     "annotated_fraction": x, "fg_fraction": fgx, "dice_mean": d,
                     "dice_background": 0.95, "dice_organ": d + 0.1, "dice_lesion": d - 0.1,
                     "fg_voxels_organ": 100 * r, "fg_voxels_lesion": 10 * r,
                     "fg_fraction_organ": fgx, "fg_fraction_lesion": fgx / 2}
                )  # fmt: skip
                p = Patch("c0" if r % 2 else "c1", (4 * (r % 3), 4, 0), (4, 4, 6))
                write_round(run / f"loop_{r:03d}.json", [p])
                sub = gt[p.slices]
                prow.append(
                    {"setting": "default", "strategy": strategy, "seed": seed, "round": r,
                     "image_id": p.image_id, "voxels": p.volume,
                     "fg_share": float((sub > 0).mean()), "n_fg_classes": 1,
                     "voxels_organ": int((sub == 1).sum()), "voxels_lesion": int((sub == 2).sum())}
                )  # fmt: skip
            pl.DataFrame(rows).write_parquet(run / "results.parquet")
            pl.DataFrame(prow).write_parquet(run / "patches.parquet")
    return out


def test_report_writes_every_analysis(tmp_path):
    out = _experiment(tmp_path)
    rep = build_report(out, full_dice=0.9)
    for name in [
        "fg_eff_pooled", "ppm_summary", "ppm_vs_random", "seed_stability", "per_class_dice",
        "patch_stats",
    ]:  # fmt: skip
        assert rep.files[name].suffix == ".parquet" and rep.files[name].is_file(), name
    for name in ["fg_eff_fits", "ranking_cd", "per_class_dice", "patch_stats", "queries"]:
        f = out / "report" / f"{name}.png"
        assert f.is_file() and f.stat().st_size > 5000, name
    text = (out / "report" / "report.md").read_text()
    assert "FG-Eff (pooled ± SE)" in text and "**mean** (higher = better)" in text
    # ppm_vs_random: PPM entries read from the matrix (better = baseline row, strategy column).
    ppm = json.loads((out / "report" / "ppm.json").read_text())
    idx = {s: i for i, s in enumerate(ppm["strategies"])}
    m = np.array(ppm["matrix"])
    vs = pl.read_parquet(rep.files["ppm_vs_random"])
    for r in vs.iter_rows(named=True):
        assert r["better"] == m[idx["random"], idx[r["strategy"]]]
        assert r["worse"] == m[idx[r["strategy"]], idx["random"]]
    assert sorted(vs["strategy"].to_list()) == ["clasp_pe", "pe"]
    # Patch statistics: the boxes' foreground shares, recomputed from the patch tables.
    ps = pl.read_parquet(rep.files["patch_stats"])
    assert set(ps["n_patches"].to_list()) == {3}  # 3 seeds x 1 box per round
    assert ps["covers_organ"].min() >= 0 and ps["with_fg"].max() <= 1


def test_per_class_dice_and_seed_stability_oracles(tmp_path):
    out = _experiment(tmp_path)
    table = pl.concat([pl.read_parquet(f) for f in sorted((out / "runs").rglob("results.parquet"))])
    long = per_class_dice(table)
    g = table.filter((pl.col("strategy") == "pe") & (pl.col("round") == 2))
    row = long.filter(
        (pl.col("strategy") == "pe") & (pl.col("round") == 2) & (pl.col("class") == "lesion")
    ).row(0, named=True)
    assert row["dice_mean"] == pytest.approx(g["dice_lesion"].mean())
    assert row["class_fg_fraction"] == pytest.approx(g["fg_fraction_lesion"].mean())
    assert set(long["class"].to_list()) == {"organ", "lesion"}
    per_seed = pl.DataFrame(
        {"setting": ["s"] * 9, "strategy": ["a", "b", "c"] * 3,
         "seed": [0, 0, 0, 1, 1, 1, 2, 2, 2],
         "aubc": [0.5, 0.6, 0.7, 0.5, 0.6, 0.7, 0.9, 0.6, 0.1]}
    )  # fmt: skip
    st = seed_stability(per_seed)
    # All seeds: a 0.633, b 0.6, c 0.5. Without seed 2: a 0.5, b 0.6, c 0.7 (reversed).
    full = [0.6333, 0.6, 0.5]
    tau2 = kendalltau(full, [0.5, 0.6, 0.7]).statistic
    assert st.filter(pl.col("left_out_seed") == 2)["kendall_tau"][0] == pytest.approx(tau2)
    assert tau2 == pytest.approx(-1.0)
    assert st["best_all_seeds"].unique().to_list() == ["a"]


def test_report_figures_use_the_colourblind_safe_palette(tmp_path):
    # Issue 16: figures for papers in one colourblind-safe palette; the AL report drew with
    # matplotlib's default cycle (C0 = #1f77b4) before.
    import matplotlib.image as mpimg

    from medtrust._figures import OKABE_ITO

    out = _experiment(tmp_path)
    build_report(out, full_dice=0.9)
    px = (mpimg.imread(out / "report" / "curves.png")[..., :3] * 255).round().astype(int)

    def count(hex_colour):
        rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
        return int((px == rgb).all(axis=-1).sum())

    assert count(OKABE_ITO[0]) > 50 and count(OKABE_ITO[1]) > 50
    assert count("#1f77b4") == 0 and count("#ff7f0e") == 0
