"""Sanity baselines: image ablations for the inference harness and the answer prior.

Baseline names (the ``baseline`` column of predictions; ``"none"`` is the model itself):

- ``no_image``: the image is left out of the prompt (the spec's "none" ablation);
- ``blank``: a constant image (value ``blank_value``, default 0) of the same size and mode;
- ``blur_1`` / ``blur_2`` / ``blur_3``: Gaussian blur with sigma 1 %, 2.5 %, 5 % of the
  shorter image side;
- ``brightness_1`` / ``_2`` / ``_3``: brightness multiplied by 1.5, 2, 3 (PIL
  ``ImageEnhance.Brightness``);
- ``noise_1`` / ``_2`` / ``_3``: additive Gaussian noise with standard deviation 5 %, 10 %,
  20 % of the intensity range, clipped; the noise is seeded per (seed, qid), so the same
  sample gets the same noise in every run;
- ``answer_prior``: text only, no model: the most frequent training answer of the question.

Examples
--------
>>> from PIL import Image
>>> from medtrust.vqa.baselines import ablate_image
>>> img = Image.new("RGB", (64, 64), (200, 100, 50))
>>> ablate_image(img, "blank").getpixel((0, 0)), ablate_image(img, "no_image") is None
((0, 0, 0), True)
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import TYPE_CHECKING, Any

from medtrust.exceptions import DatasetError, InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "IMAGE_BASELINES",
    "STRENGTHS",
    "ablate_image",
    "answer_prior",
    "parse_baseline",
]

ABLATIONS: tuple[str, ...] = ("no_image", "blank", "blur", "brightness", "noise")
#: Strength levels 1, 2, 3 of each corruption.
STRENGTHS: dict[str, tuple[float, float, float]] = {
    "blur": (0.01, 0.025, 0.05),  # sigma / shorter side
    "brightness": (1.5, 2.0, 3.0),  # multiplicative factor
    "noise": (0.05, 0.10, 0.20),  # std / intensity range
}
#: Every baseline that needs the model (image ablations).
IMAGE_BASELINES: tuple[str, ...] = (
    "no_image",
    "blank",
    *(f"{k}_{i}" for k in ("blur", "brightness", "noise") for i in (1, 2, 3)),
)
#: Every baseline name.
BASELINES: tuple[str, ...] = (*IMAGE_BASELINES, "answer_prior")


def parse_baseline(name: str) -> tuple[str, int]:
    """``"blur_2"`` -> ``("blur", 2)``; ``"blank"`` -> ``("blank", 0)``; errors on others."""
    if name in ("no_image", "blank", "none", "answer_prior"):
        return name, 0
    kind, _, level = name.rpartition("_")
    if kind in STRENGTHS and level in ("1", "2", "3"):
        return kind, int(level)
    raise InvalidArgumentError(f"unknown baseline {name!r}; known: none, {', '.join(BASELINES)}")


def ablate_image(
    image: Any, baseline: str, *, seed: int = 0, key: str = "", blank_value: int = 0
) -> Any:
    """The image a baseline shows the model (a new PIL image), or None for ``no_image``.

    Parameters
    ----------
    image
        PIL image (modes other than L / RGB are converted to RGB).
    baseline
        ``"none"`` (unchanged copy) or an image baseline of :data:`IMAGE_BASELINES`.
    seed, key
        Seed of the noise stream; ``key`` (the qid) makes it per sample.
    """
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    kind, level = parse_baseline(baseline)
    if kind == "answer_prior":
        raise InvalidArgumentError("answer_prior is text-only; it has no image")
    if kind == "no_image":
        return None
    img = image if image.mode in ("L", "RGB") else image.convert("RGB")
    if kind == "none":
        return img.copy()
    if kind == "blank":
        fill = blank_value if img.mode == "L" else (blank_value,) * 3
        return Image.new(img.mode, img.size, fill)
    s = STRENGTHS[kind][level - 1]
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=s * min(img.size)))
    if kind == "brightness":
        return ImageEnhance.Brightness(img).enhance(s)
    rng = np.random.default_rng([int(seed), zlib.crc32(str(key).encode("utf-8"))])
    arr = np.asarray(img, dtype=np.float64)
    noisy = arr + rng.normal(0.0, s * 255.0, arr.shape)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), mode=img.mode)


def answer_prior(train: Any, test: Any) -> pl.DataFrame:
    """Predict the most frequent training answer of each test question (text only).

    Questions are matched after :func:`~medtrust.vqa.metrics.normalize_answer`. A question not
    seen in training gets the most frequent training answer of its answer type, else of the
    whole training set; ``prior_source`` says which (``question`` / ``answer_type`` /
    ``global``). Ties go to the alphabetically first normalised answer.

    Returns
    -------
    polars.DataFrame
        ``qid, pred, model="answer_prior", method="none", seed=0, baseline="answer_prior",
        prior_source``.
    """
    import polars as pl

    from medtrust.vqa.metrics import normalize_answer

    for name, df in (("train", train), ("test", test)):
        missing = [c for c in ("qid", "question", "answer_type") if c not in df.columns]
        if name == "train":
            missing += [c for c in ("answer",) if c not in df.columns]
        if missing:
            raise DatasetError(f"answer_prior: the {name} table lacks {missing}")
    if train.height == 0:
        raise DatasetError("answer_prior: the training set is empty")

    def best(answers: list[str]) -> str:
        counts = Counter(normalize_answer(a) for a in answers)
        top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return min(a for a in answers if normalize_answer(a) == top)

    by_q: dict[str, list[str]] = {}
    by_t: dict[str, list[str]] = {}
    for q, a, t in train.select("question", "answer", "answer_type").iter_rows():
        by_q.setdefault(normalize_answer(q), []).append(str(a))
        by_t.setdefault(t, []).append(str(a))
    q_best = {k: best(v) for k, v in by_q.items()}
    t_best = {k: best(v) for k, v in by_t.items()}
    g_best = best([a for v in by_t.values() for a in v])
    preds, sources = [], []
    for q, t in test.select("question", "answer_type").iter_rows():
        nq = normalize_answer(q)
        if nq in q_best:
            preds.append(q_best[nq])
            sources.append("question")
        elif t in t_best:
            preds.append(t_best[t])
            sources.append("answer_type")
        else:
            preds.append(g_best)
            sources.append("global")
    return pl.DataFrame(
        {
            "qid": test["qid"].cast(pl.String),
            "pred": preds,
            "model": "answer_prior",
            "method": "none",
            "seed": 0,
            "baseline": "answer_prior",
            "prior_source": sources,
        },
        schema_overrides={"seed": pl.Int64},
    )
