"""The Ray engine on a real local Ray cluster (``ray start --head`` on loopback).

The cluster is started by this module inside a private mount namespace in which one folder
(``blind``) is covered by an empty tmpfs: the cluster's workers cannot see what the driver (this
test process) writes there, as a node without the shared filesystem would not. Every other folder
is visible to both, like a shared filesystem. The module stops the cluster and checks, by PID,
that no Ray process of it is left.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
import yaml

pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")
ray = pytest.importorskip("ray", reason="the ray engine needs Ray (extra 'distributed')")
psutil = pytest.importorskip("psutil", reason="the kill tests find Ray workers with psutil")

from medtrust.active.loop import ExperimentConfig  # noqa: E402
from medtrust.active.loop import run_grid as run_grid_locally  # noqa: E402
from medtrust.active.loop.runner import TIMING_COLUMNS  # noqa: E402
from medtrust.data import synthetic_failure_cases  # noqa: E402
from medtrust.engine import RayEngine, run_grid, score_folder  # noqa: E402
from medtrust.exceptions import EngineError  # noqa: E402
from medtrust.failure import score_folder as score_folder_serial  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# tests/conftest.py sets the RAY_* variables (loopback only) before ray is first imported.
RAY_ENV = {k: v for k, v in os.environ.items() if k.startswith("RAY_")}

CFG = {
    "name": "raytest",
    "dataset": {"synthetic": {"n_cases": 6, "shape": [8, 24, 24]}},
    "strategies": ["clasp_pe"],
    "patch_size": [4, 8, 8],
    "query_size": 4,
    "rounds": 2,
    "pooling_stride": [1, 4, 4],
    "seeds": [0],
    "ensemble_size": 2,
    "trainer": {
        "backend": "unet",
        "iterations": 25,
        "batch_size": 1,
        "base_channels": 4,
        "patch_size": [8, 16, 16],
        "device": "cpu",
        "num_threads": 1,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_processes(temp_dir: str) -> list:
    """This cluster's processes: those naming its temp dir (GCS, raylet, agents) and their
    descendants (the workers, whose titles are ``ray::...``). Never another cluster's."""
    procs = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(temp_dir in part for part in (p.info["cmdline"] or [])):
                procs[p.pid] = p
                for c in p.children(recursive=True):
                    procs[c.pid] = c
        except psutil.Error:
            continue
    return list(procs.values())


def _stop(temp_dir: str) -> list[int]:
    """Stop a test cluster by PID (never `ray stop`, which stops every cluster of the machine);
    returns the PIDs still running afterwards."""
    procs = _cluster_processes(temp_dir)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=20)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=10)
    shutil.rmtree(temp_dir, ignore_errors=True)
    return [p.pid for p in _cluster_processes(temp_dir) if p.is_running()]


def _start(blind: Path, isolated: bool, env: dict) -> tuple[str, str]:
    """Start a head node on loopback; Ray allows its raylet 30 s to register, which a loaded
    2-core machine can miss, so a failed start is cleaned up and tried again."""
    ray_bin = str(Path(sys.executable).parent / "ray")
    # Where permitted (root), the cluster runs at a higher priority than the rest of the test
    # run, so its agents start within Ray's window even while other work loads the cores.
    boost = subprocess.run(["nice", "-n", "-10", "true"], capture_output=True).returncode == 0
    nice = "nice -n -10 " if boost else ""
    err = ""
    for _ in range(3):
        temp_dir = f"/tmp/mtray-{uuid.uuid4().hex[:8]}"  # short: Ray's socket paths are limited
        port = _free_port()
        start = (
            f"{ray_bin} start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus=2 "
            f"--include-dashboard=false --disable-usage-stats --temp-dir={temp_dir}"
        )
        if isolated:
            cmd = [
                "unshare", "-m", "--propagation", "private", "sh", "-c",
                f"mount -t tmpfs tmpfs {blind} && exec {nice}{start}",
            ]  # fmt: skip
        else:
            cmd = ["sh", "-c", nice + start]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
        if res.returncode == 0:
            return f"127.0.0.1:{port}", temp_dir
        err = res.stderr[-3000:]
        assert not _stop(temp_dir), "a failed start left processes running"
    raise AssertionError(f"the test Ray cluster did not start 3 times: {err}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    assert ray._private.ray_constants.ENABLE_RAY_CLUSTER is False, "ray imported before conftest"
    root = tmp_path_factory.mktemp("raycluster")
    blind = root / "blind"
    blind.mkdir()
    isolated = shutil.which("unshare") is not None and (
        subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"], capture_output=True
        ).returncode
        == 0
    )
    env = {**os.environ, **RAY_ENV}
    address, temp_dir = _start(blind, isolated, env)
    try:
        yield {"address": address, "root": root, "blind": blind, "isolated": isolated, "env": env}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        assert _cluster_processes(temp_dir), "no process of the test cluster was found to stop"
        left = _stop(temp_dir)
        assert not left, f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same grid run locally, in this process."""
    out = tmp_path_factory.mktemp("local")
    res = run_grid_locally(ExperimentConfig.from_dict(CFG), out)
    assert not res.failed
    return res.table.drop(TIMING_COLUMNS)


def _cli(cfg_file: Path, out: Path, address: str) -> list[str]:
    return [
        sys.executable, "-m", "medtrust.cli.main", "al", "grid", str(cfg_file),
        "--engine", "ray", "--address", address, "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _results(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "results.parquet").drop(TIMING_COLUMNS)


def _config_file(folder: Path) -> Path:
    f = folder / "exp.yaml"
    f.write_text(yaml.safe_dump(CFG))
    return f


def test_grid_on_ray_equals_local(cluster, reference):
    out = cluster["root"] / "grid"
    with RayEngine(address=cluster["address"]) as eng:
        res = run_grid(ExperimentConfig.from_dict(CFG), out, engine=eng)
    assert not res.failed and res.ran == ["default/clasp_pe/seed_0"]
    assert res.table.drop(TIMING_COLUMNS).equals(reference)
    assert _results(out).equals(reference)
    # The members were trained by separate tasks and saved on the shared folder.
    model = out / "runs/default/clasp_pe/seed_0/round_001/model"
    assert sorted(p.name for p in model.iterdir()) == ["member_0", "member_1"]


def test_killed_worker_costs_only_its_member(cluster, reference):
    folder = cluster["root"] / "killworker"
    folder.mkdir()
    out = folder / "out"
    proc = subprocess.Popen(
        _cli(_config_file(folder), out, cluster["address"]),
        env=cluster["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    killed = []
    deadline = time.time() + 300
    while not killed and time.time() < deadline and proc.poll() is None:
        for p in psutil.process_iter(["pid", "cmdline", "create_time"]):
            cmd = " ".join(p.info["cmdline"] or [])
            # Ray names a worker after the task it runs; kill one in the middle of training.
            if cmd.startswith("ray::train_member") and time.time() - p.info["create_time"] > 1:
                p.send_signal(signal.SIGKILL)
                killed.append(p.info["pid"])
                break
        time.sleep(0.2)
    output = proc.communicate(timeout=600)[0].decode(errors="replace")
    assert killed, "no member-training worker was seen: " + output[-2000:]
    assert proc.returncode == 0, output[-3000:]
    assert _results(out).equals(reference)
    assert not list(out.rglob("*.tmp"))


def test_killed_driver_resumes_from_disk(cluster, reference):
    folder = cluster["root"] / "killdriver"
    folder.mkdir()
    out = folder / "out"
    cmd = _cli(_config_file(folder), out, cluster["address"])
    proc = subprocess.Popen(cmd, env=cluster["env"], stdout=subprocess.DEVNULL)
    member = out / "runs/default/clasp_pe/seed_0/round_000/model/member_0"
    deadline = time.time() + 300
    while time.time() < deadline and not member.exists() and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert member.exists() and not (out / "results.parquet").exists()
    again = subprocess.run(cmd, env=cluster["env"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert _results(out).equals(reference)
    assert not list(out.rglob("*.tmp"))


def test_worker_that_cannot_see_the_folder_fails_clearly(cluster):
    if not cluster["isolated"]:
        pytest.skip("unshare -m is not permitted here: no node can be made blind to a folder")
    out = cluster["blind"] / "exp"
    with RayEngine(address=cluster["address"]) as eng:
        with pytest.raises(EngineError, match="not visible on every Ray node"):
            run_grid(ExperimentConfig.from_dict(CFG), out, engine=eng)
        eng.check_storage(cluster["root"])  # a folder the workers see passes


def test_failure_evaluation_on_ray_equals_local(cluster):
    cases = synthetic_failure_cases(cluster["root"] / "fd", n_cases=5, shape=(14, 14, 10), seed=2)
    serial = score_folder_serial(cases["pred"], cases["labels"], cases["domains"])
    with RayEngine(address=cluster["address"]) as eng:
        table = score_folder(
            cases["pred"], cases["labels"], cases["domains"], engine=eng, batch_size=2
        )
    assert table.equals(serial)
