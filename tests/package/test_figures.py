"""Figures for papers (issue 16): legends, palette, values in the legend, files and dpi."""

import numpy as np
import polars as pl
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from medtrust import selective as sel
from medtrust._figures import OKABE_ITO, save_figure
from medtrust.exceptions import InvalidArgumentError
from medtrust.vqa import plot_robustness

OKABE = {c.lower() for c in OKABE_ITO}


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    failed = (rng.random(n) < 0.3).astype(float)
    good = -failed + rng.normal(0, 0.8, n)
    return {"good": good, "random": rng.random(n), "poor": -failed + rng.normal(0, 3, n)}, failed


def test_save_figure_writes_each_format_at_200_dpi(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "fig.png", formats=("png", "pdf", "svg"), close=True)
    assert [p.name for p in paths] == ["fig.png", "fig.pdf", "fig.svg"]
    assert round(Image.open(paths[0]).info["dpi"][0]) == 200
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert b"<svg" in paths[2].read_bytes()[:500]
    with pytest.raises(InvalidArgumentError, match="formats"):
        save_figure(fig, tmp_path / "x", formats=("jpg",))


def test_selective_plot_one_legend_one_random_entry_and_values():
    import matplotlib.pyplot as plt

    confs, failed = _data()
    fig, axes = sel.plot_risk_coverage(confs, failed, risk="both")
    assert all(a.get_legend() is None for a in axes)  # no per-panel legend
    assert len(fig.legends) == 1
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(texts) == len(set(texts)) == len(confs) + 2
    assert sum(t.startswith("random ranking") for t in texts) == 1
    for name, c in confs.items():
        want = f"{name} (AURC {sel.aurc(c, failed):.4f}, AUGRC {sel.augrc(c, failed):.4f})"
        assert want in texts
    assert any(t.startswith(f"oracle (AURC {sel.aurc(-failed, failed):.4f}") for t in texts)
    colours = [to_hex(ln.get_color()) for ln in axes[0].get_lines()[: len(confs)]]
    assert colours == [c.lower() for c in OKABE_ITO[: len(confs)]]
    # the legend sits below the panels: it covers none of them
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    assert all(box.y1 <= a.get_window_extent().y0 + 1 for a in axes)
    plt.close(fig)


def _summary():
    rows = []
    for shift in ("s1", "s2"):
        for method in ("lora", "ia3", "prompt_tuning"):
            for baseline in ("none", "blank"):
                rows.append(
                    {"shift": shift, "method": method, "baseline": baseline,
                     "rr_mean": 0.5 + 0.1 * len(method) / 10, "rr_std": 0.05, "n_seeds": 3}
                )  # fmt: skip
    return pl.DataFrame(rows)


def test_vqa_bars_legend_outside_error_bars_named_with_n():
    import matplotlib.pyplot as plt

    s = _summary()
    fig, ax = plot_robustness(s, title="RR")
    assert len(ax.patches) == s.height  # one bar per run, nothing hidden
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:3] == ["lora", "ia3", "prompt_tuning"]
    assert "error bars: +-1 SD over seeds (n = 3)" in texts
    colours = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert colours == {c.lower() for c in OKABE_ITO[:3]}
    fig.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # outside the axes: no bar under it
    assert [t.get_text() for t in ax.get_xticklabels()].count("blank") == 6
    plt.close(fig)


def test_failure_result_writes_requested_formats(tmp_path):
    import matplotlib.pyplot as plt

    from medtrust import failure

    rng = np.random.default_rng(0)
    d = rng.uniform(0.3, 0.95, 30)
    cases = pl.DataFrame(
        {"case": [f"c{i}" for i in range(30)], "domain": ["a"] * 15 + ["b"] * 15, "dice": d}
    ).with_columns(
        **{f"csf_{i}": pl.Series(d + rng.normal(0, 0.05 * (i + 1), 30)) for i in range(8)}
    )
    res = failure.evaluate_failure_detection(cases, csf_prefix="csf_", n_resamples=20)
    paths = res.write(tmp_path / "out", formats=("png", "pdf"))
    names = {p.name for p in paths}
    for g in ("a", "b", "all"):
        assert {f"risk_coverage_{g}.png", f"risk_coverage_{g}.pdf"} <= names
    assert round(Image.open(tmp_path / "out" / "risk_coverage_all.png").info["dpi"][0]) == 200
    part = res.cases
    fig, ax = failure.plot.plot_highlighted_risk_coverage(
        {c: part[c].to_numpy() for c in res.csfs}, part["risk"].to_numpy(), top_k=3
    )
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[3] == "other CSFs (5)"
    assert texts[4].startswith("oracle (AURC ") and texts[5].startswith("random ranking (AURC ")
    greys = [ln for ln in ax.get_lines() if to_hex(ln.get_color()) == "#b0b0b0"]
    assert len(greys) == 5
    plt.close(fig)
