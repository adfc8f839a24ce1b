"""SIGKILL the CLI commands that write results at random moments (issue 10 item 4).

For every command: one run to completion gives the reference files and the run time T; then
lanes of runs, each lane in its own output folder, are killed at random moments in (0.1 T, T)
(several lanes in parallel to keep the wall time small: >= 20 kills per command). After every
kill, each file present must be complete (parses; PNGs end with their IEND chunk; a folder with
the completion marker holds every reference file, equal to the reference), and a final rerun in
the same folder must finish the job with the reference results.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from medtrust._io import COMPLETE_MARKER

pytestmark = pytest.mark.slow

LANES = 4
KILLS_PER_LANE = 5  # 20 kills per command
PNG_END = b"IEND\xaeB`\x82"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__import__("medtrust").__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env.update(MEDTRUST_NO_PROGRESS="1", MPLBACKEND="Agg", MEDTRUST_NUM_THREADS="1")
    return env


def _cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "medtrust.cli.main", *args]


# ----------------------------------------------------------------------------- inputs
def _selective(root: Path) -> Callable[[Path], list[str]]:
    rng = np.random.default_rng(0)
    n = 400
    c = rng.random(n)
    pl.DataFrame(
        {
            "a": c,
            "b": rng.random(n),
            "r": (rng.random(n) > c).astype(float),
            "g": rng.integers(0, 2, n),
        }
    ).write_parquet(root / "table.parquet")
    return lambda out: [
        "selective", "evaluate", str(root / "table.parquet"), "--confid", "a", "--confid", "b",
        "--residual", "r", "--by", "g", "--ci", "--n-resamples", "200",
        "--out", str(out / "res.parquet"),
    ]  # fmt: skip


def _failure(root: Path) -> Callable[[Path], list[str]]:
    from medtrust.data.failure_cases import synthetic_failure_cases

    p = synthetic_failure_cases(root / "data", n_cases=4, shape=(12, 12, 10), seed=3)
    # one domain: groups "iid" and "all" only, so two figures (rendering dominates the run)
    cases = json.loads(Path(p["domains"]).read_text())
    Path(p["domains"]).write_text(json.dumps(dict.fromkeys(cases, "iid")))
    return lambda out: [
        "failure", "evaluate", "--pred", str(p["pred"]), "--labels", str(p["labels"]),
        "--domains", str(p["domains"]), "--out", str(out), "--n-resamples", "30", "--no-progress",
    ]  # fmt: skip


def _al_query(root: Path) -> Callable[[Path], list[str]]:
    from medtrust.data.al_pool import synthetic_al_pool

    probs, _ = synthetic_al_pool(n_images=2, shape=(10, 12, 12), n_classes=3, n_members=2, seed=4)
    for m in range(2):
        d = root / "probs" / f"fold_{m}"
        d.mkdir(parents=True)
        for k, v in probs.items():
            np.save(d / f"{k}.npy", v[m])
    return lambda out: [
        "al", "query", "--probs", str(root / "probs"), "--strategy", "clasp_pe", "--size", "5",
        "--patch-size", "4", "--stride", "2", "--seed", "3", "--no-progress",
        "--out", str(out / "loop_001.json"),
    ]  # fmt: skip


def _vqa(root: Path) -> Callable[[Path], list[str]]:
    rows = [
        {
            "qid": str(i), "question": "Is this a CT?" if i % 2 else "Which organ?",
            "answer": "yes" if i % 2 else "liver", "answer_type": "closed" if i % 2 else "open",
            "split": "test" if i < 6 else "train",
            "modality": "X-Ray" if i in (2, 3, 4, 7) else "CT", "image_id": f"img{i}",
            "dataset": "toy",
        }
        for i in range(8)
    ]  # fmt: skip
    pl.DataFrame(rows).write_parquet(root / "data.parquet")
    preds = ["liver", "yes", "lung", "no", "the liver", "maybe", "liver", "yes"]
    pl.DataFrame({"qid": [str(i) for i in range(8)], "pred": preds, "seed": 0}).write_parquet(
        root / "preds.parquet"
    )
    shift = {"name": "toy", "attribute": "modality", "ood_values": ["X-Ray"], "image_level": True}
    (root / "shift.json").write_text(json.dumps(shift))
    return lambda out: [
        "vqa", "evaluate", "--data", str(root / "data.parquet"), "--pred",
        str(root / "preds.parquet"), "--shift", str(root / "shift.json"), "--out", str(out),
        "--no-judge", "--no-progress",
    ]  # fmt: skip


COMMANDS = {
    "selective evaluate": (_selective, False),
    "failure evaluate": (_failure, True),
    "al query": (_al_query, False),
    "vqa evaluate": (_vqa, True),
}


# ----------------------------------------------------------------------------- checks
def _content(path: Path) -> object:
    """Parse one result file fully (raises on a truncated or corrupt file)."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".json" or path.name == COMPLETE_MARKER:
        return json.loads(data)
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in data.decode().splitlines()]
    if path.suffix == ".png":
        import matplotlib.image as mpimg

        assert data.endswith(PNG_END), f"{path.name}: truncated PNG ({len(data)} bytes)"
        return mpimg.imread(path).shape
    return data


def _same(a: object, b: object) -> bool:
    if isinstance(a, pl.DataFrame):
        return isinstance(b, pl.DataFrame) and a.equals(b)
    return True  # JSON holds paths and versions; completeness is what counts here


def _check_folder(out: Path, reference: dict[str, object], marked: bool) -> None:
    if not out.exists():
        return
    for f in out.rglob("*"):
        if not f.is_file():
            continue
        if f.name.startswith(".") and f.name.endswith(".tmp"):
            continue  # an atomic writer's temporary, never read (begin_results removes them)
        rel = str(f.relative_to(out))
        got = _content(f)  # complete, or this raises
        assert rel in reference, f"unexpected file {rel}"
        assert _same(got, reference[rel]), f"{rel} differs from the reference run"
    if marked and (out / COMPLETE_MARKER).exists():
        present = {str(f.relative_to(out)) for f in out.rglob("*") if not f.name.startswith(".")}
        assert present == set(reference), f"marked complete but holds {sorted(present)}"


def _run_to_end(args: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(_cmd(args), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return time.perf_counter() - t0


@pytest.mark.parametrize("command", list(COMMANDS))
def test_sigkill_at_random_moments_leaves_only_complete_files(command, tmp_path):
    build, marked = COMMANDS[command]
    (tmp_path / "in").mkdir()
    argv = build(tmp_path / "in")
    ref_out = tmp_path / "reference"
    t_full = _run_to_end(argv(ref_out))
    reference = {
        str(f.relative_to(ref_out)): _content(f) for f in ref_out.rglob("*") if f.is_file()
    }
    if marked:
        assert COMPLETE_MARKER in reference
    kills: list[float] = []
    errors: list[BaseException] = []

    def lane(k: int) -> None:
        rng = random.Random(f"{command}-{k}")
        out = tmp_path / f"lane{k}"
        landed = 0
        try:
            for _ in range(3 * KILLS_PER_LANE):
                if landed == KILLS_PER_LANE:
                    break
                proc = subprocess.Popen(
                    _cmd(argv(out)), env=_env(), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(rng.uniform(0.1, 1.0) * t_full)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills.append(1.0)
                    landed += 1
                proc.wait(timeout=300)
                _check_folder(out, reference, marked)
            _run_to_end(argv(out))  # a rerun finishes the job
            _check_folder(out, reference, marked)
            assert {str(f.relative_to(out)) for f in out.rglob("*") if f.is_file()} >= set(
                reference
            )
            if marked:
                assert (out / COMPLETE_MARKER).is_file()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=lane, args=(k,)) for k in range(LANES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    # Runs that finished before their kill moment do not count (the lane then runs again).
    assert len(kills) >= LANES * KILLS_PER_LANE, f"only {len(kills)} kills landed"
