r"""VQA samples: loaders for SLAKE, OVQA, MIMIC-CXR-VQA exports and a generic layout.

(Over 400 lines: the four layouts share the record helpers and the layout detection reads all
of them; moving MIMIC-CXR-VQA's demographics into a module of its own, with the helpers in a
third one so that the import graph keeps no cycle, is the next split.)

Every loader returns one polars DataFrame with the canonical columns

``qid`` (str), ``image`` (path or null), ``image_id``, ``question``, ``answer``,
``answer_type`` (``"open"`` / ``"closed"``), ``split`` (``"train"`` / ``"val"`` / ``"test"``),
``dataset``, ``options`` (list of the choices of a closed question, or null)

plus flat metadata columns (``modality``, ``organ``, ``content_type``, ``sex``, ``age``,
``age_group``, ``ethnicity``, ``ethnicity_group``, ...; whatever the layout provides).

Layouts
-------
SLAKE
    ``root/{train,validate,test}.json`` (``validation.json`` also accepted): lists of records
    with ``qid, img_id, img_name, question, answer, answer_type (OPEN/CLOSED), q_lang,
    location, modality, content_type, base_type``; images under ``root/imgs/<img_name>``.
    Only English questions are kept by default (``lang="en"``).
OVQA
    ``root/{trainset,valset,testset}.json`` (``train/validate/test.json`` also accepted):
    records with ``qid, image_name, image_organ, question, answer, answer_type,
    question_type``; images under ``root/img/<image_name>``.
MIMIC-CXR-VQA
    ``root/{train,valid,test}.json`` (``validate.json`` also accepted): records of the
    dataset's builder (``idx, image_id, image_path, question, semantic_type, content_type,
    template, template_arguments, answer`` as a list, ``subject_id, study_id``) or of the
    SURE-VQA export (``qid``, ``answer`` as a string, ``answer_type``, ``list_categories``,
    ``gender``, ``age``, ``ethnicity``). Demographics are read from, in order: SURE-VQA's
    fields ``gender`` / ``age`` / ``ethnicity``; its earlier names ``subject_gender`` /
    ``subject_anchor_age`` / ``subject_ethnicity``; MIMIC-IV's ``anchor_age`` / ``race``; a
    ``metadata`` object with ``gender`` / ``anchor_age`` / ``age`` / ``race`` /
    ``ethnicity``. Derived columns: ``sex`` (F/M), ``age``, ``age_group`` (``<40``,
    ``40-59``, ``>=60``), ``ethnicity`` (SURE-VQA's five categories ``WHITE``, ``BLACK``,
    ``ASIAN``, ``HISPANIC/LATINO``, ``UNKNOWN/OTHER``; a MIMIC-IV race string or a list of
    them, one per admission, is grouped as SURE-VQA does: an exact list per category, so
    ``"SOUTH AMERICAN"`` is ``UNKNOWN/OTHER``; several categories other than
    ``UNKNOWN/OTHER`` give ``UNKNOWN/OTHER``) and ``ethnicity_group`` (``white`` /
    ``non-white`` / ``unknown``). Images are resolved against ``images_root`` (default
    ``root``).
generic
    JSONL, JSON (a list) or Parquet with the canonical columns; a ``metadata`` object is
    flattened into columns; a missing ``split`` column means ``"test"``.

If the same qid occurs in several split files, every qid is prefixed with its split
(``"test/17"``) and a :class:`~medtrust.exceptions.MedtrustWarning` says so.

Examples
--------
>>> import json, tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> rec = {"qid": 1, "question": "Is this a CT?", "answer": "yes", "answer_type": "closed"}
>>> _ = (root / "data.jsonl").write_text(json.dumps(rec) + "\n")
>>> load_vqa(root / "data.jsonl").select("qid", "answer_type", "split").row(0)
('1', 'closed', 'test')
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import DatasetError, InvalidArgumentError, MedtrustWarning
from medtrust.io.tables import read_records, read_table

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "LAYOUTS",
    "REQUIRED_COLUMNS",
    "load_generic",
    "load_mimic_cxr_vqa",
    "load_ovqa",
    "load_slake",
    "load_vqa",
    "validate_samples",
]

#: Columns every sample table has.
REQUIRED_COLUMNS: tuple[str, ...] = ("qid", "question", "answer", "answer_type", "split")
#: Names accepted by :func:`load_vqa` for ``layout``.
LAYOUTS: tuple[str, ...] = ("auto", "slake", "ovqa", "mimic", "generic")
#: A dataset layout of :func:`load_vqa`.
Layout = Literal["auto", "slake", "ovqa", "mimic", "generic"]
SPLITS: tuple[str, ...] = ("train", "val", "test")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validate": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
}


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    return read_records(path, what="dataset")


def _find(root: Path, names: Iterable[str]) -> Path | None:
    for n in names:
        if (root / n).is_file():
            return root / n
    return None


def _split_files(root: Path, candidates: dict[str, tuple[str, ...]], layout: str) -> dict:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{layout}: {root} is not a folder")
    found = {split: _find(root, names) for split, names in candidates.items()}
    if not any(found.values()):
        expected = ", ".join(n for names in candidates.values() for n in names)
        raise DatasetError(f"{layout}: no split file in {root} (expected one of: {expected})")
    return {s: p for s, p in found.items() if p is not None}


def _lower(v: Any) -> str | None:
    return None if v is None else str(v).strip().lower()


def _frame(rows: list[dict[str, Any]], dataset: str) -> pl.DataFrame:
    import polars as pl

    if not rows:
        raise DatasetError(f"{dataset}: no samples found")
    for r in rows:
        r.setdefault("dataset", dataset)
        if r.get("image_id") is None:
            r["image_id"] = r.get("image")
    _dedupe_qids(rows, dataset)
    df = pl.from_dicts(rows, infer_schema_length=None)
    if "options" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("options"))
    front = ["qid", "image", "image_id", "question", "answer", "answer_type", "split", "dataset"]
    front = [c for c in front if c in df.columns]
    return df.select(front + [c for c in df.columns if c not in front])


def _dedupe_qids(rows: list[dict[str, Any]], dataset: str) -> None:
    seen: dict[str, str] = {}
    clash = False
    for r in rows:
        q = r["qid"]
        if q in seen and seen[q] != r["split"]:
            clash = True
            break
        seen[q] = r["split"]
    if clash:
        for r in rows:
            r["qid"] = f"{r['split']}/{r['qid']}"
        warnings.warn(
            f"{dataset}: qids repeat across split files; every qid is prefixed with its split "
            f"('test/17'); {len(rows)} qids renamed",
            MedtrustWarning,
            stacklevel=3,
        )


def load_slake(root: str | Path, *, lang: str | None = "en") -> pl.DataFrame:
    """Load a SLAKE folder (see the module docstring for the layout).

    Parameters
    ----------
    root
        SLAKE folder.
    lang
        Keep only this language (``"en"`` default, ``"zh"``; None: both).

    Returns
    -------
    polars.DataFrame
        The sample table.
    """
    root = Path(root)
    files = _split_files(
        root,
        {
            "train": ("train.json",),
            "val": ("validate.json", "validation.json", "val.json"),
            "test": ("test.json",),
        },
        "SLAKE",
    )
    rows = []
    for split, path in files.items():
        for i, r in enumerate(_read_json_list(path)):
            if lang is not None and r.get("q_lang", lang) != lang:
                continue
            _require(r, ("question", "answer", "img_name"), path, i)
            img = r["img_name"]
            rows.append(
                {
                    "qid": str(r.get("qid", f"{split}-{i}")),
                    "image": str(root / "imgs" / img),
                    "image_id": str(r.get("img_id", img)),
                    "question": str(r["question"]),
                    "answer": str(r["answer"]),
                    "answer_type": _answer_type(r.get("answer_type"), r["answer"]),
                    "split": split,
                    "modality": r.get("modality"),
                    "organ": r.get("location"),
                    "content_type": r.get("content_type"),
                    "base_type": r.get("base_type"),
                    "q_lang": r.get("q_lang"),
                }
            )
    return _frame(rows, "SLAKE")


def load_ovqa(root: str | Path) -> pl.DataFrame:
    """Load an OVQA folder (see the module docstring for the layout).

    Parameters
    ----------
    root
        OVQA folder.

    Returns
    -------
    polars.DataFrame
        The sample table.
    """
    root = Path(root)
    files = _split_files(
        root,
        {
            "train": ("trainset.json", "train.json"),
            "val": ("valset.json", "validate.json", "val.json"),
            "test": ("testset.json", "test.json"),
        },
        "OVQA",
    )
    rows = []
    for split, path in files.items():
        for i, r in enumerate(_read_json_list(path)):
            _require(r, ("question", "answer", "image_name"), path, i)
            img = r["image_name"]
            rows.append(
                {
                    "qid": str(r.get("qid", f"{split}-{i}")),
                    "image": str(root / "img" / img),
                    "image_id": str(img).rsplit(".", 1)[0],
                    "question": str(r["question"]),
                    "answer": str(r["answer"]),
                    "answer_type": _answer_type(r.get("answer_type"), r["answer"]),
                    "split": split,
                    "organ": r.get("image_organ"),
                    "question_type": r.get("question_type"),
                    "phrase_type": r.get("phrase_type"),
                }
            )
    return _frame(rows, "OVQA")


def _answer_type(value: Any, answer: Any) -> str:
    v = _lower(value)
    if v in ("open", "closed"):
        return v
    return "closed" if _lower(answer) in ("yes", "no") else "open"


def _require(r: Any, keys: Iterable[str], path: Path, i: int) -> None:
    if not isinstance(r, dict):
        raise DatasetError(f"{path}: record {i} is not an object")
    missing = [k for k in keys if r.get(k) is None]
    if missing:
        raise DatasetError(f"{path}: record {i} lacks {missing}")


# MIMIC-IV race strings per category, as SURE-VQA groups them (anything else: UNKNOWN/OTHER).
_RACES: dict[str, frozenset[str]] = {
    "WHITE": frozenset(
        {
            "WHITE",
            "WHITE - RUSSIAN",
            "PORTUGUESE",
            "WHITE - OTHER EUROPEAN",
            "WHITE - BRAZILIAN",
            "WHITE - EASTERN EUROPEAN",
        }
    ),
    "BLACK": frozenset(
        {"BLACK/AFRICAN AMERICAN", "BLACK/CAPE VERDEAN", "BLACK/AFRICAN", "BLACK/CARIBBEAN ISLAND"}
    ),
    "ASIAN": frozenset(
        {
            "ASIAN",
            "ASIAN - CHINESE",
            "ASIAN - SOUTH EAST ASIAN",
            "ASIAN - KOREAN",
            "ASIAN - ASIAN INDIAN",
        }
    ),
    "HISPANIC/LATINO": frozenset(
        {
            "HISPANIC/LATINO - DOMINICAN",
            "HISPANIC/LATINO - SALVADORAN",
            "HISPANIC/LATINO - PUERTO RICAN",
            "HISPANIC/LATINO - GUATEMALAN",
            "HISPANIC OR LATINO",
            "HISPANIC/LATINO - MEXICAN",
            "HISPANIC/LATINO - CUBAN",
            "HISPANIC/LATINO - HONDURAN",
            "HISPANIC/LATINO - COLUMBIAN",
            "HISPANIC/LATINO - CENTRAL AMERICAN",
        }
    ),
}
_UNKNOWN = "UNKNOWN/OTHER"
_CATEGORIES = (*_RACES, _UNKNOWN)


def _race_category(race: str) -> str:
    s = race.strip().upper()
    if s in _CATEGORIES:  # already grouped (SURE-VQA's export)
        return s
    for name, members in _RACES.items():
        if s in members:
            return name
    return _UNKNOWN


def _ethnicity(race: Any) -> tuple[str | None, str]:
    """(category, group) of a MIMIC race string or list; group is white / non-white / unknown.

    A list (one race per admission) gives its one category other than UNKNOWN/OTHER, or
    UNKNOWN/OTHER when there are none or several.
    """
    if race is None:
        return None, "unknown"
    races = race if isinstance(race, (list, tuple)) else [race]
    cats = {_race_category(str(r)) for r in races if r is not None}
    if not cats:
        return None, "unknown"
    known = cats - {_UNKNOWN}
    cat = known.pop() if len(known) == 1 else _UNKNOWN
    group = "unknown" if cat == _UNKNOWN else ("white" if cat == "WHITE" else "non-white")
    return cat, group


def _first(r: dict[str, Any], meta: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if r.get(k) is not None:
            return r[k]
    for k in keys:
        if meta.get(k) is not None:
            return meta[k]
    return None


def age_group(age: Any) -> str | None:
    """``"<40"``, ``"40-59"``, ``">=60"`` or None (the bins of the SURE-VQA age shift)."""
    if age is None:
        return None
    try:
        a = float(age)
    except (TypeError, ValueError):
        return None
    if a != a:
        return None
    return "<40" if a < 40 else ("40-59" if a < 60 else ">=60")


def _mimic_options(r: dict[str, Any]) -> list[str] | None:
    cats = r.get("list_categories")
    if isinstance(cats, list) and cats:
        return [str(c) for c in cats]
    sem = r.get("semantic_type")
    if sem == "verify":
        return ["yes", "no"]
    if sem == "choose":
        m = re.search(r"([\w\s-]+?),? or (?:the )?([\w\s-]+?)\?\s*$", str(r.get("question", "")))
        if m:
            a = m.group(1).split(",")[-1].strip()
            a = re.sub(r"^.*\b(?:the|between|in|either)\s+", "", a)
            opts = [a, m.group(2).strip()]
            if {o.lower() for o in opts} <= {"ap", "pa", "male", "female"}:
                return opts
            return [*opts, "both", "none"]
    return None


def _mimic_answer(r: dict[str, Any]) -> str:
    ans = r.get("answer")
    if not isinstance(ans, list):
        return str(ans)
    sem = r.get("semantic_type")
    if sem == "choose" and len(ans) == 2:
        return "both"
    if len(ans) == 0:
        return "none"
    vals = [{"f": "female", "m": "male"}.get(str(a), str(a)) for a in ans]
    if r.get("content_type") == "gender" or sem == "choose":
        return vals[0]
    return ", ".join(vals)


def load_mimic_cxr_vqa(root: str | Path, *, images_root: str | Path | None = None) -> pl.DataFrame:
    """Load MIMIC-CXR-VQA split files (see the module docstring for both record layouts).

    Parameters
    ----------
    root
        Folder of the split files.
    images_root
        Folder of the MIMIC-CXR-JPG images (default: ``root``).

    Returns
    -------
    polars.DataFrame
        The sample table.
    """
    root = Path(root)
    img_root = Path(images_root) if images_root is not None else root
    files = _split_files(
        root,
        {
            "train": ("train.json",),
            "val": ("valid.json", "validate.json", "val.json"),
            "test": ("test.json",),
        },
        "MIMIC-CXR-VQA",
    )
    rows = []
    for split, path in files.items():
        for i, r in enumerate(_read_json_list(path)):
            _require(r, ("question", "answer"), path, i)
            meta: dict[str, Any] = r["metadata"] if isinstance(r.get("metadata"), dict) else {}
            sex = _first(r, meta, ("gender", "subject_gender", "sex"))
            sex = None if sex is None else {"female": "F", "male": "M"}.get(str(_lower(sex)), sex)
            age = _first(r, meta, ("age", "subject_anchor_age", "anchor_age"))
            age_val = None
            if age is not None:
                try:
                    age_val = float(age)
                except (TypeError, ValueError):
                    age_val = None
            eth_raw = _first(r, meta, ("ethnicity", "subject_ethnicity", "race"))
            eth, group = _ethnicity(eth_raw)
            sem = r.get("semantic_type")
            atype = r.get("answer_type")
            if atype is None and sem is not None:
                atype = "closed" if sem in ("verify", "choose") else "open"
            answer = _mimic_answer(r)
            image = r.get("image_path")
            rows.append(
                {
                    "qid": str(r.get("qid", r.get("idx", f"{split}-{i}"))),
                    "image": None if image is None else str(img_root / image),
                    "image_id": str(r.get("image_id", image)),
                    "question": str(r["question"]),
                    "answer": answer,
                    "answer_type": _answer_type(atype, answer),
                    "split": split,
                    "options": _mimic_options(r),
                    "content_type": r.get("content_type"),
                    "semantic_type": sem,
                    "subject_id": None if r.get("subject_id") is None else str(r["subject_id"]),
                    "study_id": None if r.get("study_id") is None else str(r["study_id"]),
                    "sex": None if sex is None else str(sex).upper(),
                    "age": age_val,
                    "age_group": age_group(age_val),
                    "ethnicity": eth,
                    "ethnicity_group": group,
                }
            )
    return _frame(rows, "MIMIC-CXR-VQA")


def load_generic(path: str | Path, *, dataset: str | None = None) -> pl.DataFrame:
    """Load a JSONL / JSON / Parquet file with the canonical columns.

    Parameters
    ----------
    path
        A ``.jsonl``, ``.json`` or ``.parquet`` file with the canonical columns.
    dataset
        Value of the ``dataset`` column when the file has none.

    Returns
    -------
    polars.DataFrame
        The sample table (:data:`REQUIRED_COLUMNS` and optional ones).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such file: {path}")
    if path.suffix == ".parquet":
        rows = read_table(path, formats=("parquet",), what="dataset").to_dicts()
    elif path.suffix in (".jsonl", ".json"):
        rows = _read_json_list(path)
    else:
        raise DatasetError(f"generic layout: expected .jsonl, .json or .parquet, got {path.name}")
    out = []
    for i, r in enumerate(rows):
        _require(r, ("qid", "question", "answer"), path, i)
        r = dict(r)
        meta = r.pop("metadata", None)
        if isinstance(meta, dict):
            for k, v in meta.items():
                r.setdefault(k, v)
        r["qid"] = str(r["qid"])
        r["answer"] = str(r["answer"])
        r["answer_type"] = _answer_type(r.get("answer_type"), r["answer"])
        r["split"] = _SPLIT_ALIASES.get(_lower(r.get("split")) or "test", r.get("split"))
        if r.get("image") is not None:
            img = Path(str(r["image"]))
            r["image"] = str(img if img.is_absolute() else path.parent / img)
        else:
            r["image"] = None
        out.append(r)
    return _frame(out, dataset or path.stem)


_SPLIT_NAMES = (
    "test.json",
    "train.json",
    "validate.json",
    "valid.json",
    "validation.json",
    "val.json",
    "testset.json",
    "trainset.json",
    "valset.json",
)


def _detect(path: Path) -> str:
    """The layout of a folder, from the fields of its records (file names are shared)."""
    if path.is_file():
        return "generic"
    # SURE-VQA writes train / validate / test.json for SLAKE, OVQA and MIMIC alike, so the
    # records decide; the file and folder names only break ties.
    for name in _SPLIT_NAMES:
        if (path / name).is_file():
            first = _read_json_list(path / name)[:1]
            if not first or not isinstance(first[0], dict):
                continue
            keys = set(first[0])
            if "img_name" in keys:
                return "slake"
            if "image_name" in keys or "image_organ" in keys:
                return "ovqa"
            mimic = {"semantic_type", "image_path", "subject_id", "list_categories", "study_id"}
            if keys & mimic:
                return "mimic"
    if (path / "trainset.json").is_file() or (path / "testset.json").is_file():
        return "ovqa"
    if (path / "imgs").is_dir():
        return "slake"
    if (path / "valid.json").is_file():
        return "mimic"
    raise DatasetError(f"cannot tell the layout of {path}; pass layout= explicitly")


def load_vqa(path: str | Path, *, layout: Layout = "auto", **kwargs: Any) -> pl.DataFrame:
    """Load a VQA dataset in any supported layout and validate it.

    Parameters
    ----------
    path
        A folder (SLAKE, OVQA, MIMIC-CXR-VQA) or a file (generic).
    layout
        One of :data:`LAYOUTS`; ``"auto"`` detects it from the files present.
    **kwargs
        Passed to the layout's loader (``lang=``, ``images_root=``, ``dataset=``).

    Returns
    -------
    polars.DataFrame
        The validated sample table (:func:`validate_samples`).
    """
    if layout not in LAYOUTS:
        raise InvalidArgumentError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no such file or folder: {path}")
    kind = _detect(path) if layout == "auto" else layout
    loaders: dict[str, Callable[..., Any]] = {
        "slake": load_slake,
        "ovqa": load_ovqa,
        "mimic": load_mimic_cxr_vqa,
        "generic": load_generic,
    }
    loader = loaders[kind]
    df = loader(path, **kwargs)
    validate_samples(df)
    return df


def validate_samples(df: Any) -> None:
    """Raise :class:`~medtrust.exceptions.DatasetError` unless ``df`` is a valid sample table.

    Checks: the columns of :data:`REQUIRED_COLUMNS`, no null qid / question / answer, unique
    qids, ``answer_type`` in open / closed and ``split`` in train / val / test.

    Parameters
    ----------
    df
        The sample table (polars DataFrame).
    """
    import polars as pl

    if not isinstance(df, pl.DataFrame):
        raise DatasetError(f"samples must be a polars DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"samples lack the columns {missing}; have {df.columns}")
    if df.height == 0:
        raise DatasetError("no samples")
    for c in ("qid", "question", "answer"):
        n = df[c].null_count()
        if n:
            raise DatasetError(f"{n} samples have a null {c!r}")
    dup = df.filter(pl.col("qid").is_duplicated())["qid"].unique().sort()
    if dup.len():
        raise DatasetError(
            f"{dup.len()} duplicate qids in the samples, e.g. {dup.head(5).to_list()}"
        )
    bad = df.filter(~pl.col("answer_type").is_in(["open", "closed"]))
    if bad.height:
        raise DatasetError(
            f"answer_type must be 'open' or 'closed'; {bad.height} samples have "
            f"{bad['answer_type'].unique().head(5).to_list()}"
        )
    bad = df.filter(~pl.col("split").is_in(list(SPLITS)))
    if bad.height:
        raise DatasetError(
            f"split must be one of {SPLITS}; {bad.height} samples have "
            f"{bad['split'].unique().head(5).to_list()}"
        )
