"""Synthetic data generators (no downloads: everything is generated in code)."""

from medtrust.data.classification import synthetic_classification

__all__ = ["synthetic_classification"]
