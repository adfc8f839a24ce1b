"""Absurd sizes get a clear error naming the argument, never an allocation abort (issue 10.2).

Each case runs in a subprocess: before the fix these aborted the interpreter (exit 134,
"memory allocation of ... bytes failed"), which would take the test runner down with it.
"""

import subprocess
import sys

import pytest

CASES = {
    "bins": "sel.metrics([0.9, 0.1], [0, 1], bins=2**40)",
    "n_resamples": "sel.bootstrap_ci([0.9, 0.1], [0, 1], metric='aurc', n_resamples=10**12)",
    "n_resamples (wraps)": (
        "sel.bootstrap_ci([0.9, 0.1], [0, 1], metric='aurc', n_resamples=2**62 + 1)"
    ),
    # Within the resample bound but far beyond memory: the output is reserved fallibly.
    "n_resamples (memory)": (
        "import numpy as np; from medtrust import _native; "
        "c = np.array([0.9, 0.1]); r = np.array([0.0, 1.0]); "
        "_native.bootstrap_risk([(c, r, None)] * 2000, 10**8, 0)"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_absurd_size_is_an_error_not_an_abort(name):
    code = (
        "import medtrust.selective as sel\n"
        "from medtrust.exceptions import InvalidArgumentError\n"
        "try:\n"
        f"    {CASES[name]}\n"
        "except InvalidArgumentError as e:\n"
        "    print('ERR', e)\n"
        "else:\n"
        "    print('NO ERROR')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("ERR"), p.stdout + p.stderr[-2000:]
    assert "n_resamples" in p.stdout if "n_resamples" in name else "bins" in p.stdout
