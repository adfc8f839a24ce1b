import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

pytest.importorskip("torch", reason="the AL loop's built-in trainer needs torch (extra 'torch')")

from medtrust.active.loop import ExperimentConfig, load_config, run_grid
from medtrust.active.loop.report import build_report
from medtrust.active.loop.runner import TIMING_COLUMNS
from medtrust.cli.main import main
from medtrust.exceptions import ConfigError, DatasetError

TINY = {
    "name": "tiny",
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
        "iterations": 3,
        "batch_size": 1,
        "base_channels": 4,
        "patch_size": [8, 16, 16],
        "device": "cpu",
        "num_threads": 1,
    },
}


class Interrupt(Exception):
    pass


def _cfg(**over):
    return ExperimentConfig.from_dict({**TINY, **over})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    steps = []
    res = run_grid(_cfg(), out, on_step=steps.append)
    return out, steps, res.table


def test_run_writes_state_and_table(reference):
    out, steps, table = reference
    run = out / "runs" / "default" / "clasp_pe" / "seed_0"
    assert steps[:4] == ["init", "split", "start", "labels:0"]
    assert steps[-1] == "done" and "query:0" in steps and "query:1" not in steps
    for f in [
        "run.json",
        "split.json",
        "loop_000.json",
        "loop_001.json",
        "done.json",
        "round_000/eval.json",
        "round_001/labels/labels.json",
        "round_001/model/member_1/model.pt",
        "results.parquet",
    ]:
        assert (run / f).exists(), f
    assert not list(run.rglob("*.tmp"))
    r1 = json.loads((run / "loop_001.json").read_text())["patches"]
    assert len(r1) == 4 and {"file", "coords", "size"} <= set(r1[0])
    # On disk in the paper's / nnActive's order: 4 slices through-plane, 8 x 8 in-plane.
    assert all(r["size"] == [4, 8, 8] for r in r1)
    # The full candidate lists are kept (nnActive's <strategy>_XXX.json).
    cands = json.loads((run / "clasp_pe_001.json").read_text())
    assert sum(cands["selected"]) == 4 and len(cands["patches"]) == len(cands["stratum"]) > 4
    assert (run / "random_fg33_all_classes_000.json").is_file()
    assert table.height == 2 and table["n_patches"].to_list() == [4, 8]
    assert table["annotated_voxels"].to_list() == [4 * 4 * 8 * 8, 8 * 4 * 8 * 8]
    assert (table["fg_fraction"].diff().drop_nulls() >= 0).all()
    for c in [
        "dice_mean",
        "dice_organ",
        "dice_lesion",
        "dice_vessel",
        "fg_voxels_vessel",
        "train_s",
        "eval_s",
        "query_s",
    ]:
        assert c in table.columns
    # Partial labels: ignore (= 4) outside the boxes, ground truth inside.
    import numpy as np

    labs = sorted((run / "round_000" / "labels").glob("*.npy"))
    lab = np.load(labs[0])
    assert set(np.unique(lab)) <= {0, 1, 2, 3, 4} and (lab == 4).mean() > 0.5


def test_resume_after_interruption_at_every_step_gives_the_same_table(
    reference, tmp_path, monkeypatch
):
    from medtrust.active.trainers.unet import UNetTrainer

    _, steps, ref = reference
    calls = []
    original = UNetTrainer.train_member

    def counting(self, *a, **k):
        calls.append(a[1])
        return original(self, *a, **k)

    monkeypatch.setattr(UNetTrainer, "train_member", counting)
    n_train = len([s for s in steps if s.startswith("train:")])
    expected = ref.drop(TIMING_COLUMNS)
    for i, name in enumerate(steps):
        out = tmp_path / f"kill_{i}"
        seen = []

        def stop(step, i=i, seen=seen):
            seen.append(step)
            if len(seen) == i + 1:
                raise Interrupt(step)

        with pytest.raises(Interrupt):
            run_grid(_cfg(), out, on_step=stop)
        trained_before = len([s for s in seen if s.startswith("train:")])
        calls.clear()
        table = run_grid(_cfg(), out).table
        assert table.drop(TIMING_COLUMNS).equals(expected), f"interrupted after {name}"
        # Nothing finished is redone: only the missing members are trained.
        assert len(calls) == n_train - trained_before, name


def test_killed_process_resumes(tmp_path):
    # A real kill (SIGKILL) in the middle of training, then `medtrust al run` continues.
    cfg_file = tmp_path / "tiny.json.yaml"
    import yaml

    cfg = {**TINY, "trainer": {**TINY["trainer"], "iterations": 40}}
    cfg_file.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    env = {**os.environ, "MEDTRUST_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "medtrust.cli.main", "al", "run", str(cfg_file), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = out / "runs" / "default" / "clasp_pe" / "seed_0"
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "round_000" / "model" / "member_0").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "done.json").exists()
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    resumed = pl.read_parquet(out / "results.parquet").drop(TIMING_COLUMNS)
    fresh = run_grid(ExperimentConfig.from_dict(cfg), tmp_path / "fresh").table
    assert resumed.equals(fresh.drop(TIMING_COLUMNS))
    assert not list(run.rglob("*.tmp"))


def test_finished_runs_are_skipped_and_changed_configs_refused(reference):
    out, _, table = reference
    steps = []
    res = run_grid(_cfg(), out, on_step=steps.append)
    assert res.ran == [] and res.skipped == ["default/clasp_pe/seed_0"] and steps == []
    assert res.table.equals(table)
    run = out / "runs" / "default" / "clasp_pe" / "seed_0"
    with pytest.raises(ConfigError, match="different configuration"):
        from medtrust.active.loop import run_experiment

        run_experiment(_cfg(query_size=3).runs()[0], out)
    assert (run / "done.json").exists()


@pytest.mark.parametrize(
    ("over", "error", "message"),
    [
        ({"patch_size": [4, 30, 8]}, ConfigError, "larger than every pool image along y"),
        ({"query_size": 200}, ConfigError, "exceeds what one round can pick"),
        (
            {"query_size": 40, "patches_per_image": 20, "rounds": 5},
            ConfigError,
            "non-overlapping patches",
        ),
        ({"strategies": ["clasp_pee"]}, ConfigError, "unknown strategy 'clasp_pee'.*clasp_pe"),
        ({"starting_budget": "nope"}, ConfigError, "unknown starting_budget"),
        ({"dataset": {"path": "/nonexistent/Dataset001"}}, DatasetError, "not found"),
        ({"trainer": {"backend": "keras"}}, ConfigError, "unknown trainer backend"),
        ({"trainer": {"backend": "unet", "iters": 5}}, ConfigError, "unknown setting"),
        ({"held_out_fraction": 1.5}, ConfigError, "held_out_fraction"),
        ({"rounds": 0}, ConfigError, "rounds must be >= 1"),
        ({"seeds": [0, 0]}, ConfigError, "duplicates"),
        ({"querysize": 3}, ConfigError, "did you mean 'query_size'"),
        (
            {"settings": {"big": {"patch_size": [9, 8, 8]}}},
            ConfigError,
            "setting 'big'.*larger than every pool image along z",
        ),
    ],
)
def test_bad_configs_fail_before_any_training(tmp_path, over, error, message):
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        cfg = _cfg(**over)
        run_grid(cfg, out)
    assert not (out / "runs").exists()  # nothing trained, nothing generated


def test_missing_dataset_files_fail_before_training(tmp_path):
    from medtrust.data import synthetic_segmentation

    ds = synthetic_segmentation(tmp_path / "Dataset900_X", n_cases=4, shape=(8, 16, 16))
    (ds.root / "imagesTr" / "synth_001_0000.nii.gz").unlink()
    cfg = _cfg(dataset={"path": str(ds.root)}, query_size=2)
    with pytest.raises(DatasetError, match=r"synth_001_0000\.nii\.gz is missing"):
        run_grid(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_config_files_yaml_and_toml(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "dataset: data/Dataset004\nstrategy: clasp_pe\npatch_size: 20\nquery_size: 20\n"
    )
    cfg = load_config(tmp_path / "a.yaml")
    assert cfg.patch_size == (20, 20, 20) and cfg.dataset_path() == tmp_path / "data/Dataset004"
    (tmp_path / "b.toml").write_text(
        'strategies = ["random", "pe"]\npatch_size = [4, 40, 40]\nquery_size = 30\n'
        "seeds = [0, 1]\n[dataset.synthetic]\nn_cases = 8\n[trainer]\nbackend = 'unet'\n"
        "iterations = 5\n"
    )
    cfg = load_config(tmp_path / "b.toml")
    assert cfg.strategies == ("random", "pe") and cfg.trainer["iterations"] == 5
    assert len(cfg.runs()) == 4
    (tmp_path / "c.yaml").write_text("dataset: [1, 2\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_settings_grid_and_report(tmp_path):
    cfg = _cfg(
        strategies=["random", "clasp_pe"],
        seeds=[0, 1],
        full_data=True,
        full_data_trainer={"iterations": 5},
        settings={"q3": {"query_size": 3}, "q4": {}},
    )
    runs = cfg.runs()
    assert len(runs) == 2 * (2 * 2 + 2)
    res = run_grid(cfg, tmp_path, workers=2)
    assert not res.failed and len(res.ran) == len(runs)
    t = res.table
    assert sorted(t["setting"].unique().to_list()) == ["q3", "q4"]
    assert t.filter(pl.col("setting") == "q3")["n_patches"].max() == 6
    info = tmp_path / "runs/q3/_full_data/seed_0/round_000/model/member_0/info.json"
    assert json.loads(info.read_text())["iterations"] == 5  # the reference trains longer
    assert t.filter(pl.col("strategy") == "_full_data")["fg_fraction"].to_list() == [1.0] * 4
    rep = build_report(tmp_path)
    for f in rep.files.values():
        assert f.exists()
    assert rep.ppm.n_settings == 2
    assert set(rep.summary["strategy"].to_list()) == {"random", "clasp_pe"}
    assert "AUBC" in rep.lines[0]


def test_cli_run_validate_report(tmp_path, capsys):
    import yaml

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({**TINY, "rounds": 1}))
    assert main(["al", "validate", str(cfg_file)]) == 0
    assert "valid; 1 run(s)" in capsys.readouterr().out
    assert main(["al", "run", str(cfg_file), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert "dice_mean" in capsys.readouterr().out
    assert main(["al", "report", str(tmp_path / "o")]) == 0
    assert "AUBC" in capsys.readouterr().out
    cfg_file.write_text(yaml.safe_dump({**TINY, "query_size": 500}))
    assert main(["al", "run", str(cfg_file), "--out", str(tmp_path / "bad")]) == 2
    assert "query_size 500 exceeds" in capsys.readouterr().err


def test_demo_quick(tmp_path):
    from medtrust.active.loop.demo import run

    lines = run(tmp_path, quick=True)
    assert lines[0].startswith("## Active learning")
    report = tmp_path / "active_learning" / "report"
    assert (report / "curves.png").exists()
    # Every nnActive analysis of issue 14, on the demo experiment.
    for name in ("fg_eff_fits", "ranking_cd", "per_class_dice", "patch_stats", "queries"):
        assert (report / f"{name}.png").stat().st_size > 5000, name
    for name in ("fg_eff_pooled", "ppm_summary", "ppm_vs_random", "seed_stability",
                 "per_class_dice", "patch_stats"):  # fmt: skip
        assert (report / f"{name}.parquet").is_file(), name
    assert any("clasp_pe" in x for x in lines) and any("random_fg33" in x for x in lines)
