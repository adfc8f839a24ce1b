"""Synthetic data generators (no downloads: everything is generated in code)."""

from medtrust.data.classification import synthetic_classification
from medtrust.data.segmentation import synthetic_segmentation

__all__ = ["synthetic_classification", "synthetic_segmentation"]
