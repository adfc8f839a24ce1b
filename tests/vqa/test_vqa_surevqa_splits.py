"""Issue 15 items 1-3: SURE-VQA-style exports load, are detected, and split to its sizes.

The three folders below are laid out like SURE-VQA's exports (``train.json``,
``validate.json``, ``test.json`` for every dataset). The expected counts per side were derived
by hand from SURE-VQA's split rules (written next to each preset below), not by running
medtrust.
"""

import json
import warnings

import pytest

from medtrust.vqa import PRESETS, load_vqa, split_shift
from medtrust.vqa.data import _ethnicity


def _write(root, split, rows):
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}.json").write_text(json.dumps(rows))


def _slake(root):
    def q(qid, img, modality, content, lang="en"):
        return {
            "qid": qid,
            "img_id": img,
            "img_name": f"xmlab{img}/source.jpg",
            "question": f"q{qid}",
            "answer": "a",
            "answer_type": "OPEN",
            "q_lang": lang,
            "location": "Lung",
            "modality": modality,
            "content_type": content,
            "base_type": "vqa",
        }

    _write(
        root,
        "train",
        [
            q(1, 1, "CT", "Organ"),
            q(2, 1, "CT", "Size"),
            q(3, 1, "CT", "Modality"),
            q(4, 1, "CT", "Organ", lang="zh"),  # not English: left out everywhere
            q(5, 2, "X-Ray", "Organ"),
            q(6, 2, "X-Ray", "Size"),
        ],
    )
    _write(
        root,
        "validate",
        [q(7, 3, "MRI", "Organ"), q(8, 3, "MRI", "Size"), q(9, 4, "X-Ray", "Organ")],
    )
    _write(
        root,
        "test",
        [
            q(10, 5, "CT", "Organ"),
            q(11, 5, "CT", "Size"),
            q(12, 6, "X-Ray", "Organ"),
            q(13, 6, "X-Ray", "Modality"),
        ],
    )


def _ovqa(root):
    def q(qid, img, organ, qtype):
        return {
            "qid": qid,
            "image_name": f"{img}.jpg",
            "image_organ": organ,
            "question": f"q{qid}",
            "answer": "a",
            "answer_type": "OPEN",
            "question_type": qtype,
        }

    _write(
        root,
        "train",
        [
            q(1, "a", "HEAD", "Organ System"),
            q(2, "a", "HEAD", "Abnormality"),
            q(3, "b", "LEG", "Modality"),
        ],
    )
    _write(
        root,
        "validate",
        [
            q(4, "c", "LEG", "Organ System"),
            q(5, "c", "LEG", "Plane"),
            q(6, "d", "CHEST", "Modality"),
        ],
    )
    _write(
        root,
        "test",
        [
            q(7, "e", "LEG", "Abnormality"),
            q(8, "f", "HAND", "Organ System"),
            q(9, "f", "HAND", "Plane"),
        ],
    )


PATIENTS = {
    1: ("F", 30, "BLACK"),
    2: ("M", 70, "WHITE"),
    3: ("F", 65, "UNKNOWN/OTHER"),
    4: ("M", 35, "ASIAN"),
    5: ("M", 50, "HISPANIC/LATINO"),
}


def _mimic(root):
    def q(qid, patient, image, content):
        gender, age, eth = PATIENTS[patient]
        return {
            "qid": qid,
            "image_id": f"img{image}",
            "image_path": f"p{patient}/img{image}.jpg",
            "subject_id": patient,
            "study_id": 100 + image,
            "question": f"q{qid}",
            "answer": "yes",
            "answer_type": "CLOSED",
            "semantic_type": "verify",
            "content_type": content,
            "list_categories": ["yes", "no"],
            "gender": gender,
            "age": age,
            "ethnicity": eth,
        }

    _write(
        root,
        "train",
        [
            q(1, 1, 1, "anatomy"),
            q(2, 1, 1, "gender"),
            q(3, 2, 2, "anatomy"),
            q(4, 2, 2, "gender"),
            q(5, 3, 3, "anatomy"),
        ],
    )
    _write(root, "validate", [q(6, 4, 4, "anatomy"), q(7, 2, 5, "gender")])
    _write(
        root,
        "test",
        [
            q(8, 1, 6, "anatomy"),
            q(9, 1, 6, "gender"),
            q(10, 2, 7, "anatomy"),
            q(11, 3, 8, "anatomy"),
            q(12, 4, 9, "anatomy"),
            q(13, 4, 9, "gender"),
            q(14, 5, 10, "anatomy"),
        ],
    )


# (iid_train, iid_val, iid_test, ood_test) by SURE-VQA's rules:
EXPECTED = {
    # i.i.d.: modality != X-Ray; OOD: X-Ray of test + train (not validate)
    "slake_modality": (3, 2, 2, 4),
    # i.i.d.: content != Size; OOD: Size of test only (question-level)
    "slake_content_type": (3, 2, 3, 1),
    # i.i.d.: organ != leg; OOD: leg of test + train (not validate)
    "ovqa_organ": (2, 1, 2, 2),
    # i.i.d.: question type != organ system; OOD: test only
    "ovqa_question_type": (2, 2, 2, 1),
    # gender questions dropped everywhere; i.i.d.: gender != F; OOD: F of test only
    "mimic_sex": (1, 1, 3, 2),
    # i.i.d.: age >= 60; OOD: age < 40 of test only
    "mimic_age": (3, 1, 2, 4),
    # i.i.d.: WHITE; OOD: not WHITE and not UNKNOWN/OTHER, test only
    "mimic_ethnicity": (2, 1, 1, 5),
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("surevqa")
    _slake(root / "slake")
    _ovqa(root / "ovqa")
    _mimic(root / "mimic")
    return {name: load_vqa(root / name) for name in ("slake", "ovqa", "mimic")}


def test_layouts_are_detected_from_the_records(datasets):
    # all three folders hold train / validate / test.json (item 3: OVQA and MIMIC were SLAKE)
    assert {k: v["dataset"][0] for k, v in datasets.items()} == {
        "slake": "SLAKE",
        "ovqa": "OVQA",
        "mimic": "MIMIC-CXR-VQA",
    }


def test_mimic_reads_surevqa_demographics(datasets):
    df = datasets["mimic"].filter(datasets["mimic"]["qid"] == "8")
    row = df.select("sex", "age", "age_group", "ethnicity", "ethnicity_group").row(0)
    assert row == ("F", 30.0, "<40", "BLACK", "non-white")


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset_split_sizes_equal_surevqa(datasets, preset):
    df = datasets[preset.split("_")[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no leakage on these layouts
        split = split_shift(df, PRESETS[preset])
    c = split.counts()
    assert (c["iid_train"], c["iid_val"], c["iid_test"], c["ood_test"]) == EXPECTED[preset]


def test_ethnicity_groups_as_surevqa():
    assert _ethnicity("SOUTH AMERICAN") == ("UNKNOWN/OTHER", "unknown")
    assert _ethnicity("HISPANIC/LATINO - CUBAN") == ("HISPANIC/LATINO", "non-white")
    assert _ethnicity("PORTUGUESE") == ("WHITE", "white")
    assert _ethnicity("WHITE - SOMETHING NEW") == ("UNKNOWN/OTHER", "unknown")  # not listed
    assert _ethnicity("ASIAN") == ("ASIAN", "non-white")
    # one race per admission: the one known category, else UNKNOWN/OTHER
    assert _ethnicity(["UNKNOWN", "BLACK/AFRICAN"]) == ("BLACK", "non-white")
    assert _ethnicity(["WHITE", "ASIAN - KOREAN"]) == ("UNKNOWN/OTHER", "unknown")
    assert _ethnicity(None) == (None, "unknown")


def test_mimic_older_field_names_still_read(tmp_path):
    rec = {
        "qid": 1,
        "question": "q",
        "answer": "yes",
        "answer_type": "CLOSED",
        "semantic_type": "verify",
        "subject_gender": "M",
        "subject_anchor_age": 45,
        "subject_ethnicity": "WHITE",
    }
    _write(tmp_path, "test", [rec])
    row = load_vqa(tmp_path).select("sex", "age_group", "ethnicity").row(0)
    assert row == ("M", "40-59", "WHITE")
