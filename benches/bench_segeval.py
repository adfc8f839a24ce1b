"""``segmentation.evaluate_folder`` beside nnU-Net's own per-file evaluator, in the same run.

A folder of 6 cases (96 x 96 x 64, labels 1..3, NIfTI written by nibabel): medtrust reads
every pair once and counts all classes through the Rust counter; the plain way is nnU-Net's
``compute_metrics`` called for each file pair in this process (``compute_metrics_on_folder``
adds a spawned process pool around the same function). Both compute Dice, IoU and the four
counts per class; the tables agree (checked here too). No speed target: the file reading
(gzip) is the same for both and dominates.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import best_of
from medtrust.io import save_nifti
from medtrust.segmentation import evaluate_folder
from reference import segmentation as ref

N_CASES, SHAPE = 6, (96, 96, 64)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("segeval_bench")
    rng = np.random.default_rng(0)
    for i in range(N_CASES):
        c = np.array(SHAPE) / 2
        t = np.zeros(SHAPE, np.uint8)
        t[ref.blob(SHAPE, c, np.array(SHAPE) * 0.35, rng)] = 1
        t[ref.blob(SHAPE, c + 3, np.array(SHAPE) * 0.2, rng)] = 2
        t[ref.blob(SHAPE, c - 5, np.array(SHAPE) * 0.12, rng)] = 3
        p = np.roll(t, 2, axis=i % 3)
        save_nifti(root / "labels" / f"c{i}.nii.gz", t, spacing=(1.0, 1.0, 2.0))
        save_nifti(root / "pred" / f"c{i}.nii.gz", p, spacing=(1.0, 1.0, 2.0))
    return root / "pred", root / "labels"


def test_evaluate_folder_vs_nnunet(folders, ratio):
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    pred, labels = folders
    classes = [1, 2, 3]
    rw = SimpleITKIO()

    def plain():
        return [
            compute_metrics(str(labels / f"c{i}.nii.gz"), str(pred / f"c{i}.nii.gz"), rw, classes)
            for i in range(N_CASES)
        ]

    # Best of 2 each: the first call of either side pays for imports and warm-up.
    table = evaluate_folder(pred, labels, classes=classes, progress=False)
    ours = best_of(lambda: evaluate_folder(pred, labels, classes=classes, progress=False), 2)
    theirs = plain()
    base = best_of(plain, 2)
    got = table["dice"].to_numpy()
    want = [r["metrics"][c]["Dice"] for r in theirs for c in classes]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    ratio("evaluate_folder vs nnU-Net compute_metrics (6 cases, Dice/IoU/counts)", ours, base, None)
