"""Pixel uncertainty of ensembles, streamed over members (shared by failure detection and AL).

Examples
--------
>>> import numpy as np
>>> from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence
>>> acc = EnsembleAccumulator(n_classes=2)
>>> for p in (0.8, 0.6):
...     acc.add(np.array([[p], [1 - p]], dtype=np.float32))
>>> round(float(acc.predictive_entropy()[0]), 4), round(float(pixel_confidence(acc, "msr")[0]), 2)
(0.6109, 0.7)
"""

from medtrust.uncertainty.accumulator import (
    CONFIDENCE_KINDS,
    Backend,
    ConfidenceKind,
    EnsembleAccumulator,
    argmax_labels,
    pixel_confidence,
)
from medtrust.uncertainty.slabs import SlabAccumulator

__all__ = [
    "CONFIDENCE_KINDS",
    "Backend",
    "ConfidenceKind",
    "EnsembleAccumulator",
    "SlabAccumulator",
    "argmax_labels",
    "pixel_confidence",
]
