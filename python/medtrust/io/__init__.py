"""Reading and writing medical images and evaluation folders.

- NIfTI via nibabel: :func:`load_nifti` / :func:`load_labels` return ``(array, spacing,
  affine)`` with the spacing in array-axis order; :func:`save_nifti` writes atomically.
- Probabilities from .npz / .npy: :func:`load_probabilities`.
- The per-case folder layout of failure-detection evaluations: :func:`find_cases`,
  :func:`load_domains` (see :mod:`medtrust.io.layout`).
"""

from medtrust.io.layout import CaseFiles, find_cases, load_domains
from medtrust.io.nifti import load_labels, load_nifti, load_probabilities, save_nifti

__all__ = [
    "CaseFiles",
    "find_cases",
    "load_domains",
    "load_labels",
    "load_nifti",
    "load_probabilities",
    "save_nifti",
]
