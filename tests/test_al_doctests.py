"""The runnable examples in the AL-loop docstrings."""

import doctest
import importlib

import pytest

MODULES = [
    "medtrust.active.metrics",
    "medtrust.active.loop",
    "medtrust.active.loop.config",
    "medtrust.active.loop.data",
    "medtrust.active.loop.evaluation",
    "medtrust.active.loop.grid",
    "medtrust.active.loop.report",
    "medtrust.active.loop.streaming",
    "medtrust.active.loop.strategies",
    "medtrust.active.trainers.inference",
    "medtrust.active.trainers.unet",
    "medtrust.active.trainers.nnunet",
    "medtrust.io.nnunet",
    "medtrust.data.nnunet_dataset",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
    assert res.attempted > 0 or name in ("medtrust.active.loop.grid",)
