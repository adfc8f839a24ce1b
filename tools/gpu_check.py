"""CUDA checks and timings, run on a GPU machine (not part of `make test`).

Usage (on a machine with CUDA and the medtrust wheel installed)::

    python tools/gpu_check.py OUT_DIR

Checks that the device paths give the CPU numbers (uncertainty maps, patch scores, query
selection), and times: streaming 5 members of a KiTS-size [4, 160, 256, 256] volume on the GPU
vs the Rust CPU path, a full ClaSP PE query from CUDA tensors, and one AL round (train + query)
of the built-in 3D U-Net on CUDA. Writes OUT_DIR/gpu_report.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: "cuda" on the GPU machine; "cpu" smoke-tests the script's calls anywhere.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _softmax_members(m, c, shape, device, seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    for _ in range(m):
        logits = torch.randn((c, *shape), generator=g, device=device)
        yield torch.softmax(logits * 2.0, dim=0)


def check_uncertainty(report: dict) -> None:
    """Device maps equal the Rust maps; time 5 KiTS-size members on the device and on CPU."""
    from medtrust.uncertainty import EnsembleAccumulator

    shape, c, m = (48, 96, 96), 4, 3
    gpu, cpu = EnsembleAccumulator(), EnsembleAccumulator()
    for p in _softmax_members(m, c, shape, DEVICE):
        gpu.add(p)
        cpu.add(p.cpu().numpy())
    diffs = {}
    for name in ("predictive_entropy", "expected_entropy", "mutual_information", "max_prob"):
        a = getattr(gpu, name)()
        assert a.device.type == DEVICE, name
        diffs[name] = float(np.abs(a.cpu().numpy() - getattr(cpu, name)()).max())
    a = gpu.class_weighted_entropy(1).cpu().numpy()
    diffs["class_weighted_entropy"] = float(np.abs(a - cpu.class_weighted_entropy(1)).max())
    report["uncertainty_max_abs_diff_cuda_vs_rust"] = diffs
    assert max(diffs.values()) < 1e-5, diffs

    # KiTS-like cropped volume, 5 members streamed.
    shape = (160, 256, 256)
    members = list(_softmax_members(5, 4, shape, DEVICE, seed=1))
    _sync()
    t0 = time.perf_counter()
    acc = EnsembleAccumulator()
    for p in members:
        acc.add(p)
    pe = acc.predictive_entropy()
    _sync()
    report["uncertainty_5x[4,160,256,256]_cuda_s"] = time.perf_counter() - t0
    host = [p.cpu().numpy() for p in members]
    del members
    t0 = time.perf_counter()
    acc2 = EnsembleAccumulator()
    for p in host:
        acc2.add(p)
    pe2 = acc2.predictive_entropy()
    report["uncertainty_5x[4,160,256,256]_rust_cpu_s"] = time.perf_counter() - t0
    report["uncertainty_kits_max_abs_diff"] = float(np.abs(pe.cpu().numpy() - pe2).max())


def check_query(report: dict) -> None:
    """Queries from device tensors choose the same patches as from host arrays."""
    from medtrust.active import Pool, get_strategy

    shape = (64, 128, 128)
    probs_gpu = {
        f"img{i}": list(_softmax_members(3, 4, shape, DEVICE, seed=10 + i)) for i in range(2)
    }
    probs_cpu = {k: [p.cpu().numpy() for p in v] for k, v in probs_gpu.items()}
    out = {}
    for name in ("pe", "bald", "power_bald", "clasp_pe"):
        strat = get_strategy(name, patch_size=(16, 32, 32), stride=(4, 8, 8))
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
            "dataset": {"synthetic": {"n_cases": 8, "shape": [32, 96, 96], "seed": 0}},
            "strategies": ["clasp_pe"],
            "patch_size": [8, 24, 24],
            "query_size": 10,
            "rounds": 2,
            "pooling_stride": [2, 6, 6],
            "seeds": [0],
            "ensemble_size": 2,
            "trainer": {"backend": "unet", "iterations": 300, "device": DEVICE, "amp": True},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = run_experiment(cfg.runs()[0], tmp)
        report["al_run_2_rounds_cuda_total_s"] = time.perf_counter() - t0
    report["al_rounds_cuda"] = table.to_dicts()


def main() -> int:
    """Run the checks named on the command line (all by default); write the report."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu"
    report: dict = {"device": name, "torch": torch.__version__}
    checks = [check_uncertainty, check_query, check_al_round]
    if len(sys.argv) > 2:  # names of the checks to run
        checks = [c for c in checks if c.__name__ in sys.argv[2:]]
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
