"""The one table reader and the one config reader of medtrust.io."""

import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from medtrust.exceptions import ConfigError, DatasetError
from medtrust.io import read_config, read_records, read_table
from medtrust.io.tables import table_format

ROWS = [
    {"qid": "q1", "score": 0.5, "n": 1},
    {"qid": "q2", "score": 1.0, "n": 2},
    {"qid": "q3", "score": None, "n": 3},
]
EXPECTED = pl.DataFrame(ROWS, schema={"qid": pl.String, "score": pl.Float64, "n": pl.Int64})


def _write(path, fmt):
    df = EXPECTED
    if fmt == "parquet":
        df.write_parquet(path)
    elif fmt == "csv":
        df.write_csv(path)
    elif fmt == "tsv":
        df.write_csv(path, separator="\t")
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    else:
        path.write_text(json.dumps(ROWS))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "tsv", "jsonl", "json"])
def test_every_format_reads_the_same_frame(tmp_path, fmt):
    p = tmp_path / f"t.{fmt}"
    _write(p, fmt)
    assert_frame_equal(read_table(p), EXPECTED)


def test_csv_types_are_inferred_from_every_row(tmp_path):
    # A column that looks numeric in its first rows but holds text later stays text.
    p = tmp_path / "late.csv"
    p.write_text("qid\n" + "\n".join(str(i) for i in range(200)) + "\nabc\n")
    assert read_table(p)["qid"].dtype == pl.String


def test_json_object_with_data_key_and_blank_jsonl_lines(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps({"data": ROWS}))
    assert read_records(p) == ROWS
    q = tmp_path / "d.jsonl"
    q.write_text(json.dumps(ROWS[0]) + "\n\n  \n" + json.dumps(ROWS[1]) + "\n")
    assert read_records(q) == ROWS[:2]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("bad.parquet", b"PAR1 this is not parquet", r"cannot read table file .*bad\.parquet"),
        ("bad.jsonl", b'{"qid": 1}\n{"qid": \n', r"bad\.jsonl:2: invalid JSON: .*\(column 9\)"),
        ("bad.json", b"[{", r"bad\.json:1: invalid JSON"),
        ("scalar.json", b"3", r"expected a JSON list of records, got int"),
        ("mixed.json", b'[{"a": 1}, 2]', r"record 1 is a int, not an object"),
        ("bad.csv", b'a,b\n1,"2\n', r"cannot read table file .*bad\.csv"),
        ("t.xlsx", b"", r"expected a table file"),
    ],
)
def test_corrupt_or_unknown_files_give_dataset_error(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DatasetError, match=match):
        read_table(p)


def test_missing_file_and_format_restriction(tmp_path):
    with pytest.raises(DatasetError, match="no such ratings file"):
        read_table(tmp_path / "none.csv", what="ratings")
    p = tmp_path / "t.tsv"
    _write(p, "tsv")
    with pytest.raises(DatasetError, match=r"\.csv, \.parquet"):
        read_table(p, formats=("csv", "parquet"))
    assert table_format("x.NDJSON") == "jsonl"


CONFIG = {"name": "demo", "trainer": {"epochs": 2, "lr": 0.01}, "tags": ["a", "b"]}
CONFIG_TEXT = {
    "json": json.dumps(CONFIG),
    "yaml": "name: demo\ntrainer:\n  epochs: 2\n  lr: 0.01\ntags: [a, b]\n",
    "yml": "name: demo\ntrainer: {epochs: 2, lr: 0.01}\ntags:\n  - a\n  - b\n",
    "toml": 'name = "demo"\ntags = ["a", "b"]\n[trainer]\nepochs = 2\nlr = 0.01\n',
}


@pytest.mark.parametrize("suffix", sorted(CONFIG_TEXT))
def test_every_config_format_reads_the_same_mapping(tmp_path, suffix):
    p = tmp_path / f"c.{suffix}"
    p.write_text(CONFIG_TEXT[suffix])
    assert read_config(p) == CONFIG


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("c.json", "{", r"cannot parse .*c\.json as json"),
        ("c.yaml", "a: [1\n", r"cannot parse .*c\.yaml as yaml"),
        ("c.toml", "a = \n", r"cannot parse .*c\.toml as toml"),
        ("c.yaml", "", r"is empty"),
        ("c.yaml", "- 1\n- 2\n", r"must be a mapping, got list"),
        ("c.ini", "[a]\n", r"config files are \.json, \.toml, \.yaml, \.yml; got c\.ini"),
    ],
)
def test_bad_configs_give_config_error(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(ConfigError, match=match):
        read_config(p)


def test_config_missing_file_and_format_restriction(tmp_path):
    with pytest.raises(ConfigError, match="shift file not found"):
        read_config(tmp_path / "s.yaml", what="shift")
    p = tmp_path / "c.toml"
    p.write_text(CONFIG_TEXT["toml"])
    with pytest.raises(ConfigError, match=r"\.json, \.yaml, \.yml; got c\.toml"):
        read_config(p, formats=("json", "yaml"))
