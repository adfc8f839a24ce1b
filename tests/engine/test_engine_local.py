"""The engine interface on this machine: the local map, options, and equality of results."""

import polars as pl
import pytest

from medtrust._parallel import Outcome, check_resources, map_local, raise_first_error
from medtrust.active.loop import ExperimentConfig
from medtrust.data import synthetic_failure_cases
from medtrust.engine import LocalEngine, RayEngine, default_resources, get_engine, score_folder
from medtrust.exceptions import ConfigError, InvalidArgumentError, ShapeMismatchError
from medtrust.failure import score_folder as score_folder_serial


def _boom(x):
    if x == 2:
        raise ShapeMismatchError(f"item {x} is bad")
    return x * 10


@pytest.mark.parametrize("workers", [1, 2])
def test_map_local_keeps_order_and_records_each_failure(workers):
    out = map_local(_boom, [1, 2, 3], workers=workers)
    assert [o.index for o in out] == [0, 1, 2]
    assert [o.value for o in out] == [10, None, 30]
    assert out[1].error == "ShapeMismatchError: item 2 is bad"
    # The exception keeps its type across the process boundary, so callers can catch it.
    with pytest.raises(ShapeMismatchError, match="item 2"):
        raise_first_error(out)


def test_map_local_lets_non_caught_errors_through():
    with pytest.raises(ShapeMismatchError):
        map_local(_boom, [2], catch=(KeyError,))


def test_progress_advances_once_per_task():
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    map_local(abs, [-1, -2, -3], progress=bar)
    assert bar.n == 3


def test_outcome_ok():
    assert Outcome(0, value=1).ok and not Outcome(0, error="x").ok


@pytest.mark.parametrize(
    "res, msg",
    [
        ({"cpus": 1}, "unknown resource key"),
        ({"num_cpus": -1}, "num_cpus must be a number >= 0"),
        ({"num_gpus": True}, "num_gpus must be a number"),
        ({"resources": {"disk": -2}}, "resources.resources must map"),
        ([1], "must be a mapping"),
    ],
)
def test_bad_resources_are_named(res, msg):
    with pytest.raises(InvalidArgumentError, match=msg):
        check_resources(res, "resources")


def test_engine_options_are_validated_before_anything_starts():
    with pytest.raises(InvalidArgumentError, match="workers"):
        LocalEngine(workers=0)
    with pytest.raises(InvalidArgumentError, match="unknown engine 'dask'"):
        get_engine("dask")
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        RayEngine(max_retries=-1)
    with pytest.raises(InvalidArgumentError, match="private local instance"):
        RayEngine(address="auto", num_cpus=2)
    with pytest.raises(InvalidArgumentError, match="engine options apply"):
        get_engine(LocalEngine(), workers=2)


BASE = {
    "dataset": {"synthetic": {"n_cases": 6, "shape": [8, 24, 24]}},
    "strategies": ["random"],
    "patch_size": [4, 8, 8],
    "query_size": 4,
    "trainer": {"backend": "unet", "device": "cpu", "num_threads": 3},
}


def test_resources_default_from_the_trainer_and_config_block_overrides():
    cfg = ExperimentConfig.from_dict(BASE)
    assert default_resources(cfg) == {"run": {"num_cpus": 3}, "member": {"num_cpus": 3}}
    cuda = ExperimentConfig.from_dict({**BASE, "trainer": {"backend": "unet", "device": "cuda"}})
    assert default_resources(cuda)["member"] == {"num_cpus": 1, "num_gpus": 1}
    own = ExperimentConfig.from_dict({**BASE, "resources": {"member": {"num_cpus": 8}}})
    assert default_resources(own) == {"run": {"num_cpus": 3}, "member": {"num_cpus": 8}}
    # Resources do not change results: a run made with other resources resumes.
    assert own.fingerprint() == cfg.fingerprint()


@pytest.mark.parametrize(
    "res, msg",
    [
        ({"driver": {}}, "resources must be"),
        ({"member": {"gpus": 1}}, "resources.member: unknown resource key"),
        ({"run": {"num_cpus": -1}}, "resources.run.num_cpus"),
    ],
)
def test_bad_resources_block_is_a_config_error(res, msg):
    with pytest.raises(ConfigError, match=msg):
        ExperimentConfig.from_dict({**BASE, "resources": res})


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return synthetic_failure_cases(
        tmp_path_factory.mktemp("fd"), n_cases=5, shape=(14, 14, 10), seed=4
    )


@pytest.mark.parametrize("workers, batch", [(1, None), (2, 2)])
def test_failure_scoring_on_local_engine_equals_the_serial_table(cases, workers, batch):
    serial = score_folder_serial(cases["pred"], cases["labels"], cases["domains"])
    par = score_folder(
        cases["pred"], cases["labels"], cases["domains"], workers=workers, batch_size=batch
    )
    assert par.equals(serial)
    assert par["case"].to_list() == sorted(par["case"].to_list())


def test_failure_scoring_error_keeps_its_type(cases, tmp_path):
    import shutil

    import numpy as np

    from medtrust.io import save_nifti

    bad = tmp_path / "labels"
    shutil.copytree(cases["labels"], bad)
    save_nifti(bad / "case_001.nii.gz", np.zeros((14, 14, 9), np.uint8), spacing=(1, 1, 2))
    with pytest.raises(ShapeMismatchError, match="case_001"):
        score_folder(cases["pred"], bad, cases["domains"], workers=2, batch_size=1)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        score_folder(cases["pred"], bad, cases["domains"], batch_size=0)


def test_cli_engine_options(cases, tmp_path, capsys):
    from medtrust.cli.main import main

    code = main(
        [
            "failure",
            "evaluate",
            "--pred",
            str(cases["pred"]),
            "--labels",
            str(cases["labels"]),
            "--domains",
            str(cases["domains"]),
            "--out",
            str(tmp_path / "o"),
            "--n-resamples",
            "20",
            "--workers",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    table = pl.read_parquet(tmp_path / "o" / "case_scores.parquet")
    serial = score_folder_serial(cases["pred"], cases["labels"], cases["domains"])
    assert table.equals(serial)
    capsys.readouterr()
    argv = ["failure", "evaluate", "--pred", "p", "--labels", "l", "--domains", "d", "--out", "o"]
    assert main([*argv, "--address", "auto"]) == 2
    assert "--address applies to --engine ray" in capsys.readouterr().err
