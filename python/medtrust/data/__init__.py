"""Synthetic data generators (no downloads: everything is generated in code)."""

from medtrust.data.classification import synthetic_classification
from medtrust.data.failure_cases import simulate_failure_case, synthetic_failure_cases
from medtrust.data.nnunet_dataset import synthetic_segmentation

__all__ = [
    "simulate_failure_case",
    "synthetic_classification",
    "synthetic_failure_cases",
    "synthetic_segmentation",
]
