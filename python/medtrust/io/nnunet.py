"""nnU-Net v2 raw datasets: ``dataset.json``, ``imagesTr/``, ``labelsTr/``, suffix ``_0000``.

Layout (as nnU-Net v2 expects it)::

    DatasetXXX_Name/
        dataset.json      {"channel_names": {"0": "CT"}, "labels": {"background": 0, ...},
                           "numTraining": N, "file_ending": ".nii.gz"}
        imagesTr/CASE_0000.nii.gz   (one file per channel: _0000, _0001, ...)
        labelsTr/CASE.nii.gz

An ``"ignore"`` label, when present, must be the largest label (nnU-Net's rule); voxels carrying
it are unlabelled. Region-based label definitions are not supported. Files may be NIfTI,
NRRD or MetaImage (``file_ending`` ``.nii.gz``, ``.nii``, ``.nrrd``, ``.mha``, as nnU-Net's
readers): every format is read through :func:`medtrust.io.images.load_image` with the spacing in
array-axis order.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from medtrust.io import load_nnunet_dataset, write_nnunet_case, write_dataset_json
>>> root = pathlib.Path(tempfile.mkdtemp()) / "Dataset001_Toy"
>>> write_nnunet_case(root, "case_000", np.zeros((4, 8, 8), np.float32),
...                   np.zeros((4, 8, 8), np.uint8), spacing=(2.0, 1.0, 1.0))
>>> write_dataset_json(root, labels={"background": 0, "organ": 1},
...                    channel_names={"0": "MR"}, num_training=1)
>>> ds = load_nnunet_dataset(root)
>>> ds.cases, ds.class_names
(('case_000',), ('background', 'organ'))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtrust.exceptions import DatasetError
from medtrust.io.images import IMAGE_ENDINGS, load_image, save_image

__all__ = [
    "NnUNetDataset",
    "load_nnunet_dataset",
    "verify_nnunet_dataset",
    "write_dataset_json",
    "write_nnunet_case",
]

_REQUIRED_KEYS = ("channel_names", "labels", "numTraining", "file_ending")
_MAX_LISTED = 10


def _fail(root: Path, problems: Sequence[str]) -> DatasetError:
    shown = list(problems[:_MAX_LISTED])
    more = len(problems) - len(shown)
    text = "\n  - ".join(shown) + (f"\n  ... and {more} more" if more > 0 else "")
    return DatasetError(
        f"{root} is not a valid nnU-Net v2 raw dataset ({len(problems)} problem(s)):\n  - {text}"
    )


@dataclass(frozen=True)
class NnUNetDataset:
    """A validated nnU-Net v2 raw dataset (training part).

    Attributes
    ----------
    root
        Dataset folder (``.../DatasetXXX_Name``).
    labels
        Class name -> integer label, background included, ``ignore`` excluded.
    ignore_label
        Integer of the ``ignore`` label, or ``None``.
    channel_names
        Channel index (as a string) -> modality name.
    file_ending
        ``.nii.gz`` or ``.nii`` (nibabel), ``.nrrd`` or ``.mha`` (SimpleITK): see
        :mod:`medtrust.io.images`.
    cases
        Case identifiers (sorted).
    meta
        The rest of ``dataset.json``.
    """

    root: Path
    labels: dict[str, int]
    ignore_label: int | None
    channel_names: dict[str, str]
    file_ending: str
    cases: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_channels(self) -> int:
        """Number of image channels."""
        return len(self.channel_names)

    @property
    def n_classes(self) -> int:
        """Number of classes, background included (``ignore`` excluded)."""
        return len(self.labels)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names ordered by label value."""
        return tuple(sorted(self.labels, key=self.labels.__getitem__))

    def image_files(self, case: str) -> list[Path]:
        """Image files of ``case``, one per channel.

        Parameters
        ----------
        case
            Case identifier.

        Returns
        -------
        list of pathlib.Path
            ``imagesTr/<case>_XXXX<file_ending>``, one per channel in order.
        """
        return [
            self.root / "imagesTr" / f"{case}_{c:04d}{self.file_ending}"
            for c in range(self.n_channels)
        ]

    def label_file(self, case: str) -> Path:
        """Label file of ``case``.

        Parameters
        ----------
        case
            Case identifier.

        Returns
        -------
        pathlib.Path
            ``labelsTr/<case><file_ending>``.
        """
        return self.root / "labelsTr" / f"{case}{self.file_ending}"

    def read_image(self, case: str) -> tuple[np.ndarray, tuple[float, ...], Any]:
        """Image of ``case`` as float32 ``[channels, *spatial]``, its spacing and affine.

        Parameters
        ----------
        case
            Case identifier.

        Returns
        -------
        tuple
            ``(image [channels, *spatial] float32, spacing, affine)``.
        """
        arrays = []
        spacing: tuple[float, ...] = ()
        affine = None
        for f in self.image_files(case):
            a, spacing, affine = load_image(f)
            arrays.append(a.astype(np.float32, copy=False))
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise _fail(self.root, [f"{case}: channels differ in shape {sorted(shapes)}"])
        return np.stack(arrays), spacing, affine

    def read_label(self, case: str) -> tuple[np.ndarray, tuple[float, ...], Any]:
        """Label map of ``case`` (uint8 or uint16), its spacing and affine.

        Parameters
        ----------
        case
            Case identifier.

        Returns
        -------
        tuple
            ``(labels, spacing, affine)``.
        """
        a, spacing, affine = load_image(self.label_file(case))
        return _as_label_map(a, self.label_file(case)), spacing, affine


def _as_label_map(a: np.ndarray, path: Path) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.uint8)
    if not np.issubdtype(a.dtype, np.integer):
        if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise DatasetError(f"{path}: label maps must hold integers, got dtype {a.dtype}")
        if np.any(a != np.round(a)):
            raise DatasetError(f"{path}: label map has non-integer values")
    if a.size and a.min() < 0:
        raise DatasetError(f"{path}: label map has negative values (min {a.min()})")
    top = int(a.max()) if a.size else 0
    return a.astype(np.uint8 if top < 256 else np.uint16, copy=False)


def _parse_labels(raw: Any, problems: list[str]) -> tuple[dict[str, int], int | None]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append("dataset.json 'labels' must be a non-empty mapping name -> integer")
        return {}, None
    labels: dict[str, int] = {}
    for name, value in raw.items():
        if isinstance(value, (list, tuple)):
            problems.append(f"label {name!r}: region-based labels are not supported")
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"label {name!r} must be a non-negative integer, got {value!r}")
            continue
        labels[str(name)] = value
    ignore = labels.pop("ignore", None)
    values = sorted(labels.values())
    if values and values[0] != 0:
        problems.append("labels must include background = 0")
    if values and values != list(range(len(values))):
        problems.append(f"label values must be consecutive 0..{len(values) - 1}, got {values}")
    if ignore is not None and values and ignore != values[-1] + 1:
        problems.append(
            f"the 'ignore' label must be the largest label ({values[-1] + 1}), got {ignore}"
        )
    return labels, ignore


def _case_ids(folder: Path, ending: str) -> list[str]:
    return sorted(p.name[: -len(ending)] for p in folder.iterdir() if p.name.endswith(ending))


def load_nnunet_dataset(root: str | Path) -> NnUNetDataset:
    """Open an nnU-Net v2 raw dataset, checking ``dataset.json`` and the file layout.

    Every problem found is listed in one :class:`~medtrust.exceptions.DatasetError`: missing
    folders or keys, bad labels, label files without images (per channel), images without
    labels, ``numTraining`` disagreeing with the files. File contents are not read; use
    :func:`verify_nnunet_dataset` for that.

    Parameters
    ----------
    root
        Dataset folder (``.../DatasetXXX_Name``).

    Returns
    -------
    NnUNetDataset
        The validated dataset description.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    djson = root / "dataset.json"
    if not djson.is_file():
        raise _fail(root, ["dataset.json is missing"])
    try:
        meta = json.loads(djson.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _fail(root, [f"dataset.json is not UTF-8 text (JSON must be UTF-8): {e}"]) from e
    except json.JSONDecodeError as e:
        raise _fail(root, [f"dataset.json is not valid JSON: {e}"]) from e
    if not isinstance(meta, dict):
        raise _fail(root, ["dataset.json must hold a JSON object"])
    problems = [f"dataset.json lacks the key {k!r}" for k in _REQUIRED_KEYS if k not in meta]
    if "modality" in meta and "channel_names" not in meta:
        problems.append("dataset.json looks like nnU-Net v1 ('modality'); v2 uses 'channel_names'")
    labels, ignore = _parse_labels(meta.get("labels"), problems)
    channels = meta.get("channel_names", {})
    if not isinstance(channels, Mapping) or not channels:
        problems.append("'channel_names' must be a non-empty mapping like {'0': 'CT'}")
        channels = {}
    elif set(channels) != {str(i) for i in range(len(channels))}:  # numeric: '10' after '9'
        problems.append(f"channel_names keys must be '0'..'{len(channels) - 1}'")
    ending = meta.get("file_ending", ".nii.gz")
    if ending not in IMAGE_ENDINGS:
        problems.append(f"file_ending must be one of {list(IMAGE_ENDINGS)}, got {ending!r}")
    for sub in ("imagesTr", "labelsTr"):
        if not (root / sub).is_dir():
            problems.append(f"folder {sub}/ is missing")
    if problems:
        raise _fail(root, problems)
    cases = _case_ids(root / "labelsTr", ending)
    if not cases:
        problems.append(f"labelsTr/ holds no *{ending} files")
    image_names = {p.name for p in (root / "imagesTr").iterdir()}
    n_ch = len(channels)
    for case in cases:
        for c in range(n_ch):
            if f"{case}_{c:04d}{ending}" not in image_names:
                problems.append(f"imagesTr/{case}_{c:04d}{ending} is missing (label exists)")
    expected = {f"{case}_{c:04d}{ending}" for case in cases for c in range(n_ch)}
    orphans = sorted(n for n in image_names if n.endswith(ending) and n not in expected)
    problems += [f"imagesTr/{n} has no label file (or a wrong channel suffix)" for n in orphans]
    n_train = meta.get("numTraining")
    if isinstance(n_train, int) and cases and n_train != len(cases):
        problems.append(f"numTraining is {n_train} but labelsTr/ holds {len(cases)} cases")
    if problems:
        raise _fail(root, problems)
    return NnUNetDataset(
        root=root,
        labels=labels,
        ignore_label=ignore,
        channel_names={str(k): str(channels[k]) for k in sorted(channels, key=int)},
        file_ending=ending,
        cases=tuple(cases),
        meta=meta,
    )


def verify_nnunet_dataset(
    root: str | Path, *, spacing_tolerance: float = 1e-3, progress: bool = False
) -> NnUNetDataset:
    """Like :func:`load_nnunet_dataset`, and also read every file.

    Checks that the channels and the label of each case agree in shape and spacing (relative
    tolerance ``spacing_tolerance``), that labels are integers within the declared labels, and
    that files are readable. All problems are listed in one error.

    Parameters
    ----------
    root
        Dataset folder (``.../DatasetXXX_Name``).
    spacing_tolerance
        Relative tolerance when comparing the spacings of a case's files.
    progress
        Show a progress bar over the cases.

    Returns
    -------
    NnUNetDataset
        The validated dataset description.
    """
    from medtrust._io import progress as bar

    ds = load_nnunet_dataset(root)
    top = (ds.ignore_label if ds.ignore_label is not None else ds.n_classes - 1) or 0
    problems: list[str] = []
    for case in bar(ds.cases, desc="verify", enabled=progress):
        try:
            lab, lsp, _ = load_image(ds.label_file(case))
            lab = _as_label_map(lab, ds.label_file(case))
            if lab.size and int(lab.max()) > top:
                problems.append(f"{case}: label value {int(lab.max())} > largest label {top}")
            for f in ds.image_files(case):
                img, isp, _ = load_image(f)
                if img.shape != lab.shape:
                    problems.append(
                        f"{case}: image {f.name} has shape {img.shape}, label has {lab.shape}"
                    )
                elif not np.allclose(isp, lsp, rtol=spacing_tolerance):
                    problems.append(f"{case}: image {f.name} has spacing {isp}, label has {lsp}")
                elif not np.issubdtype(img.dtype, np.number) or not np.isfinite(img).all():
                    problems.append(f"{case}: image {f.name} has non-finite values")
        except DatasetError as e:
            problems.append(str(e))
    if problems:
        raise _fail(ds.root, problems)
    return ds


def write_nnunet_case(
    root: str | Path,
    case: str,
    image: np.ndarray | Sequence[np.ndarray],
    label: np.ndarray | None,
    *,
    spacing: Sequence[float],
    file_ending: str = ".nii.gz",
    affine: Any = None,
) -> None:
    """Write one case: ``image`` (one array per channel, or a single array) and ``label``.

    Parameters
    ----------
    root
        Dataset folder (``.../DatasetXXX_Name``).
    case
        Case identifier.
    image
        One array per channel, or a single array (one channel).
    label
        Label map (None: no label file).
    spacing
        Voxel size per array axis.
    file_ending
        File ending of the written files.
    affine
        4x4 affine (default: diagonal with the spacing).
    """
    root = Path(root)
    channels: Iterable[np.ndarray] = [image] if isinstance(image, np.ndarray) else image
    if isinstance(image, np.ndarray) and image.ndim == len(spacing) + 1:
        channels = list(image)
    for c, arr in enumerate(channels):
        save_image(
            root / "imagesTr" / f"{case}_{c:04d}{file_ending}", arr, spacing=spacing, affine=affine
        )
    if label is not None:
        save_image(
            root / "labelsTr" / f"{case}{file_ending}", label, spacing=spacing, affine=affine
        )


def write_dataset_json(
    root: str | Path,
    *,
    labels: Mapping[str, int],
    channel_names: Mapping[str, str],
    num_training: int,
    file_ending: str = ".nii.gz",
    ignore_label: bool = False,
    **extra: Any,
) -> None:
    """Write ``dataset.json``; ``ignore_label=True`` adds ``"ignore": max label + 1``.

    Parameters
    ----------
    root
        Dataset folder (``.../DatasetXXX_Name``).
    labels
        Class name -> integer label (background included).
    channel_names
        Channel index (as a string) -> modality name.
    num_training
        Number of training cases.
    file_ending
        Image file ending.
    ignore_label
        Add an ``ignore`` label one above the largest.
    extra
        Other keys written as given.
    """
    from medtrust._io import atomic_write_json

    labs = {str(k): int(v) for k, v in labels.items()}
    if ignore_label:
        labs["ignore"] = max(labs.values()) + 1
    meta = {
        "channel_names": {str(k): str(v) for k, v in channel_names.items()},
        "labels": labs,
        "numTraining": int(num_training),
        "file_ending": file_ending,
        **extra,
    }
    atomic_write_json(Path(root) / "dataset.json", meta)
