import json

import numpy as np
import pytest

from medtrust.active import Pool, get_strategy, probs_dir_source, read_round, read_rounds
from medtrust.cli.main import main
from medtrust.data.al_pool import synthetic_al_pool
from medtrust.exceptions import DatasetError


@pytest.fixture(scope="module")
def data():
    return synthetic_al_pool(n_images=3, shape=(12, 16, 16), n_classes=3, n_members=2, seed=4)


def _member_folders(tmp_path, probs, labels):
    for m in range(2):
        d = tmp_path / "probs" / f"fold_{m}"
        d.mkdir(parents=True)
        for k, v in probs.items():
            np.save(d / f"{k}.npy", v[m])
    lab = tmp_path / "labels"
    lab.mkdir()
    for k, v in labels.items():
        np.save(lab / f"{k}.npy", v)
    return tmp_path / "probs", lab


def test_al_query_end_to_end_with_member_folders(tmp_path, data, capsys):
    probs, labels = data
    pdir, ldir = _member_folders(tmp_path, probs, labels)
    rounds = tmp_path / "rounds"
    common = ["--patch-size", "4", "--stride", "2", "--seed", "3", "--no-progress"]
    rc = main(
        [
            "al",
            "query",
            "--labels",
            str(ldir),
            "--strategy",
            "random_fg33_all_classes",
            "--size",
            "8",
            "--out",
            str(rounds / "loop_000.json"),
            *common,
        ]
    )
    assert rc == 0
    rc = main(
        [
            "al",
            "query",
            "--probs",
            str(pdir),
            "--annotated",
            str(rounds),
            "--strategy",
            "clasp_pe",
            "--size",
            "6",
            "--round",
            "0",
            *common,
        ]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    start = read_round(rounds / "loop_000.json")
    query = read_round(rounds / "loop_001.json")
    assert len(start) == 8 and len(query) == 6 and len(read_rounds(rounds)) == 14
    for p in query:
        assert not any(p.overlaps(a) for a in start)
    obj = json.loads((rounds / "loop_001.json").read_text())
    assert obj["patches"][0]["file"].endswith(".nii.gz")
    assert obj["medtrust"]["strategy"] == "clasp_pe" and obj["medtrust"]["round_index"] == 0
    assert (rounds / "loop_001.candidates.parquet").exists()
    # Same query from the Python API on the same files.
    source, shapes = probs_dir_source(pdir)
    pool = Pool(tuple(sorted(shapes)), shapes, uncertainty=source)
    res = get_strategy("clasp_pe", patch_size=4, stride=2).query(
        pool, start, size=6, round_index=0, seed=3
    )
    assert list(res.patches) == query


def test_al_query_with_stacked_npz_and_nifti_labels(tmp_path, data):
    import nibabel as nib

    probs, labels = data
    pdir = tmp_path / "stacked"
    pdir.mkdir()
    for k, v in probs.items():
        np.savez_compressed(pdir / f"{k}.npz", probabilities=v)
    ldir = tmp_path / "labels"
    ldir.mkdir()
    for k, v in labels.items():
        nib.save(nib.Nifti1Image(v, np.eye(4)), str(ldir / f"{k}.nii.gz"))
    out = tmp_path / "q.json"
    for strategy in ("power_bald", "random_fg66"):
        rc = main(
            [
                "al",
                "query",
                "--probs",
                str(pdir),
                "--labels",
                str(ldir),
                "--strategy",
                strategy,
                "--size",
                "5",
                "--patch-size",
                "4",
                "4",
                "6",
                "--stride",
                "1",
                "2",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        assert rc == 0
        got = read_round(out)
        assert len(got) == 5 and all(p.size == (4, 4, 6) for p in got)


def test_al_query_errors_exit_2(tmp_path, data, capsys):
    probs, labels = data
    pdir, _ = _member_folders(tmp_path, probs, labels)
    rc = main(
        [
            "al",
            "query",
            "--probs",
            str(pdir),
            "--strategy",
            "nope",
            "--size",
            "3",
            "--patch-size",
            "4",
            "--no-progress",
            "--out",
            str(tmp_path / "x.json"),
        ]
    )
    assert rc == 2 and "unknown strategy" in capsys.readouterr().err
    rc = main(
        [
            "al",
            "query",
            "--probs",
            str(pdir),
            "--strategy",
            "pe",
            "--size",
            "-3",
            "--patch-size",
            "4",
            "--no-progress",
            "--out",
            str(tmp_path / "x.json"),
        ]
    )
    assert rc == 2
    rc = main(
        [
            "al",
            "query",
            "--probs",
            str(pdir),
            "--strategy",
            "pe",
            "--size",
            "3",
            "--patch-size",
            "40",
            "--stride",
            "1",
            "2",
            "--no-progress",
        ]
    )
    assert rc == 2
    (pdir / "fold_1" / "case_000.npy").unlink()
    with pytest.raises(DatasetError, match="same images"):
        probs_dir_source(pdir)
    with pytest.raises(DatasetError):
        probs_dir_source(tmp_path / "missing")
