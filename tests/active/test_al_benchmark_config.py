"""The documented AL benchmark configuration and ``medtrust al benchmark`` (issue 17)."""

import yaml

from medtrust.active.loop.benchmark import (
    BENCHMARK_FILE,
    SMOKE,
    benchmark_config,
    benchmark_plan,
)
from medtrust.active.loop.config import load_config
from medtrust.cli.main import main


def test_config_follows_the_protocol():
    cfg = benchmark_config()
    cfg.validate()  # dataset shapes, patch sizes and budgets fit the pool of every setting
    assert cfg.seeds == (0, 1, 2, 3) and cfg.rounds == 5
    sizes = {c.setting: c.query_size for c in cfg.expand()}
    assert sizes == {"low": 20, "medium": 40, "high": 80}
    syn = cfg.dataset["synthetic"]
    assert syn["n_cases"] == 260 and syn["shape"] == [36, 50, 36]
    assert syn["spacing"] == [1.0, 1.0, 1.0]
    assert "random_fg33" in cfg.strategies and "clasp_pe" in cfg.strategies
    assert cfg.full_data  # FG-Eff needs the full-data reference
    # the shipped file is the single source: it parses to the same config
    assert load_config(BENCHMARK_FILE).to_dict() == cfg.to_dict()


def test_plan_counts_by_hand():
    cfg = benchmark_config()
    plan = benchmark_plan(cfg)
    s, k, m = len(cfg.strategies), len(cfg.seeds), cfg.ensemble_size
    assert plan["runs"] == 3 * s * k
    assert plan["full_data_runs"] == 3 * k
    assert plan["trainings"] == 3 * s * k * 5 * m + 3 * k * m
    # starting budget (one query) + 4 more queries
    assert plan["patches_low"] == 20 * 5 and plan["patches_high"] == 80 * 5


def test_smoke_config_is_small_and_valid():
    cfg = benchmark_config(smoke=True)
    cfg.validate()
    assert cfg.trainer_settings().iterations == SMOKE["trainer"]["iterations"] <= 5
    assert cfg.seeds == (0,)


def test_cli_dry_run_and_write_config(tmp_path, capsys):
    assert main(["al", "benchmark", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"runs": 60' in out and "hippocampus_synth" in out
    dest = tmp_path / "bench.yaml"
    assert main(["al", "benchmark", "--write-config", str(dest)]) == 0
    assert yaml.safe_load(dest.read_text()) == yaml.safe_load(BENCHMARK_FILE.read_text())
    assert main(["al", "validate", str(dest)]) == 0
