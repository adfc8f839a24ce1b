"""The folder layout of a failure-detection evaluation.

::

    pred/                      one folder per case
      case_001/
        member_0.nii.gz        label map of ensemble member 0 (any *.nii / *.nii.gz names,
        member_1.nii.gz        sorted; at least one)
        prediction.nii.gz      optional: the segmentation to evaluate (default: argmax of the
                               mean probabilities, or the members' majority vote)
        probs_0.npz            optional: softmax [C, *spatial] of member 0 (.npz or .npy,
        probs_1.npz            names starting with "prob")
      case_002/ ...
    labels/
      case_001.nii.gz          reference label map of each case
    domains.json               {"case_001": "iid", "case_002": "shift_noise", ...}
                               or a CSV with columns case,domain

Examples
--------
>>> from medtrust.io import load_domains
>>> import tempfile, pathlib, json
>>> p = pathlib.Path(tempfile.mkdtemp()) / "domains.json"
>>> _ = p.write_text(json.dumps({"a": "iid", "b": "noise"}))
>>> load_domains(p)
{'a': 'iid', 'b': 'noise'}
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtrust.exceptions import DatasetError
from medtrust.io.tables import read_table

__all__ = ["CaseFiles", "find_cases", "load_domains"]

_NIFTI = (".nii", ".nii.gz")


def _is_nifti(p: Path) -> bool:
    return p.name.endswith(_NIFTI)


def _stem(p: Path) -> str:
    return p.name[: -len(".nii.gz")] if p.name.endswith(".nii.gz") else p.name[: -len(".nii")]


@dataclass(frozen=True)
class CaseFiles:
    """The files of one case (paths only; nothing is loaded).

    ``pred_file`` is the optional segmentation to evaluate, ``target_file`` the reference
    label map (``prediction`` and ``label`` are their deprecated old names).

    Attributes
    ----------
    case
        Case identifier.
    members
        Label-map files of the ensemble members.
    probabilities
        Softmax files of the members (may be empty).
    pred_file
        The segmentation to evaluate, if any.
    target_file
        The reference label map.
    domain
        The case's domain.
    """

    case: str
    members: tuple[Path, ...]
    probabilities: tuple[Path, ...]
    pred_file: Path | None
    target_file: Path
    domain: str

    @property
    def prediction(self) -> Path | None:
        """Deprecated name of :attr:`pred_file`."""
        warnings.warn(
            "CaseFiles.prediction is deprecated; use pred_file", DeprecationWarning, stacklevel=2
        )
        return self.pred_file

    @property
    def label(self) -> Path:
        """Deprecated name of :attr:`target_file`."""
        warnings.warn(
            "CaseFiles.label is deprecated; use target_file", DeprecationWarning, stacklevel=2
        )
        return self.target_file


def load_domains(path: str | Path) -> dict[str, str]:
    """Map case -> domain from a JSON object or a CSV/TSV with columns ``case`` and ``domain``.

    Parameters
    ----------
    path
        JSON object or CSV / TSV file.

    Returns
    -------
    dict of str to str
        Case -> domain.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no such domain file: {path}")
    if path.suffix == ".json":
        # A JSON domain file is one object case -> domain, not a table of records.
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise DatasetError(f"{path} must hold an object case -> domain")
        return _checked_domains(path, data)
    if path.suffix in (".csv", ".tsv"):
        df = read_table(path, formats=("csv", "tsv"), what="domain")
        missing = {"case", "domain"} - set(df.columns)
        if missing:
            raise DatasetError(f"{path} lacks column(s) {sorted(missing)}; has {df.columns}")
        return _checked_domains(
            path, dict(zip(df["case"].cast(str).to_list(), df["domain"].cast(str).to_list()))
        )
    raise DatasetError(f"domain file must be .json, .csv or .tsv, got {path.name}")


def _checked_domains(path: Path, data: dict[Any, Any]) -> dict[str, str]:
    # A null domain became the string "None" (or a TypeError when sorting the groups).
    bad = [str(k) for k, v in data.items() if v is None or (isinstance(v, str) and not v.strip())]
    if bad:
        raise DatasetError(f"{path}: case(s) {bad[:5]} have no domain (null or empty)")
    return {str(k): str(v) for k, v in data.items()}


def find_cases(
    pred_dir: str | Path, labels_dir: str | Path, domains: dict[str, str] | str | Path
) -> list[CaseFiles]:
    """List every case of the layout above.

    Checks that each case has members, a label and a domain; errors name the case.

    Parameters
    ----------
    pred_dir
        Folder of the predictions (members, probabilities).
    labels_dir
        Folder of the reference label maps.
    domains
        Mapping case -> domain, or a JSON / CSV / TSV file of it (:func:`load_domains`).

    Returns
    -------
    list of CaseFiles
        One entry per case, sorted by case.
    """
    pred_dir, labels_dir = Path(pred_dir), Path(labels_dir)
    for d, what in ((pred_dir, "prediction"), (labels_dir, "labels")):
        if not d.is_dir():
            raise DatasetError(f"{what} folder not found: {d}")
    dom = domains if isinstance(domains, dict) else load_domains(domains)
    labels = {_stem(p): p for p in labels_dir.iterdir() if _is_nifti(p)}
    cases = []
    for folder in sorted(p for p in pred_dir.iterdir() if p.is_dir()):
        name = folder.name
        files = sorted(folder.iterdir())
        prediction = next((p for p in files if _is_nifti(p) and _stem(p) == "prediction"), None)
        members = tuple(p for p in files if _is_nifti(p) and _stem(p) != "prediction")
        probs = tuple(
            p for p in files if p.name.startswith("prob") and p.suffix in (".npz", ".npy")
        )
        if not members and not probs:
            raise DatasetError(f"case {name}: no member label maps or probabilities in {folder}")
        if name not in labels:
            raise DatasetError(f"case {name}: no label file {name}.nii(.gz) in {labels_dir}")
        if name not in dom:
            raise DatasetError(f"case {name}: no domain in the domain map")
        cases.append(CaseFiles(name, members, probs, prediction, labels[name], dom[name]))
    if not cases:
        raise DatasetError(f"no case folders in {pred_dir}")
    return cases
