"""Reading and writing medical images and evaluation folders.

- NIfTI via nibabel: :func:`load_nifti` / :func:`load_labels` return ``(array, spacing,
  affine)`` with the spacing in array-axis order; :func:`save_nifti` writes atomically.
- NRRD / MetaImage via SimpleITK, NIfTI via nibabel, chosen by ending: :func:`load_image` /
  :func:`save_image` (same array order, spacing and RAS affine; :mod:`medtrust.io.images`).
- Probabilities from .npz / .npy: :func:`load_probabilities`.
- nnU-Net v2 raw datasets (``dataset.json``, ``imagesTr/``, ``labelsTr/``): open and check
  with :func:`load_nnunet_dataset` / :func:`verify_nnunet_dataset`, write with
  :func:`write_nnunet_case` and :func:`write_dataset_json` (see :mod:`medtrust.io.nnunet`).
- Tables (CSV / TSV, Parquet, JSON Lines, JSON -> polars) with :func:`read_table` /
  :func:`read_records`, and configs (JSON / YAML / TOML -> dict) with :func:`read_config`: the
  one reader of each kind every job uses (see :mod:`medtrust.io.tables`, :mod:`medtrust.io.config`).
- nnActive round files (``loop_XXX.json``), stored in SimpleITK axis order and converted to
  medtrust's (nibabel) array order in one place: :mod:`medtrust.io.rounds`.
- The per-case folder layout of failure-detection evaluations: :func:`find_cases`,
  :func:`load_domains` (see :mod:`medtrust.io.layout`).
"""

from medtrust.io.config import read_config
from medtrust.io.images import IMAGE_ENDINGS, load_image, save_image
from medtrust.io.layout import CaseFiles, find_cases, load_domains
from medtrust.io.nifti import load_labels, load_nifti, load_probabilities, save_nifti
from medtrust.io.nnunet import (
    NnUNetDataset,
    load_nnunet_dataset,
    verify_nnunet_dataset,
    write_dataset_json,
    write_nnunet_case,
)
from medtrust.io.tables import read_records, read_table

__all__ = [
    "IMAGE_ENDINGS",
    "CaseFiles",
    "NnUNetDataset",
    "find_cases",
    "load_domains",
    "load_image",
    "load_labels",
    "load_nifti",
    "load_nnunet_dataset",
    "load_probabilities",
    "read_config",
    "read_records",
    "read_table",
    "save_image",
    "save_nifti",
    "verify_nnunet_dataset",
    "write_dataset_json",
    "write_nnunet_case",
]
