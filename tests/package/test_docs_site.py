"""The API reference site builds strictly and documents every public function and class.

`make docs` runs the same build; here it goes to a temporary folder (a few seconds of CPU: the
docstrings are read statically by griffe, nothing is imported).
"""

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Every package with a page (the job pages plus the support modules).
DOCUMENTED = [
    "medtrust.selective",
    "medtrust.segmentation",
    "medtrust.uncertainty",
    "medtrust.failure",
    "medtrust.active",
    "medtrust.active.metrics",
    "medtrust.active.loop",
    "medtrust.vqa",
    "medtrust.vqa.judge",
    "medtrust.polars",
    "medtrust.compat.monai",
    "medtrust.compat.torchmetrics",
    "medtrust.compat.fd_shifts",
    "medtrust.compat.torch_uncertainty",
    "medtrust.engine",
    "medtrust.analysis",
    "medtrust.io",
    "medtrust.data",
    "medtrust.exceptions",
]
#: Pages that must exist (one per job) and the conventions each metric page states.
JOB_PAGES = [
    "selective",
    "segmentation",
    "uncertainty",
    "failure",
    "active",
    "vqa",
    "polars",
    "compat",
    "engine",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs tools are in the dev extra")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] missing")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def _anchors(site):
    ids = set()
    for page in site.rglob("*.html"):
        ids |= set(re.findall(r'id="(medtrust\.[A-Za-z0-9_.]+)"', page.read_text("utf-8")))
    return ids


def test_every_job_has_a_page(site):
    for job in JOB_PAGES:
        assert (site / job / "index.html").is_file(), job


def test_every_public_function_and_class_is_on_a_page(site):
    ids = _anchors(site)
    text = " ".join(page.read_text("utf-8") for page in site.rglob("*.html"))
    missing = []
    for pkg in DOCUMENTED:
        mod = importlib.import_module(pkg)
        # Names a module builds on first access (module __getattr__, e.g. the torch-backed
        # compat classes) are invisible to the static reader: the module docstring names them.
        lazy = {name for name in mod.__all__ if name not in vars(mod)}
        for name in mod.__all__:
            if name in lazy:
                if f"<code>{name}</code>" not in text:
                    missing.append(f"{pkg}.{name} (built lazily; not named on its page)")
                continue
            obj = getattr(mod, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants and type aliases are described where they are used
            # A function named like its module (selective.metrics) is documented under its
            # module's path.
            if f"{pkg}.{name}" not in ids and f"{obj.__module__}.{name}" not in ids:
                missing.append(f"{pkg}.{name}")
    assert missing == []


def test_metric_pages_carry_the_conventions(site):
    def text(page):
        html = (site / page / "index.html").read_text("utf-8")
        return re.sub(r"<[^>]+>", "", html)

    sel = text("selective")
    assert "higher = more confident" in sel
    assert re.search(r"tie", sel, re.I) and "nan_policy" in sel
    assert re.search(r"UndefinedMetricWarning", sel)
    seg = text("segmentation")
    assert 'empty="perfect"' in seg.replace("&quot;", '"') or "perfect" in seg
    assert "one_empty" in seg and "array-axis order" in seg
    conventions = text("conventions")
    for phrase in ("higher = more confident", "[0, 1]", "NaN", "Empty input", "Single class"):
        assert phrase in conventions, phrase
