import os
import subprocess
import sys

import numpy as np
import pytest

import medtrust.selective as sel

pytestmark = pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning")


def _data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    conf = np.round(rng.random(n), 2)
    res = (rng.random(n) > conf).astype(float)
    return conf, res


def test_ci_contains_estimate_and_unpacks():
    conf, res = _data()
    ci = sel.bootstrap_ci(conf, res, metric="augrc", n_resamples=300, seed=3)
    low, high = ci
    assert low < ci.estimate < high
    assert ci.estimate == pytest.approx(sel.augrc(conf, res))


def test_same_seed_same_result_other_seed_differs():
    conf, res = _data()
    a = sel.paired_bootstrap({"x": conf}, res, n_resamples=50, seed=1).values
    b = sel.paired_bootstrap({"x": conf}, res, n_resamples=50, seed=1).values
    c = sel.paired_bootstrap({"x": conf}, res, n_resamples=50, seed=2).values
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_identical_results_for_one_and_two_threads(tmp_path):
    script = (
        "import numpy as np, sys, medtrust.selective as sel, medtrust\n"
        "rng = np.random.default_rng(0); c = np.round(rng.random(3000), 2)\n"
        "r = rng.random(3000) * (rng.random(3000) > c)\n"
        "v = sel.paired_bootstrap({'a': c, 'b': -r + 0.1 * c}, r, n_resamples=64, seed=7).values\n"
        "np.save(sys.argv[1], v); print(medtrust.num_threads())\n"
    )
    outs = {}
    for threads in ("1", "2"):
        env = {**os.environ, "MEDTRUST_NUM_THREADS": threads}
        path = tmp_path / f"t{threads}.npy"
        p = subprocess.run(
            [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == threads
        outs[threads] = np.load(path)
    assert outs["1"].tobytes() == outs["2"].tobytes()


def test_bootstrap_distribution_matches_a_numpy_bootstrap():
    # Different random streams, same distribution: compare mean and spread of AURC.
    conf, res = _data(n=800, seed=5)
    ours = sel.paired_bootstrap({"x": conf}, res, n_resamples=600, seed=0).metric("aurc")[:, 0]
    rng = np.random.default_rng(1)
    theirs = []
    for _ in range(600):
        idx = rng.integers(0, len(conf), len(conf))
        theirs.append(sel.aurc(conf[idx], res[idx]))
    theirs = np.array(theirs)
    assert ours.mean() == pytest.approx(theirs.mean(), abs=3 * theirs.std() / np.sqrt(600) * 2)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.15)


def test_paired_bootstrap_shares_resamples_and_checks_sizes():
    conf, res = _data()
    pb = sel.paired_bootstrap({"a": conf, "b": conf}, res, n_resamples=20, seed=0)
    np.testing.assert_array_equal(pb.values[:, 0], pb.values[:, 1])
    assert pb.to_frame().height == 20 * 2 * len(sel.METRIC_NAMES)
    with pytest.raises(ValueError, match="same samples"):
        sel.paired_bootstrap({"a": conf, "b": conf[:-1]}, {"a": res, "b": res[:-1]}, n_resamples=5)


def test_continuous_residual_bootstrap_optimal_matches_direct():
    # With one resample we can't see the indices; check bounds instead: e-AURC >= -tiny and
    # AURC* <= AURC for continuous residuals in every resample.
    rng = np.random.default_rng(0)
    conf = rng.random(300)
    res = np.clip(1 - conf + rng.normal(0, 0.3, 300), 0, 1)
    pb = sel.paired_bootstrap({"x": conf}, res, n_resamples=100, seed=0)
    assert np.all(pb.metric("aurc_optimal") <= pb.metric("aurc") + 1e-12)
    assert np.all(pb.metric("augrc_optimal") <= pb.metric("augrc") + 1e-12)
