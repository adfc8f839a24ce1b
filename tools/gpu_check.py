"""CUDA checks and timings, run on a GPU machine (not part of `make test`).

Usage (on a machine with CUDA and the medtrust wheel installed), one command::

    python tools/gpu_check.py OUT_DIR            # every check, full sizes
    python tools/gpu_check.py OUT_DIR --tiny     # small sizes: proves the script on a CPU
    python tools/gpu_check.py OUT_DIR --only check_clasp_kits check_grids

Every CUDA path of the package is exercised and checked against the CPU (Rust) result:
the accumulator's torch backend (add, every map, confidences, predicted labels, one member's
argmax), the device summed-area-table pooling (``score_grids``), the confidence scoring
functions on device tensors, queries from device tensors choosing the CPU's patches, a full
ClaSP PE query on a KiTS-size [5, 4, 160, 256, 256] volume from CUDA tensors timed against the
plain torch pipeline on the same GPU (mean, entropy, class-weighted maps, ``avg_pool3d``,
top-k) and against the Rust CPU path, and one AL round (train + query) of the built-in 3D U-Net.
Writes OUT_DIR/gpu_report.json (the report is rewritten after every check); exit status 1
when a check fails. Without CUDA the same calls run on the CPU (``--tiny`` keeps that quick).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: "cuda" on the GPU machine; "cpu" smoke-tests the script's calls anywhere.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

#: Sizes of the checks; ``--tiny`` swaps in :data:`TINY`.
FULL = {
    "maps_shape": (48, 96, 96),
    "kits_shape": (160, 256, 256),
    "kits_patch": 64,
    "kits_stride": 8,
    "query_shape": (64, 128, 128),
    "query_patch": (16, 32, 32),
    "query_stride": (4, 8, 8),
    "csf_n": 1_000_000,
    "al_shape": [32, 96, 96],
    "al_cases": 8,
    "al_patch": [8, 24, 24],
    "al_stride": [2, 6, 6],
    "al_iterations": 300,
}
TINY = {
    "maps_shape": (6, 10, 12),
    "kits_shape": (16, 24, 24),
    "kits_patch": 8,
    "kits_stride": 4,
    "query_shape": (12, 16, 16),
    "query_patch": (4, 8, 8),
    "query_stride": (2, 4, 4),
    "csf_n": 1000,
    "al_shape": [8, 24, 24],
    "al_cases": 4,
    "al_patch": [4, 8, 8],
    "al_stride": [2, 4, 4],
    "al_iterations": 2,
}
SIZES = dict(FULL)


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _softmax_members(m, c, shape, device, seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    for _ in range(m):
        logits = torch.randn((c, *shape), generator=g, device=device)
        yield torch.softmax(logits * 2.0, dim=0)


def _max_diff(a, b) -> float:
    a = a.cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def check_uncertainty(report: dict) -> None:
    """Every device map equals the Rust map; time 5 KiTS-size members on the device and CPU."""
    from medtrust.uncertainty import EnsembleAccumulator, argmax_labels

    shape, c, m = SIZES["maps_shape"], 4, 3
    gpu, cpu = EnsembleAccumulator(), EnsembleAccumulator()
    for p in _softmax_members(m, c, shape, DEVICE):
        gpu.add(p)
        cpu.add(p.cpu().numpy())
    assert gpu.backend == ("torch" if DEVICE == "cuda" else "rust"), gpu.backend
    diffs = {}
    for name in ("predictive_entropy", "expected_entropy", "mutual_information", "max_prob"):
        a = getattr(gpu, name)()
        diffs[name] = _max_diff(a, getattr(cpu, name)())
    diffs["class_weighted_entropy"] = _max_diff(
        gpu.class_weighted_entropy(1), cpu.class_weighted_entropy(1)
    )
    diffs["mean_probs"] = _max_diff(gpu.mean_probs(), cpu.mean_probs())
    kinds = ["msr", "pe", "ee", "mi"]
    diffs["confidence_maps"] = _max_diff(gpu.confidence_maps(kinds), cpu.confidence_maps(kinds))
    report["uncertainty_max_abs_diff_cuda_vs_rust"] = diffs
    assert max(diffs.values()) < 1e-5, diffs
    labels_same = bool(
        np.array_equal(_np(gpu.predicted_labels()), cpu.predicted_labels())
        and np.array_equal(_np(argmax_labels(p)), argmax_labels(p.cpu().numpy()))
    )
    report["uncertainty_labels_same_as_rust"] = labels_same
    assert labels_same

    # KiTS-like cropped volume, 5 members streamed.
    shape = SIZES["kits_shape"]
    members = list(_softmax_members(5, 4, shape, DEVICE, seed=1))
    _sync()
    t0 = time.perf_counter()
    acc = EnsembleAccumulator()
    for p in members:
        acc.add(p)
    pe = acc.predictive_entropy()
    _sync()
    report["uncertainty_5x[4,kits]_device_s"] = time.perf_counter() - t0
    host = [p.cpu().numpy() for p in members]
    del members
    t0 = time.perf_counter()
    acc2 = EnsembleAccumulator()
    for p in host:
        acc2.add(p)
    pe2 = acc2.predictive_entropy()
    report["uncertainty_5x[4,kits]_rust_cpu_s"] = time.perf_counter() - t0
    report["uncertainty_kits_max_abs_diff"] = _max_diff(pe, pe2)


def _np(x):
    return x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def check_grids(report: dict) -> None:
    """Device summed-area-table pooling (``score_grids``) equals the Rust pooling."""
    from medtrust.active.grids import score_grids
    from medtrust.uncertainty import EnsembleAccumulator

    shape = SIZES["query_shape"]
    gpu, cpu = EnsembleAccumulator(), EnsembleAccumulator()
    for p in _softmax_members(3, 4, shape, DEVICE, seed=5):
        gpu.add(p)
        cpu.add(p.cpu().numpy())
    kinds = [("pe", None), ("ee", None), ("mi", None), ("class_pe", 1), ("class_pe", 3)]
    opts = {"patch_size": SIZES["query_patch"], "stride": SIZES["query_stride"]}
    a, box_a, dims_a = score_grids(gpu, kinds, **opts)
    b, box_b, dims_b = score_grids(cpu, kinds, **opts)
    assert (box_a, dims_a) == (box_b, dims_b)
    report["grids_max_abs_diff_cuda_vs_rust"] = _max_diff(a, b)
    assert _max_diff(a, b) < 1e-5


def check_csf(report: dict) -> None:
    """Confidence scoring functions on device tensors equal the numpy results."""
    from medtrust.selective import csf

    g = torch.Generator(device=DEVICE).manual_seed(7)
    n = SIZES["csf_n"]
    logits = torch.randn((n, 5), generator=g, device=DEVICE) * 3
    samples = torch.randn((4, n, 5), generator=g, device=DEVICE)
    probs, sp = torch.softmax(logits, -1), torch.softmax(samples, -1)
    diffs = {}
    for name, x in [
        ("msr", probs),
        ("pe", probs),
        ("mls", logits),
        ("energy", logits),
        ("mcd_msr", sp),
        ("mcd_pe", sp),
        ("mcd_ee", sp),
        ("mcd_mi", sp),
    ]:
        out = getattr(csf, name)(x)
        assert isinstance(out, torch.Tensor) and out.device.type == DEVICE, name
        diffs[name] = _max_diff(out, getattr(csf, name)(x.cpu().numpy().astype(np.float64)))
    report["csf_max_abs_diff_device_vs_numpy"] = diffs
    assert max(diffs.values()) < 1e-4, diffs


def _torch_clasp_query(members, patch, stride, n_per_stratum):
    """The plain torch way on the members' device: maps, avg_pool3d, top-k per stratum."""
    import torch.nn.functional as F

    with torch.no_grad():
        pbar = torch.stack(members).mean(0)
        h = -torch.special.xlogy(pbar, pbar).sum(0)
        maps = torch.stack([h * pbar[c] for c in range(1, pbar.shape[0])] + [h])
        pooled = F.avg_pool3d(maps[None], kernel_size=patch, stride=stride)[0]
        top = pooled.flatten(1).topk(n_per_stratum, dim=1).indices
    return top.cpu()


def check_clasp_kits(report: dict) -> None:
    """A ClaSP PE query on a KiTS-size volume from CUDA tensors.

    Timed against the plain torch pipeline on the same device and the Rust CPU path (which
    must choose the same patches).
    """
    from medtrust.active import Pool, get_strategy

    shape, patch, stride = SIZES["kits_shape"], SIZES["kits_patch"], SIZES["kits_stride"]
    members = list(_softmax_members(5, 4, shape, DEVICE, seed=11))
    strat = get_strategy("clasp_pe", patch_size=patch, stride=stride, n_patch_per_image=32)

    def query(probs):
        return strat.query(Pool.from_arrays({"kits": probs}), [], size=20, round_index=1, seed=0)

    query(members)  # warm-up (kernels, allocator)
    _sync()
    t0 = time.perf_counter()
    q_dev = query(members)
    _sync()
    t_dev = time.perf_counter() - t0
    _torch_clasp_query(members, patch, stride, 32)
    _sync()
    t0 = time.perf_counter()
    _torch_clasp_query(members, patch, stride, 32)
    _sync()
    t_torch = time.perf_counter() - t0
    host = [p.cpu().numpy() for p in members]
    t0 = time.perf_counter()
    q_cpu = query(host)
    t_cpu = time.perf_counter() - t0
    same = [(p.image_id, tuple(p.start)) for p in q_dev.patches] == [
        (p.image_id, tuple(p.start)) for p in q_cpu.patches
    ]
    report["clasp_kits"] = {
        "shape": [5, 4, *shape],
        "patch": patch,
        "stride": stride,
        "medtrust_from_device_tensors_s": t_dev,
        "plain_torch_same_device_s": t_torch,
        "ratio_torch_over_medtrust": t_torch / t_dev,
        "medtrust_rust_cpu_s": t_cpu,
        "same_patches_device_vs_cpu": same,
        "patches": len(q_dev.patches),
    }
    assert same and len(q_dev.patches) > 0


def check_query(report: dict) -> None:
    """Queries from device tensors choose the same patches as from host arrays."""
    from medtrust.active import Pool, get_strategy

    shape = SIZES["query_shape"]
    probs_gpu = {
        f"img{i}": list(_softmax_members(3, 4, shape, DEVICE, seed=10 + i)) for i in range(2)
    }
    probs_cpu = {k: [p.cpu().numpy() for p in v] for k, v in probs_gpu.items()}
    out = {}
    for name in ("pe", "bald", "power_bald", "clasp_pe"):
        strat = get_strategy(name, patch_size=SIZES["query_patch"], stride=SIZES["query_stride"])
        t0 = time.perf_counter()
        q_gpu = strat.query(Pool.from_arrays(probs_gpu), [], size=8, round_index=1, seed=3)
        _sync()
        t_gpu = time.perf_counter() - t0
        q_cpu = strat.query(Pool.from_arrays(probs_cpu), [], size=8, round_index=1, seed=3)
        same = [tuple(map(str, (p.image_id, p.start))) for p in q_gpu.patches] == [
            tuple(map(str, (p.image_id, p.start))) for p in q_cpu.patches
        ]
        out[name] = {"same_patches_as_cpu": same, "cuda_query_s": t_gpu}
    report["query_cuda_vs_cpu"] = out


def check_al_round(report: dict) -> None:
    """Two AL rounds (train 2 U-Net members, evaluate, query) of the built-in trainer."""
    from medtrust.active.loop.config import ExperimentConfig
    from medtrust.active.loop.runner import run_experiment

    cfg = ExperimentConfig.from_dict(
        {
            "dataset": {
                "synthetic": {"n_cases": SIZES["al_cases"], "shape": SIZES["al_shape"], "seed": 0}
            },
            "strategies": ["clasp_pe"],
            "patch_size": SIZES["al_patch"],
            "query_size": 10,
            "rounds": 2,
            "pooling_stride": SIZES["al_stride"],
            "seeds": [0],
            "ensemble_size": 2,
            "trainer": {
                "backend": "unet",
                "iterations": SIZES["al_iterations"],
                "device": DEVICE,
                "amp": DEVICE == "cuda",
            },
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = run_experiment(cfg.runs()[0], tmp)
        report["al_run_2_rounds_cuda_total_s"] = time.perf_counter() - t0
    report["al_rounds_cuda"] = table.to_dicts()


CHECKS = [check_uncertainty, check_grids, check_csf, check_query, check_clasp_kits, check_al_round]


def main(argv: list[str] | None = None) -> int:
    """Run the checks (all by default, or ``--only`` names); write the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=".", help="folder of gpu_report.json")
    ap.add_argument("--tiny", action="store_true", help="small sizes (a CPU smoke test)")
    ap.add_argument("--only", nargs="+", default=None, help="names of the checks to run")
    args = ap.parse_args(argv)
    SIZES.update(TINY if args.tiny else FULL)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu"
    report: dict = {"device": name, "torch": torch.__version__, "tiny": args.tiny}
    checks = CHECKS
    if args.only:
        unknown = set(args.only) - {c.__name__ for c in CHECKS}
        if unknown:
            ap.error(f"unknown checks {sorted(unknown)}; known: {[c.__name__ for c in CHECKS]}")
        checks = [c for c in CHECKS if c.__name__ in args.only]
    for check in checks:
        t0 = time.perf_counter()
        try:
            check(report)
            report[f"{check.__name__}_ok"] = True
        except Exception as e:  # report every check, keep going
            report[f"{check.__name__}_ok"] = False
            report[f"{check.__name__}_error"] = f"{type(e).__name__}: {e}"
        report[f"{check.__name__}_wall_s"] = time.perf_counter() - t0
        (out / "gpu_report.json").write_text(json.dumps(report, indent=2, default=str))
        print(
            json.dumps({k: v for k, v in report.items() if "rounds" not in k}, default=str)[:3000]
        )
    return 0 if all(v for k, v in report.items() if k.endswith("_ok")) else 1


if __name__ == "__main__":
    sys.exit(main())
