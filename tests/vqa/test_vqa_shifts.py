"""Shifts as data and the leakage-aware i.i.d. / OOD split rule on a crafted dataset."""

import json

import polars as pl
import pytest

from medtrust.exceptions import ConfigError, DatasetError
from medtrust.vqa import PRESETS, DataLeakageWarning, Shift, get_shift, split_shift


def crafted():
    # image, split, modality; two questions per image with different content types
    images = [
        ("i1", "train", "CT"),
        ("i2", "train", "X-Ray"),
        ("i3", "val", "MRI"),
        ("i4", "val", "X-Ray"),
        ("i5", "test", "CT"),
        ("i6", "test", "X-Ray"),
        ("i7", "test", "MRI"),
    ]
    rows = []
    for img, split, mod in images:
        for k, content in (("a", "Size"), ("b", "Organ")):
            rows.append(
                {
                    "qid": f"{img}{k}",
                    "image_id": img,
                    "split": split,
                    "modality": mod,
                    "content_type": content,
                    "dataset": "SLAKE",
                    "question": "q",
                    "answer": "a",
                    "answer_type": "open",
                }
            )
    return pl.DataFrame(rows)


def qids(df):
    return sorted(df["qid"].to_list())


def test_presets_are_the_seven_paper_shifts():
    assert sorted(PRESETS) == sorted(
        [
            "slake_modality",
            "slake_content_type",
            "ovqa_organ",
            "ovqa_question_type",
            "mimic_sex",
            "mimic_age",
            "mimic_ethnicity",
        ]
    )
    assert PRESETS["slake_modality"].ood_values == ("X-Ray",)
    assert PRESETS["slake_modality"].image_level and not PRESETS["slake_content_type"].image_level
    assert PRESETS["mimic_age"].iid_values == (">=60",)


def test_image_level_shift_adds_train_not_val_ood_to_the_ood_test_set():
    s = split_shift(crafted(), "slake_modality")
    assert qids(s.iid_train) == ["i1a", "i1b"]
    assert qids(s.iid_val) == ["i3a", "i3b"]
    assert qids(s.iid_test) == ["i5a", "i5b", "i7a", "i7b"]
    # SURE-VQA: OOD = test + train OOD samples; the validation X-Ray image i4 is not used
    assert qids(s.ood_test) == ["i2a", "i2b", "i6a", "i6b"]
    # no OOD image ever trained on, and no i.i.d. training image in the OOD test set
    assert not set(s.iid_train["image_id"]) & set(s.ood_test["image_id"])
    assert s.n_leaked == 0 and s.n_excluded == 0
    assert s.values == {"CT": 4, "MRI": 4, "X-Ray": 6}
    t = s.test_frame()
    assert t.group_by("subset").len().sort("subset").rows() == [("iid", 4), ("ood", 4)]
    assert s.to_frame().group_by("set").len().sort("set")["len"].to_list() == [4, 2, 2, 4]
    assert s.to_dict()["ood_test"] == 4


def test_question_level_shift_uses_only_the_test_split():
    s = split_shift(crafted(), "slake_content_type")
    assert qids(s.ood_test) == ["i5a", "i6a", "i7a"]
    assert qids(s.iid_test) == ["i5b", "i6b", "i7b"]
    assert qids(s.iid_train) == ["i1b", "i2b"]


def test_empty_side_is_an_error_naming_the_shift():
    no_xray = crafted().filter(pl.col("modality") != "X-Ray")
    with pytest.raises(
        DatasetError,
        match=r"shift 'slake_modality': the OOD test set is empty.*"
        r"values present: 'CT': 4, 'MRI': 4",
    ):
        split_shift(no_xray, "slake_modality")
    only_xray_test = crafted().filter((pl.col("split") != "test") | (pl.col("modality") == "X-Ray"))
    with pytest.raises(DatasetError, match=r"shift 'slake_modality': the i\.i\.d\. test set"):
        split_shift(only_xray_test, "slake_modality")
    with pytest.raises(DatasetError, match=r"i.i.d. training set is empty"):
        split_shift(
            crafted().filter(pl.col("split") != "train"), "slake_modality", require_train=True
        )


def test_image_level_attribute_must_be_constant_per_image():
    df = crafted().with_columns(
        pl.when(pl.col("qid") == "i5a")
        .then(pl.lit("X-Ray"))
        .otherwise(pl.col("modality"))
        .alias("modality")
    )
    with pytest.raises(DatasetError, match=r"varies within 1 images.*'i5'"):
        split_shift(df, "slake_modality")


def test_leakage_policy_for_question_level_shifts():
    # an image of the test split also appears in the training split
    df = crafted().with_columns(
        pl.when(pl.col("qid") == "i1b")
        .then(pl.lit("i5"))
        .otherwise(pl.col("image_id"))
        .alias("image_id")
    )
    with pytest.warns(DataLeakageWarning, match="1 OOD test samples"):
        s = split_shift(df, "slake_content_type")
    assert s.n_leaked == 1 and "i5a" in qids(s.ood_test)
    with pytest.warns(DataLeakageWarning, match="dropped"):
        s = split_shift(df, "slake_content_type", on_leakage="drop")
    assert qids(s.ood_test) == ["i6a", "i7a"]
    with pytest.raises(DatasetError, match=r"also in the i.i.d. training set"):
        split_shift(df, "slake_content_type", on_leakage="raise")


def test_iid_values_exclude_the_middle_group():
    ages = [
        ("a", "train", 30.0),
        ("b", "train", 65.0),
        ("c", "train", 50.0),
        ("d", "test", 35.0),
        ("e", "test", 70.0),
        ("f", "test", 45.0),
        ("g", "test", None),
    ]
    from medtrust.vqa.data import age_group

    df = pl.DataFrame(
        [
            {
                "qid": q,
                "image_id": q,
                "split": s,
                "age_group": age_group(a),
                "dataset": "MIMIC-CXR-VQA",
            }
            for q, s, a in ages
        ]
    )
    s = split_shift(df, "mimic_age")
    assert qids(s.iid_train) == ["b"] and qids(s.iid_test) == ["e"]
    assert qids(s.ood_test) == ["d"]  # SURE-VQA: MIMIC OOD from the test split only
    assert s.n_excluded == 3  # 40-59 and unknown age


def test_values_match_after_normalisation_and_dataset_check():
    df = pl.DataFrame(
        {
            "qid": ["1", "2", "3"],
            "split": ["test"] * 3,
            "dataset": ["OVQA"] * 3,
            "question_type": ["ATTRIBUTE OTHER", "ORGAN SYSTEM", "PLANE"],
        }
    )
    s = split_shift(
        df,
        {
            "name": "qt",
            "dataset": "OVQA",
            "attribute": "question_type",
            "ood_values": ["attribute-other", "organ_system"],
        },
    )
    assert qids(s.ood_test) == ["1", "2"] and qids(s.iid_test) == ["3"]
    with pytest.raises(DatasetError, match="defined for SLAKE"):
        split_shift(df.with_columns(pl.lit("PLANE").alias("modality")), "slake_modality")
    with pytest.raises(DatasetError, match="lack the column 'organ'"):
        split_shift(df, "ovqa_organ")


def test_shift_definitions_from_files_and_errors(tmp_path):
    d = {"name": "custom", "dataset": None, "attribute": "sex", "ood_values": ["F"]}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(d))
    assert get_shift(p) == Shift("custom", None, "sex", ("F",))
    y = tmp_path / "s.yaml"
    y.write_text("name: custom\nattribute: sex\nood_values: [F]\niid_values: [M]\n")
    assert get_shift(y).iid_values == ("M",)
    assert Shift.from_dict(get_shift("mimic_sex").to_dict()) == PRESETS["mimic_sex"]
    with pytest.raises(ConfigError, match="unknown shift 'nope'"):
        get_shift("nope")
    with pytest.raises(ConfigError, match="unknown shift fields"):
        get_shift({**d, "oops": 1})
    with pytest.raises(ConfigError, match="ood_values is empty"):
        Shift("x", None, "sex", ())
    with pytest.raises(ConfigError, match=r"both i.i.d. and OOD"):
        Shift("x", None, "sex", ("F",), ("f", "M"))
