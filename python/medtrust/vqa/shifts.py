"""Distribution shifts declared as data, and leakage-aware i.i.d. / OOD splits.

(One module over 400 lines on purpose: the shift definition, its seven presets and the split
rule that reads every field of it belong together; most of the length is documentation.)

A :class:`Shift` is ``{name, dataset, attribute, ood_values}`` (+ optional ``iid_values``,
``image_level``, ``ood_splits`` and ``exclude``). Values match after normalisation (lower
case; ``_`` and ``-`` as spaces; whitespace collapsed), so ``"attribute-other"`` matches
``"ATTRIBUTE OTHER"``.

Split rule (:func:`split_shift`):

- a sample is *OOD* when its attribute is an OOD value; *i.i.d.* when it is not OOD and, if
  ``iid_values`` is given, is one of those (e.g. age ``>=60`` vs ``<40``: ages 40-59 are in
  neither set); a null attribute is in neither set; excluded samples are counted;
- i.i.d. train / val / test: the i.i.d. samples of each split;
- OOD test: the OOD samples of the splits in ``ood_splits``. By default the test split and,
  for image-level attributes (constant for each image, e.g. modality or organ), also the
  training split, as SURE-VQA does: the model never trains on these samples, and since the
  attribute is fixed per image no image of them is in the i.i.d. training set (the validation
  split is not used). For question-level attributes (content type, question type) the same
  image carries i.i.d. questions too, so only the test split is used. The MIMIC-CXR-VQA
  presets use the test split only (``ood_splits=("test",)``), as SURE-VQA does: on MIMIC the
  training split is far larger than the test split and would dominate the OOD set;
- ``exclude`` drops samples from every set before the split, e.g. the questions that give the
  shift attribute away (``{"content_type": ["gender"]}`` for the sex shift, as in SURE-VQA).

Checks: the attribute exists; an image-level attribute really is constant per image (else an
error naming the shift and an image); an empty i.i.d. test or OOD test set is an error naming
the shift and the values present; images shared between the i.i.d. training set and the OOD
test set are handled by ``on_leakage`` (``"warn"`` by default, ``"drop"`` the OOD samples,
or ``"raise"``) and counted.

The presets (:data:`PRESETS`) are the seven shifts of SURE-VQA, with its split sizes on its
exports. One deliberate difference: a null attribute is in neither set (SURE-VQA's pandas
``!=`` puts a sample with a missing value into the i.i.d. set of a shift without
``iid_values``); pass ``iid_values`` listing the i.i.d. values to be explicit either way.

Examples
--------
>>> import polars as pl
>>> from medtrust.vqa.shifts import Shift, split_shift
>>> df = pl.DataFrame({"qid": list("abcd"), "image_id": list("wxyz"),
...     "split": ["train", "test", "test", "train"], "modality": ["CT", "CT", "X-Ray", "X-Ray"]})
>>> s = split_shift(df, Shift("toy", None, "modality", ("x ray",), image_level=True))
>>> s.counts()
{'iid_train': 1, 'iid_val': 0, 'iid_test': 1, 'ood_test': 2}
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import (
    ConfigError,
    DataLeakageWarning,
    DatasetError,
    InvalidArgumentError,
)
from medtrust.io.config import read_config

if TYPE_CHECKING:
    import polars as pl

#: What :func:`split_shift` does with OOD test images also in the i.i.d. training set.
LeakagePolicy = Literal["warn", "drop", "raise"]

__all__ = [
    "PRESETS",
    "DataLeakageWarning",
    "Shift",
    "ShiftSplit",
    "get_shift",
    "split_shift",
]


def _norm(v: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_-]", " ", str(v).strip().lower())).strip()


@dataclass(frozen=True)
class Shift:
    """A distribution shift on one metadata attribute.

    Parameters
    ----------
    name
        Identifier used in tables and file names.
    dataset
        Dataset the shift is defined for (``None``: any); checked against a ``dataset`` column.
    attribute
        Metadata column that defines the shift.
    ood_values
        Attribute values of the OOD set.
    iid_values
        Attribute values of the i.i.d. set (``None``: every value that is not OOD).
    image_level
        Whether the attribute is constant per image (checked; then, by default, the training
        split's OOD samples join the OOD test set).
    description
        Free text for reports.
    ood_splits
        Splits whose OOD samples form the OOD test set (default ``("test", "train")`` when
        ``image_level``, else ``("test",)``).
    exclude
        ``{column: values}``: samples with one of these values are dropped from every set.
    """

    name: str
    dataset: str | None
    attribute: str
    ood_values: tuple[str, ...]
    iid_values: tuple[str, ...] | None = None
    image_level: bool = False
    description: str = ""
    ood_splits: tuple[str, ...] | None = None
    exclude: Any = None

    def __post_init__(self) -> None:
        if not self.name or not self.attribute:
            raise ConfigError("a shift needs a name and an attribute")
        splits = self.ood_splits
        if splits is None:
            splits = ("test", "train") if self.image_level else ("test",)
        splits = (splits,) if isinstance(splits, str) else tuple(str(x) for x in splits)
        bad = [x for x in splits if x not in ("train", "val", "test")]
        if not splits or bad:
            raise ConfigError(
                f"shift {self.name!r}: ood_splits must be a non-empty subset of train, val, "
                f"test; got {list(splits)}"
            )
        object.__setattr__(self, "ood_splits", splits)
        excl = self.exclude or {}
        if not isinstance(excl, dict) and not isinstance(excl, tuple):
            raise ConfigError(f"shift {self.name!r}: exclude must map columns to values")
        items = excl.items() if isinstance(excl, dict) else excl
        norm = tuple(
            (str(c), (v,) if isinstance(v, str) else tuple(str(x) for x in v)) for c, v in items
        )
        object.__setattr__(self, "exclude", norm)
        ood = (self.ood_values,) if isinstance(self.ood_values, str) else self.ood_values
        object.__setattr__(self, "ood_values", tuple(str(v) for v in ood))
        if not self.ood_values:
            raise ConfigError(f"shift {self.name!r}: ood_values is empty")
        if self.iid_values is not None:
            iid = (self.iid_values,) if isinstance(self.iid_values, str) else self.iid_values
            object.__setattr__(self, "iid_values", tuple(str(v) for v in iid))
            both = {_norm(v) for v in self.iid_values} & {_norm(v) for v in self.ood_values}
            if both:
                raise ConfigError(f"shift {self.name!r}: values both i.i.d. and OOD: {both}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able).

        Returns
        -------
        dict
            Plain, JSON-friendly values.
        """
        d = asdict(self)
        d["ood_values"] = list(self.ood_values)
        d["iid_values"] = None if self.iid_values is None else list(self.iid_values)
        d["ood_splits"] = list(self.ood_splits or ())
        d["exclude"] = {c: list(v) for c, v in self.exclude}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Shift:
        """Build from a dict with the field names (unknown keys are an error)."""
        allowed = set(cls.__dataclass_fields__)
        extra = set(d) - allowed
        if extra:
            raise ConfigError(f"unknown shift fields {sorted(extra)}; allowed {sorted(allowed)}")
        try:
            return cls(**{**{"dataset": None}, **d})
        except TypeError as e:
            raise ConfigError(f"invalid shift definition {d}: {e}") from e


#: The seven shifts of the SURE-VQA paper.
PRESETS: dict[str, Shift] = {
    s.name: s
    for s in (
        Shift(
            "slake_modality",
            "SLAKE",
            "modality",
            ("X-Ray",),
            None,
            True,
            "SLAKE: X-Ray images OOD, CT and MRI i.i.d.",
        ),
        Shift(
            "slake_content_type",
            "SLAKE",
            "content_type",
            ("Size",),
            None,
            False,
            "SLAKE: questions about size OOD",
        ),
        Shift("ovqa_organ", "OVQA", "organ", ("leg",), None, True, "OVQA: images of the leg OOD"),
        Shift(
            "ovqa_question_type",
            "OVQA",
            "question_type",
            ("organ system",),
            None,
            False,
            "OVQA: organ-system questions OOD",
        ),
        Shift(
            "mimic_sex",
            "MIMIC-CXR-VQA",
            "sex",
            ("F",),
            None,
            True,
            "MIMIC-CXR-VQA: female patients OOD, the others i.i.d.; questions about the "
            "patient's gender left out",
            ood_splits=("test",),
            exclude={"content_type": ("gender",)},
        ),
        Shift(
            "mimic_age",
            "MIMIC-CXR-VQA",
            "age_group",
            ("<40",),
            (">=60",),
            True,
            "MIMIC-CXR-VQA: patients under 40 OOD, 60 and over i.i.d.",
            ood_splits=("test",),
        ),
        Shift(
            "mimic_ethnicity",
            "MIMIC-CXR-VQA",
            "ethnicity_group",
            ("non-white",),
            ("white",),
            True,
            "MIMIC-CXR-VQA: non-white patients (black, asian, hispanic/latino) OOD, white "
            "i.i.d.; unknown / other in neither",
            ood_splits=("test",),
        ),
    )
}


def get_shift(spec: str | Path | dict[str, Any] | Shift) -> Shift:
    """A preset by name, a shift from a JSON / YAML file, a dict, or a :class:`Shift`.

    Parameters
    ----------
    spec
        Preset name (:data:`PRESETS`), path of a JSON / YAML file, dict of :class:`Shift` fields, or
        a :class:`Shift`.

    Returns
    -------
    Shift
        The shift definition.
    """
    if isinstance(spec, Shift):
        return spec
    if isinstance(spec, dict):
        return Shift.from_dict(spec)
    s = str(spec)
    if s in PRESETS:
        return PRESETS[s]
    p = Path(s)
    if p.suffix in (".json", ".yaml", ".yml"):
        return Shift.from_dict(read_config(p, formats=("json", "yaml"), what="shift"))
    raise ConfigError(f"unknown shift {s!r}; presets: {sorted(PRESETS)} (or a .json/.yaml file)")


@dataclass(frozen=True)
class ShiftSplit:
    """The four sets of a shift (polars DataFrames) and what was left out.

    ``n_excluded`` counts samples in neither set (null attribute, outside ``iid_values`` or
    dropped by ``exclude``);
    ``n_leaked`` counts OOD test samples whose image is also in the i.i.d. training set.

    Attributes
    ----------
    shift
        The :class:`Shift` applied.
    iid_train
        i.i.d. training samples (polars DataFrame).
    iid_val
        i.i.d. validation samples.
    iid_test
        i.i.d. test samples.
    ood_test
        OOD test samples.
    n_excluded
        Samples in no set.
    n_leaked
        OOD test samples whose image is also in the i.i.d. training set.
    values
        Samples per attribute value.
    """

    shift: Shift
    iid_train: Any
    iid_val: Any
    iid_test: Any
    ood_test: Any
    n_excluded: int = 0
    n_leaked: int = 0
    values: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of samples per set.

        Returns
        -------
        dict of str to int
            Set name -> number of samples.
        """
        return {
            "iid_train": self.iid_train.height,
            "iid_val": self.iid_val.height,
            "iid_test": self.iid_test.height,
            "ood_test": self.ood_test.height,
        }

    def test_frame(self) -> pl.DataFrame:
        """i.i.d. and OOD test samples with a ``subset`` column (``"iid"`` / ``"ood"``).

        Returns
        -------
        polars.DataFrame
            The i.i.d. and OOD test samples with a ``subset`` column.
        """
        import polars as pl

        return pl.concat(
            [
                self.iid_test.with_columns(pl.lit("iid").alias("subset")),
                self.ood_test.with_columns(pl.lit("ood").alias("subset")),
            ],
            how="diagonal_relaxed",
        )

    def to_dict(self) -> dict[str, Any]:
        """Counts and the shift definition.

        Returns
        -------
        dict
            Counts and the shift definition.
        """
        return {
            "shift": self.shift.to_dict(),
            **self.counts(),
            "n_excluded": self.n_excluded,
            "n_leaked": self.n_leaked,
            "values": dict(self.values),
        }

    def to_frame(self) -> pl.DataFrame:
        """``qid, set`` for every sample of the four sets.

        Returns
        -------
        polars.DataFrame
            Columns ``qid, set``.
        """
        import polars as pl

        parts = [
            df.select(pl.col("qid"), pl.lit(name).alias("set"))
            for name, df in (
                ("iid_train", self.iid_train),
                ("iid_val", self.iid_val),
                ("iid_test", self.iid_test),
                ("ood_test", self.ood_test),
            )
        ]
        return pl.concat(parts)


def _matches(values: Iterable[str]) -> set[str]:
    return {_norm(v) for v in values}


def split_shift(
    samples: Any,
    shift: str | Path | dict[str, Any] | Shift,
    *,
    on_leakage: LeakagePolicy = "warn",
    require_train: bool = False,
    check_dataset: bool = True,
) -> ShiftSplit:
    """Split samples into i.i.d. train / val / test and OOD test for a shift.

    Parameters
    ----------
    samples
        Sample table (:func:`medtrust.vqa.load_vqa`); needs ``qid``, ``split`` and the shift's
        attribute; ``image_id`` (or ``image``) is used for the leakage checks.
    shift
        A :class:`Shift`, a preset name, a dict or a JSON / YAML file.
    on_leakage
        ``"warn"`` (default), ``"drop"`` (remove leaked OOD samples, with a warning) or
        ``"raise"``.
    require_train
        Also require a non-empty i.i.d. training set (for fine-tuning).
    check_dataset
        Compare ``shift.dataset`` with the samples' ``dataset`` column.

    Returns
    -------
    ShiftSplit
        The i.i.d. train / val / test and OOD test sets, with what was left out.
    """
    import polars as pl

    shift = get_shift(shift)
    if on_leakage not in ("warn", "drop", "raise"):
        raise InvalidArgumentError(f"on_leakage must be warn/drop/raise, got {on_leakage!r}")
    for c in ("qid", "split", shift.attribute):
        if c not in samples.columns:
            raise DatasetError(
                f"shift {shift.name!r}: samples lack the column {c!r}; have {samples.columns}"
            )
    if check_dataset and shift.dataset is not None and "dataset" in samples.columns:
        ds = set(samples["dataset"].drop_nulls().unique().to_list())
        if ds and _norm(shift.dataset) not in {_norm(d) for d in ds}:
            raise DatasetError(
                f"shift {shift.name!r} is defined for {shift.dataset}, the samples are from "
                f"{sorted(ds)} (pass check_dataset=False to apply it anyway)"
            )
    img_col = "image_id" if "image_id" in samples.columns else "image"
    attr = pl.col(shift.attribute).cast(pl.String)
    normed = attr.str.to_lowercase().str.replace_all(r"[_-]", " ").str.replace_all(r"\s+", " ")
    normed = normed.str.strip_chars()
    ood_set = list(_matches(shift.ood_values))
    df = samples
    n_dropped = 0
    for col, vals in shift.exclude:
        if col not in df.columns:
            raise DatasetError(f"shift {shift.name!r}: exclude names {col!r}, not a column")
        val = pl.col(col).cast(pl.String).str.to_lowercase().str.replace_all(r"[_-]", " ")
        hit = val.str.replace_all(r"\s+", " ").str.strip_chars().is_in(list(_matches(vals)))
        before = df.height
        df = df.filter(~hit.fill_null(False))
        n_dropped += before - df.height
    df = df.with_columns(normed.alias("__attr"))
    is_ood = pl.col("__attr").is_in(ood_set).fill_null(False)
    if shift.iid_values is None:
        is_iid = (~pl.col("__attr").is_in(ood_set)).fill_null(False)
    else:
        is_iid = pl.col("__attr").is_in(list(_matches(shift.iid_values))).fill_null(False)
    df = df.with_columns(is_ood.alias("__ood"), is_iid.alias("__iid"))
    values = dict(df.group_by(shift.attribute).len().sort(shift.attribute, nulls_last=True).rows())
    values = {str(k): int(v) for k, v in values.items()}

    if shift.image_level and img_col in df.columns:
        mixed = (
            df.filter(pl.col(img_col).is_not_null())
            .group_by(img_col)
            .agg(pl.col("__attr").n_unique().alias("n"))
            .filter(pl.col("n") > 1)
        )
        if mixed.height:
            raise DatasetError(
                f"shift {shift.name!r}: attribute {shift.attribute!r} is declared image-level "
                f"but varies within {mixed.height} images (e.g. {mixed[img_col][0]!r}); "
                "declare image_level=False"
            )

    def part(split: str, mask: pl.Expr) -> pl.DataFrame:
        return df.filter((pl.col("split") == split) & mask)

    iid_train, iid_val, iid_test = (part(s, pl.col("__iid")) for s in ("train", "val", "test"))
    ood_parts = [part(s, pl.col("__ood")) for s in shift.ood_splits or ("test",)]
    ood_test = pl.concat(ood_parts)
    n_excluded = n_dropped + int(df.filter(~pl.col("__iid") & ~pl.col("__ood")).height)

    present = ", ".join(f"{k!r}: {v}" for k, v in values.items())
    for name, sub in (("i.i.d. test", iid_test), ("OOD test", ood_test)):
        if sub.height == 0:
            raise DatasetError(
                f"shift {shift.name!r}: the {name} set is empty ({shift.attribute} OOD values "
                f"{list(shift.ood_values)}, i.i.d. values "
                f"{'all others' if shift.iid_values is None else list(shift.iid_values)}; "
                f"values present: {present or 'none'})"
            )
    if require_train and iid_train.height == 0:
        raise DatasetError(f"shift {shift.name!r}: the i.i.d. training set is empty")

    n_leaked = 0
    if img_col in df.columns and iid_train.height:
        train_imgs = iid_train[img_col].drop_nulls().unique().implode()
        leaked = ood_test.filter(pl.col(img_col).is_in(train_imgs))
        n_leaked = leaked.height
        if n_leaked:
            msg = (
                f"shift {shift.name!r}: {n_leaked} OOD test samples show images that are also "
                f"in the i.i.d. training set"
            )
            if on_leakage == "raise":
                raise DatasetError(msg)
            if on_leakage == "drop":
                ood_test = ood_test.filter(~pl.col(img_col).is_in(train_imgs))
                msg += "; they were dropped"
                if ood_test.height == 0:
                    raise DatasetError(f"{msg}, which leaves the OOD test set empty")
            warnings.warn(msg, DataLeakageWarning, stacklevel=2)

    drop = ["__attr", "__ood", "__iid"]
    return ShiftSplit(
        shift=shift,
        iid_train=iid_train.drop(drop),
        iid_val=iid_val.drop(drop),
        iid_test=iid_test.drop(drop),
        ood_test=ood_test.drop(drop),
        n_excluded=n_excluded,
        n_leaked=n_leaked,
        values=values,
    )
