"""Every error a binding raises is a MedtrustError subclass (issue 9.5).

Before, aggregate.rs, surface.rs and overlap.rs raised bare ValueError / TypeError that escape
``except MedtrustError``.
"""

from pathlib import Path

import numpy as np
import pytest

from medtrust import _native
from medtrust.exceptions import (
    DTypeError,
    InvalidArgumentError,
    MedtrustError,
    ShapeMismatchError,
)

ROOT = Path(__file__).resolve().parents[2]
U8 = np.zeros((4, 4), np.uint8)


CASES = [
    (
        "aggregate shapes",
        lambda: _native.aggregate_confidence(np.zeros((4, 4), np.float32), np.zeros((4, 5), bool)),
        ShapeMismatchError,
    ),
    (
        "surface kind",
        lambda: _native.surface_distances(U8 > 0, U8 > 0, [1.0, 1.0], "edges"),
        InvalidArgumentError,
    ),
    (
        "surface shapes",
        lambda: _native.surface_distances(U8 > 0, np.zeros((4, 5), bool), [1.0, 1.0]),
        ShapeMismatchError,
    ),
    (
        "label dtypes differ",
        lambda: _native.confusion_counts(U8.ravel(), U8.ravel().astype(np.int32), 2),
        DTypeError,
    ),
    ("no members", lambda: _native.pairwise_counts([], 2), InvalidArgumentError),
    (
        "non-contiguous map",
        lambda: _native.confusion_counts(np.zeros((4, 8), np.uint8)[:, ::2], U8, 2),
        InvalidArgumentError,
    ),
    (
        "unknown confidence",
        lambda: _native.uncertainty_confidence_maps(
            np.zeros(8, np.float32), np.zeros(4, np.float32), 2, 1, ["nope"]
        ),
        InvalidArgumentError,
    ),
]


@pytest.mark.parametrize(("name", "call", "expected"), CASES, ids=[c[0] for c in CASES])
def test_binding_errors_are_medtrust_errors(name, call, expected):
    with pytest.raises(expected) as info:
        call()
    assert isinstance(info.value, MedtrustError)


def test_no_binding_raises_builtin_exceptions_directly():
    # Every binding error goes through errors.rs's typed handles.
    for path in (ROOT / "rust" / "python" / "src").glob("*.rs"):
        text = path.read_text()
        for name in ("PyValueError", "PyTypeError", "PyRuntimeError"):
            assert name not in text, f"{path.name} uses {name}"
