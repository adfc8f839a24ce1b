"""Drop-in shims beside the peers themselves, in the same run (issue 11 targets).

- a batch of 2 volumes of 256^3 with 4 classes (background + 3 structures), spacing
  (0.8, 0.8, 2.5): MONAI ``DiceMetric`` (label maps + ``num_classes``, MONAI's documented form),
  MONAI ``compute_hausdorff_distance(percentile=95)`` and ``compute_surface_dice`` (one-hot),
  DeepMind ``compute_surface_distances`` for every (item, structure) pair, torchmetrics
  ``dice_score`` (index format); target >= 10x each;
- fd-shifts-style risk-coverage stats (AURC, AUGRC, e-AURC, e-AUGRC and both curves) on
  n = 10^6: ``RiskCoverageStats`` vs the plain one-sample-at-a-time loop of the documented
  definition over numpy arrays, as fd-shifts' own loop reads them (fd-shifts is not on the
  registry); target >= 50x.

Each peer runs once (they take seconds); medtrust is the best of 3. Timings are noisy on a shared
machine: compare the ratios of one run.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import torch

from conftest import best_of
from medtrust.compat import fd_shifts as mfd
from medtrust.compat import monai as mm
from medtrust.compat import surface_distance as msd
from medtrust.compat import torchmetrics as mtm
from reference.fd_shifts_loop import rc_points, trapezoid_area

N = 256
SPACING = [0.8, 0.8, 2.5]


def once(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return time.perf_counter() - t0, out


def _ball(shape, center, radius, rng, wobble=0.12):
    g = np.ogrid[tuple(slice(0, n) for n in shape)]
    r2 = sum(((x - c) / r) ** 2 for x, c, r in zip(g, center, radius))
    phase = sum(
        np.sin(x / n * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)) for x, n in zip(g, shape)
    )
    return r2 <= (1 + wobble * phase / 3) ** 2


@pytest.fixture(scope="module")
def labels():
    """[2, 256, 256, 256] uint8 predictions and references with 4 classes."""
    rng = np.random.default_rng(0)
    shape = (N, N, N)
    ref = np.zeros((2, *shape), np.uint8)
    for b in range(2):
        for k, (c, r) in enumerate(
            [
                ((128, 128, 128), (70, 60, 50)),
                ((100, 150, 120), (30, 25, 20)),
                ((160, 100, 140), (20, 30, 25)),
            ],
            start=1,
        ):
            ref[b][_ball(shape, c, r, rng)] = k
    pred = np.stack([np.roll(ref[b], 1 + b, axis=b) for b in range(2)])
    return pred, ref


@pytest.fixture(scope="module")
def one_hot(labels):
    pred, ref = labels
    oh = lambda x: torch.from_numpy(np.stack([(x == k) for k in range(4)], 1).astype(np.float32))  # noqa: E731
    return oh(pred), oh(ref)


def test_monai_dice(labels, ratio):
    metrics = pytest.importorskip("monai.metrics")
    pred, ref = (torch.from_numpy(x[:, None]) for x in labels)
    t_peer, want = once(lambda: metrics.DiceMetric(num_classes=4, reduction="none")(pred, ref))
    got = mm.DiceMetric(num_classes=4, reduction="none")(pred, ref)
    torch.testing.assert_close(got, want)
    ours = best_of(lambda: mm.DiceMetric(num_classes=4, reduction="none")(pred, ref))
    ratio("compat MONAI DiceMetric 2x256^3, 4 classes (label maps)", ours, t_peer, 10)


def test_monai_hd95(one_hot, ratio):
    metrics = pytest.importorskip("monai.metrics")
    p, y = one_hot
    kw = dict(percentile=95, spacing=SPACING)
    t_peer, want = once(lambda: metrics.compute_hausdorff_distance(p, y, **kw))
    got = mm.compute_hausdorff_distance(p, y, **kw)
    torch.testing.assert_close(got, want)
    ours = best_of(lambda: mm.compute_hausdorff_distance(p, y, **kw))
    ratio("compat MONAI compute_hausdorff_distance p95 2x256^3x3", ours, t_peer, 10)


def test_monai_nsd(one_hot, ratio):
    metrics = pytest.importorskip("monai.metrics")
    p, y = one_hot
    kw = dict(class_thresholds=[1.0, 1.0, 1.0], spacing=SPACING)
    t_peer, want = once(lambda: metrics.compute_surface_dice(p, y, **kw))
    got = mm.compute_surface_dice(p, y, **kw)
    torch.testing.assert_close(got, want)
    ours = best_of(lambda: mm.compute_surface_dice(p, y, **kw))
    ratio("compat MONAI compute_surface_dice 2x256^3x3", ours, t_peer, 10)


def test_deepmind_surface_distances(labels, ratio):
    sd = pytest.importorskip("surface_distance")
    pred, ref = labels
    pairs = [(ref[b] == k, pred[b] == k) for b in range(2) for k in (1, 2, 3)]

    def run(mod):
        return [
            mod.compute_robust_hausdorff(mod.compute_surface_distances(g, q, SPACING), 95)
            for g, q in pairs
        ]

    t_peer, want = once(lambda: run(sd))
    np.testing.assert_allclose(run(msd), want, rtol=1e-9)
    ours = best_of(lambda: run(msd))
    ratio("compat DeepMind compute_surface_distances 2x256^3x3", ours, t_peer, 10)


def test_torchmetrics_dice(labels, ratio):
    tmf = pytest.importorskip("torchmetrics.functional.segmentation")
    pred, ref = (torch.from_numpy(x).long() for x in labels)
    kw = dict(num_classes=4, average="none", input_format="index")
    t_peer, want = once(lambda: tmf.dice_score(pred, ref, **kw))
    torch.testing.assert_close(mtm.dice_score(pred, ref, **kw), want)
    ours = best_of(lambda: mtm.dice_score(pred, ref, **kw))
    ratio("compat torchmetrics dice_score 2x256^3, 4 classes (index)", ours, t_peer, 10)


def test_fd_shifts_stats(ratio):
    rng = np.random.default_rng(0)
    n = 10**6
    confids = np.round(rng.random(n), 4)  # ties, as real softmax confidences have
    residuals = (rng.random(n) < 0.2 + 0.6 * (1 - confids) * 0.5).astype(float)

    def ours_stats():
        rc = mfd.RiskCoverageStats(confids, residuals)
        return rc.aurc, rc.augrc, rc.eaurc, rc.eaugrc

    def plain():
        sr = rc_points(confids, residuals, numpy_elements=True)
        gr = rc_points(confids, residuals, generalized=True, numpy_elements=True)
        err = residuals.mean()
        a, g = trapezoid_area(sr[0], sr[1]), trapezoid_area(gr[0], gr[1])
        return a, g, a - 1000 * (err + (1 - err) * np.log(1 - err)), g - 1000 * err**2 / 2

    t_peer, want = once(plain)
    np.testing.assert_allclose(ours_stats(), want, rtol=1e-6)
    ours = best_of(ours_stats)
    ratio("compat fd-shifts RiskCoverageStats n=1e6", ours, t_peer, 50)


def test_torchmetrics_hausdorff(ratio):
    # torchmetrics' distance transform is 2-D only (and square-only, see the shim's docs): a
    # batch of 4 square 2-D slices of 192^2 with 4 classes.
    tmf = pytest.importorskip("torchmetrics.functional.segmentation")
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:192, :192]
    ref = np.zeros((4, 192, 192), np.int64)
    for k, (cy, cx, r) in enumerate([(96, 96, 60), (60, 70, 25), (130, 120, 20)], start=1):
        ref[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2 + rng.integers(-40, 40, (4, 192, 192))] = k
    pred = np.stack([np.roll(ref[b], 1 + b % 3, axis=b % 2) for b in range(4)])
    p, t = torch.from_numpy(pred), torch.from_numpy(ref)
    kw = dict(num_classes=4, input_format="index", spacing=[0.8, 0.8])
    t_peer, want = once(lambda: tmf.hausdorff_distance(p, t, **kw))
    torch.testing.assert_close(mtm.hausdorff_distance(p, t, **kw), want)
    ours = best_of(lambda: mtm.hausdorff_distance(p, t, **kw))
    ratio("compat torchmetrics hausdorff_distance 4x192^2, 4 classes", ours, t_peer, 10)


def test_fd_shifts_bootstrap_ci(ratio):
    # fd-shifts' evaluate_ci protocol written as its loop (one resample, one curve at a time).
    rng = np.random.default_rng(3)
    n, n_bs = 5000, 1000
    confids = np.round(rng.random(n), 3)
    residuals = (rng.random(n) < 0.3 * (1 - confids) + 0.05).astype(float)

    def plain():
        areas = []
        for _ in range(n_bs):
            idx = np.random.choice(np.arange(n), size=n, replace=True)  # noqa: NPY002
            cov, risk = rc_points(confids[idx], residuals[idx], numpy_elements=True)[:2]
            areas.append(trapezoid_area(cov, risk))
        return np.percentile(areas, [2.5, 97.5])

    def ours_ci():
        np.random.seed(5)  # noqa: NPY002
        rc = mfd.RiskCoverageStats(confids, residuals)
        return rc.evaluate_ci(risk="selective-risk", n_bs=n_bs)

    np.random.seed(5)  # noqa: NPY002
    t_peer, want = once(plain)
    np.testing.assert_allclose(ours_ci(), want, rtol=1e-6)
    ours = best_of(ours_ci)
    ratio("compat fd-shifts evaluate_ci AURC n=5000, 1000 resamples", ours, t_peer, 10)
