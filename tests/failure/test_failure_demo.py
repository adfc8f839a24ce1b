"""The failure-detection demo step: its summary claims only what its own tables support."""

import re

import polars as pl
from PIL import Image

from medtrust.failure import demo


def test_quick_demo_summary_matches_its_tables(tmp_path):
    lines = demo.run(tmp_path, quick=True)
    text = "\n".join(lines)
    folder = tmp_path / "failure"
    cmp = pl.read_parquet(folder / "comparison_to_best.parquet")
    n_cases = demo.SIZES[True][0]
    assert cmp.height == 25 and cmp["n"][0] == n_cases

    # The entropy table reports realistic ranges (not one-hot maps).
    rows = [ln for ln in lines if ln.startswith("| iid |") or ln.startswith("| shift_")]
    assert len(rows) == 7
    for row in rows:
        med, lo, hi = map(float, re.search(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", row).groups())
        assert 0.03 < lo <= med <= hi < 0.8, row

    # Every CSF the text calls "not distinguishable" has a difference CI containing 0, and
    # the verdict counts in the text are those of the table.
    tied = cmp.filter(pl.col("verdict") == "not distinguishable")
    assert (tied["diff_low"] <= 0).all()
    assert (cmp.filter(pl.col("verdict") == "worse")["diff_low"] > 0).all()
    if tied.height:
        assert f"{tied.height} CSF(s) are **not distinguishable**" in text
        named = re.search(r"contains 0\): (.*?)\. ", text).group(1)
        assert sorted(re.findall(r"`([^`]+)`", named)) == sorted(tied["csf"].to_list())
    worse = cmp.filter(pl.col("verdict") == "worse").height
    assert f"{worse} CSF(s) are worse than the best" in text
    # No bare ranking claims.
    assert "ranks 1 of" not in text and "mean bootstrap rank" not in text

    for name in ("risk_coverage_all.png", "aurc_intervals.png", "risk_coverage_iid.png"):
        with Image.open(folder / name) as im:
            assert round(im.info["dpi"][0]) == 200, name
            assert im.size[0] > 1000
