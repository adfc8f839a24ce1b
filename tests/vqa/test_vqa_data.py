"""VQA loaders (SLAKE, OVQA, MIMIC-CXR-VQA, generic) and prediction validation."""

import json
import warnings

import polars as pl
import pytest

from medtrust.exceptions import DatasetError, InvalidArgumentError, MedtrustWarning
from medtrust.vqa import (
    load_generic,
    load_mimic_cxr_vqa,
    load_ovqa,
    load_predictions,
    load_slake,
    load_vqa,
    validate_predictions,
    validate_samples,
)


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def slake_record(qid, img, q, a, atype, modality, content, lang="en"):
    return {
        "img_id": int(img),
        "img_name": f"xmlab{img}/source.jpg",
        "question": q,
        "answer": a,
        "q_lang": lang,
        "location": "Lung",
        "modality": modality,
        "answer_type": atype,
        "base_type": "vqa",
        "content_type": content,
        "triple": ["vhead", "_", "_"],
        "qid": qid,
    }


def test_slake_layout(tmp_path):
    write(
        tmp_path / "train.json",
        [
            slake_record(1, 0, "What modality is used?", "MRI", "OPEN", "MRI", "Modality"),
            slake_record(2, 0, "这是什么?", "MRI", "OPEN", "MRI", "Modality", lang="zh"),
        ],
    )
    write(
        tmp_path / "validate.json",
        [slake_record(3, 1, "Is the lung healthy?", "No", "CLOSED", "X-Ray", "Abnormality")],
    )
    write(
        tmp_path / "test.json",
        [slake_record(4, 2, "How big is the liver?", "Large", "OPEN", "CT", "Size")],
    )
    (tmp_path / "imgs").mkdir()
    df = load_vqa(tmp_path)  # auto-detected
    assert df["qid"].to_list() == ["1", "3", "4"]  # only English by default
    assert df["split"].to_list() == ["train", "val", "test"]
    assert df["answer_type"].to_list() == ["open", "closed", "open"]
    assert df["modality"].to_list() == ["MRI", "X-Ray", "CT"]
    assert df["organ"].to_list() == ["Lung"] * 3
    assert df["image"][0] == str(tmp_path / "imgs" / "xmlab0" / "source.jpg")
    assert df["image_id"].to_list() == ["0", "1", "2"]
    assert df["dataset"].unique().to_list() == ["SLAKE"]
    assert load_slake(tmp_path, lang=None).height == 4


def test_ovqa_layout(tmp_path):
    rec = {
        "qid": 10,
        "image_name": "a.jpg",
        "image_organ": "LEG",
        "answer": "Fracture",
        "answer_type": "OPEN",
        "question_type": "ABNORMALITY",
        "question": "What is wrong?",
        "phrase_type": "freeform",
    }
    write(tmp_path / "trainset.json", [rec])
    write(
        tmp_path / "testset.json",
        [
            {
                **rec,
                "qid": 11,
                "image_name": "b.jpg",
                "image_organ": "CHEST",
                "question_type": "ORGAN SYSTEM",
                "answer": "yes",
                "answer_type": "CLOSED",
            }
        ],
    )
    df = load_vqa(tmp_path)
    assert df["organ"].to_list() == ["LEG", "CHEST"]
    assert df["question_type"].to_list() == ["ABNORMALITY", "ORGAN SYSTEM"]
    assert df["image"][1] == str(tmp_path / "img" / "b.jpg")
    assert df["image_id"].to_list() == ["a", "b"]
    assert load_ovqa(tmp_path).height == 2


def test_mimic_builder_layout(tmp_path):
    base = {
        "image_id": "img-a",
        "subject_id": "10000032",
        "study_id": "50414267",
        "image_path": "files/p10/p10000032/s50414267/img-a.jpg",
        "template": "t",
        "template_program": "program_1",
        "template_arguments": {},
        "metadata": {"race": "WHITE - RUSSIAN", "gender": "M", "anchor_age": "62"},
    }
    recs = [
        {
            **base,
            "idx": 0,
            "question": "Is there a pneumothorax?",
            "semantic_type": "verify",
            "content_type": "presence",
            "answer": ["no"],
        },
        {
            **base,
            "idx": 1,
            "question": "Which is abnormal, the left lung or the right lung?",
            "semantic_type": "choose",
            "content_type": "anatomy",
            "answer": ["left lung", "right lung"],
        },
        {
            **base,
            "idx": 2,
            "question": "List all abnormalities.",
            "semantic_type": "query",
            "content_type": "abnormality",
            "answer": ["effusion", "atelectasis"],
        },
        {
            **base,
            "idx": 3,
            "question": "What is the gender?",
            "semantic_type": "query",
            "content_type": "gender",
            "answer": ["m"],
        },
    ]
    write(tmp_path / "test.json", recs)
    write(
        tmp_path / "valid.json",
        [
            {
                **recs[0],
                "idx": 7,
                "metadata": {"race": "ASIAN - KOREAN", "gender": "F", "anchor_age": 35},
            }
        ],
    )
    df = load_vqa(tmp_path, layout="mimic", images_root=tmp_path / "jpg")
    t = df.filter(pl.col("split") == "test")
    assert t["answer"].to_list() == ["no", "both", "effusion, atelectasis", "male"]
    assert t["answer_type"].to_list() == ["closed", "closed", "open", "open"]
    assert t["options"].to_list()[:2] == [
        ["yes", "no"],
        ["left lung", "right lung", "both", "none"],
    ]
    assert t["sex"].unique().to_list() == ["M"]
    assert t["age"][0] == 62.0 and t["age_group"][0] == ">=60"
    assert t["ethnicity"][0] == "WHITE" and t["ethnicity_group"][0] == "white"
    assert t["image"][0] == str(tmp_path / "jpg" / base["image_path"])
    v = df.filter(pl.col("split") == "val").row(0, named=True)
    assert (v["sex"], v["age_group"], v["ethnicity"], v["ethnicity_group"]) == (
        "F",
        "<40",
        "ASIAN",
        "non-white",
    )


def test_mimic_sure_vqa_export_layout(tmp_path):
    rec = {
        "qid": 5,
        "question": "Is the view AP or PA?",
        "answer": "PA",
        "answer_type": "CLOSED",
        "semantic_type": "choose",
        "list_categories": ["AP", "PA"],
        "subject_gender": "F",
        "subject_anchor_age": 45,
        "subject_ethnicity": "BLACK",
        "image_path": "x.jpg",
        "image_id": "x",
    }
    write(tmp_path / "train.json", [rec])
    write(tmp_path / "test.json", [{**rec, "qid": 6, "subject_ethnicity": "UNKNOWN/OTHER"}])
    df = load_mimic_cxr_vqa(tmp_path)
    assert df["options"][0].to_list() == ["AP", "PA"]
    assert df["age_group"][0] == "40-59"
    assert df["ethnicity_group"].to_list() == ["non-white", "unknown"]


def test_qids_repeated_across_splits_get_prefixed(tmp_path):
    rec = {"idx": 0, "question": "Is there edema?", "semantic_type": "verify", "answer": ["yes"]}
    write(tmp_path / "train.json", [rec])
    write(tmp_path / "test.json", [rec])
    with pytest.warns(MedtrustWarning, match="prefixed"):
        df = load_vqa(tmp_path, layout="mimic")
    assert df["qid"].to_list() == ["train/0", "test/0"]


def test_generic_jsonl_and_parquet(tmp_path):
    rows = [
        {
            "qid": 1,
            "question": "Is it a CT?",
            "answer": "yes",
            "image": "a.png",
            "split": "validation",
            "metadata": {"modality": "CT", "sex": "F"},
        },
        {"qid": 2, "question": "Which organ?", "answer": "liver", "answer_type": "open"},
    ]
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    df = load_vqa(p)
    assert df["split"].to_list() == ["val", "test"]
    assert df["answer_type"].to_list() == ["closed", "open"]
    assert df["modality"].to_list() == ["CT", None]
    assert df["image"].to_list() == [str(tmp_path / "a.png"), None]
    q = tmp_path / "d.parquet"
    df.write_parquet(q)
    again = load_generic(q)
    assert again["qid"].to_list() == ["1", "2"] and again["modality"].to_list() == ["CT", None]


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such"):
        load_vqa(tmp_path / "missing")
    with pytest.raises(InvalidArgumentError):
        load_vqa(tmp_path, layout="vqarad")
    with pytest.raises(DatasetError, match="no split file"):
        load_slake(tmp_path)
    write(tmp_path / "test.json", [{"img_name": "a.jpg", "answer": "x"}])
    with pytest.raises(DatasetError, match=r"record 0 lacks \['question'\]"):
        load_slake(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": 1}\n{oops\n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:2"):
        load_vqa(bad)


def test_validate_samples():
    good = pl.DataFrame(
        {
            "qid": ["1", "2"],
            "question": ["q", "q"],
            "answer": ["a", "b"],
            "answer_type": ["open", "closed"],
            "split": ["train", "test"],
        }
    )
    validate_samples(good)
    with pytest.raises(DatasetError, match=r"lack the columns \['split'\]"):
        validate_samples(good.drop("split"))
    with pytest.raises(DatasetError, match="duplicate qids"):
        validate_samples(pl.concat([good, good]))
    with pytest.raises(DatasetError, match="answer_type"):
        validate_samples(good.with_columns(pl.lit("yesno").alias("answer_type")))
    with pytest.raises(DatasetError, match="split"):
        validate_samples(good.with_columns(pl.lit("dev").alias("split")))
    with pytest.raises(DatasetError, match="null 'answer'"):
        validate_samples(good.with_columns(pl.lit(None, dtype=pl.String).alias("answer")))


def test_predictions_format_and_validation(tmp_path):
    samples = pl.DataFrame({"qid": ["1", "2", "3"]})
    p = tmp_path / "p.jsonl"
    p.write_text(
        '{"qid": 1, "pred": "yes", "method": "lora", "seed": 2}\n{"qid": "2", "pred": ""}\n'
    )
    df = load_predictions(p, model="llava")
    assert df.columns == ["qid", "pred", "model", "method", "seed", "baseline"]
    assert df.rows() == [
        ("1", "yes", "llava", "lora", 2, "none"),
        ("2", "", "llava", "none", 0, "none"),
    ]
    validate_predictions(df, samples)
    with pytest.raises(DatasetError, match=r"not in the samples, e.g. \['9'\]"):
        validate_predictions(pl.DataFrame({"qid": ["1", "9"], "pred": ["a", "b"]}), samples)
    with pytest.raises(DatasetError, match="duplicate predictions"):
        validate_predictions(pl.DataFrame({"qid": ["1", "1"], "pred": ["a", "b"]}), samples)
    # the same qid in two runs is fine
    two = pl.DataFrame({"qid": ["1", "1"], "pred": ["a", "b"], "seed": [0, 1]})
    assert validate_predictions(two, samples).height == 2
    with pytest.raises(DatasetError, match=r"lack the columns \['pred'\]"):
        validate_predictions(pl.DataFrame({"qid": ["1"]}), samples)
    with pytest.raises(DatasetError, match="null"):
        validate_predictions(
            pl.DataFrame(
                {"qid": ["1"], "pred": [None]}, schema={"qid": pl.String, "pred": pl.String}
            ),
            samples,
        )
    q = tmp_path / "p.parquet"
    df.write_parquet(q)
    both = load_predictions([p, q])
    assert both.height == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = tmp_path / "p.csv"
        df.write_csv(c)
        assert load_predictions(c)["qid"].to_list() == ["1", "2"]
    with pytest.raises(DatasetError):
        load_predictions(tmp_path / "none.jsonl")
