"""medtrust: how far to trust a medical-imaging model.

Four jobs, one package:

- :mod:`medtrust.selective`: risk-coverage metrics (AURC, AUGRC, ...), bootstrap CIs, CSFs;
- :mod:`medtrust.segmentation` / :mod:`medtrust.failure`: segmentation quality and failure
  detection;
- :mod:`medtrust.active`: active learning for 3D segmentation;
- :mod:`medtrust.vqa`: robustness of vision-language models in medical VQA;

with the statistics they share in :mod:`medtrust.analysis` and file readers in :mod:`medtrust.io`.

Heavy dependencies (torch, transformers, nnunetv2) load only inside the functions that need them.

Examples
--------
>>> import medtrust
>>> medtrust.selective.aurc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1])
0.1875
"""

from __future__ import annotations

import importlib
from typing import Any

from medtrust import exceptions
from medtrust._native import __version__, num_threads

__all__ = ["__version__", "exceptions", "num_threads", "selective"]

_SUBMODULES = {
    "selective",
    "segmentation",
    "uncertainty",
    "failure",
    "active",
    "vqa",
    "analysis",
    "io",
    "data",
}


def __getattr__(name: str) -> Any:
    # Subpackages import lazily so `import medtrust` stays cheap.
    if name in _SUBMODULES:
        return importlib.import_module(f"medtrust.{name}")
    raise AttributeError(f"module 'medtrust' has no attribute {name!r}")
