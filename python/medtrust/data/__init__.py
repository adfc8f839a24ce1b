"""Synthetic data generators (no downloads: everything is generated in code)."""

from medtrust.data.classification import synthetic_classification
from medtrust.data.nnunet_dataset import synthetic_nnunet_dataset
from medtrust.data.segmentation import synthetic_segmentation

__all__ = [
    "synthetic_classification",
    "synthetic_nnunet_dataset",
    "synthetic_segmentation",
]
