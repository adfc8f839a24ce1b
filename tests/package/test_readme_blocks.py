"""Every ```python block of README.md runs as written, each in a fresh temporary folder.

A block that cannot run on a test machine (real datasets, model weights, a cluster) is preceded
by ``<!-- not-run: reason -->``; those are few and each gives its reason.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.*?)\s*-->")
#: More than this many skipped blocks means the README shows code nobody checks.
MAX_NOT_RUN = 3


def _blocks():
    """(first line number, code, not-run reason or None) of every ```python block."""
    lines = README.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            m = NOT_RUN.search(prev)
            out.append((start + 1, "\n".join(lines[start:end]), m.group(1) if m else None))
            i = end + 1
        else:
            i += 1
    return out


BLOCKS = _blocks()


def test_the_readme_has_python_blocks_and_few_are_skipped():
    assert len(BLOCKS) >= 8
    skipped = [(line, why) for line, _, why in BLOCKS if why is not None]
    assert len(skipped) <= MAX_NOT_RUN, skipped
    assert all(why for _, why in skipped), "a not-run mark must give its reason"


def test_the_block_parser_sees_marks_and_code():
    # The parser itself, on a known README-like text (so a broken parser cannot pass silently).
    text = "x\n<!-- not-run: needs a GPU -->\n```python\na = 1\n```\n\n```python\nb = 2\n```\n"
    assert NOT_RUN.search(text.splitlines()[1]).group(1) == "needs a GPU"
    assert BLOCKS and all(code.strip() for _, code, _ in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "code", "why"), BLOCKS, ids=[f"README.md:{line}" for line, _, _ in BLOCKS]
)
def test_readme_block_runs(line, code, why, tmp_path):
    if why is not None:
        pytest.skip(f"README.md:{line} marked not-run: {why}")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    # The package under test, whether installed or imported from the source tree.
    src = str(README.parent / "python")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"README.md:{line} failed:\n{proc.stderr[-3000:]}"
