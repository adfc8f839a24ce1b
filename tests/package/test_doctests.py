"""Every docstring example in the package runs (one collection over every module)."""

import doctest
import importlib
import pkgutil

import pytest

import medtrust

# Modules that need an optional extra skip with the reason when it is missing.
_EXTRA_IMPORTS = {"torch": "torch", "transformers": "vqa", "nnunetv2": "nnunet"}


def _modules() -> list[str]:
    names = ["medtrust"]
    for info in pkgutil.walk_packages(medtrust.__path__, prefix="medtrust."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as e:  # pragma: no cover - only without an extra
        extra = _EXTRA_IMPORTS.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        pytest.skip(f"{name} needs the [{extra}] extra ({e.name} is not installed)")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(mod, name, module=mod):
        runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"
