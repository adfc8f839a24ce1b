"""MEDTRUST_NUM_THREADS: invalid values warn once instead of silently using all cores (10.10)."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import medtrust.selective
    from medtrust import _native
    medtrust.selective.aurc([0.9, 0.1], [0, 1])
print(json.dumps({
    "threads": _native.num_threads(),
    "warnings": [(w.category.__name__, str(w.message)) for w in caught
                 if "MEDTRUST_NUM_THREADS" in str(w.message)],
}))
"""


def _probe(value):
    env = {**os.environ, "MEDTRUST_NUM_THREADS": value}
    p = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_invalid_thread_counts_warn_once_with_the_accepted_values(value):
    got = _probe(value)
    assert len(got["warnings"]) == 1, got
    category, message = got["warnings"][0]
    assert category == "MedtrustWarning"
    assert repr(value).replace("'", '"') in message
    assert "integer >= 1" in message and "all cores" in message
    assert got["threads"] >= 1


@pytest.mark.parametrize("value", ["2", " 1 ", ""])
def test_valid_thread_counts_do_not_warn(value):
    got = _probe(value)
    assert got["warnings"] == []
    if value.strip():
        assert got["threads"] == int(value)
