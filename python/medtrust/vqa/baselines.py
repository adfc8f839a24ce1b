"""Sanity baselines: image ablations for the inference harness and the answer prior.

Baseline names (the ``baseline`` column of predictions; ``"none"`` is the model itself):

- ``no_image``: the image is left out of the prompt (the spec's "none" ablation);
- ``blank``: a constant image (value ``blank_value``, default 0) of the same size and mode;
- ``blur_k`` / ``brightness_k`` / ``noise_k`` (``k`` = 1, 2, 3 for low / medium / high): one
  corruption at a time, with the settings of ``scheme``;
- ``corrupt_k``: SURE-VQA's corruption baseline at strength ``k``: blur, brightness and noise
  are each applied (in that order) with probability ``p`` = 0.5 at that strength, and when none
  was drawn one of the three is chosen at random;
- ``answer_prior``: text only, no model: the most frequent training answer of the question.

Corruption settings (``scheme``):

``"sure_vqa"`` (default, SURE-VQA's values, so that numbers are comparable with the paper)
    blur: Gaussian kernel of 5 / 7 / 11 pixels as OpenCV's ``GaussianBlur`` with sigma 0
    gives it (binomial kernels ``[1 4 6 4 1]/16`` and ``[1 6 15 20 15 6 1]/64`` for 5 and 7,
    a sampled Gaussian with sigma 2.0 for 11; nominal sigmas 1.1 / 1.4 / 2.0 px), mirrored
    borders; brightness: pixel values times a factor drawn from U[1.1, 2] / U[2.5, 4] /
    U[4.5, 6], rounded and saturated at 255; noise: one grey Gaussian field (the same for
    every channel) with standard deviation 0.1 and a mean drawn from U[0, 0.06] /
    U[0.09, 0.15] / U[0.18, 0.25] (in units of the intensity range), added, clipped and
    truncated to integers. Differences: the random draws come from a generator seeded per
    (seed, qid), so a rerun shows every sample the same image (SURE-VQA draws from the global
    random state); our float blur may differ from OpenCV's fixed-point one by one grey level.
``"medtrust"`` (this package's earlier settings)
    blur: PIL Gaussian blur with sigma 1 %, 2.5 %, 5 % of the shorter image side; brightness:
    times 1.5, 2, 3 (PIL ``ImageEnhance.Brightness``); noise: independent Gaussian noise per
    channel with standard deviation 5 %, 10 %, 20 % of the intensity range, clipped.

Examples
--------
>>> from PIL import Image
>>> from medtrust.vqa.baselines import ablate_image
>>> img = Image.new("RGB", (64, 64), (200, 100, 50))
>>> ablate_image(img, "blank").getpixel((0, 0)), ablate_image(img, "no_image") is None
((0, 0, 0), True)
>>> ablate_image(img, "blur_1").getpixel((30, 30))  # a constant image stays constant
(200, 100, 50)
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

from medtrust.exceptions import DatasetError, InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "IMAGE_BASELINES",
    "SCHEMES",
    "STRENGTHS",
    "SURE_VQA_STRENGTHS",
    "ablate_image",
    "answer_prior",
    "parse_baseline",
    "sure_vqa_blur_kernel",
]

ABLATIONS: tuple[str, ...] = ("no_image", "blank", "blur", "brightness", "noise", "corrupt")
#: Corruption settings (see the module docstring).
#: Corruption settings: SURE-VQA's (the default) or medtrust's earlier ones.
Scheme = Literal["sure_vqa", "medtrust"]
SCHEMES: tuple[str, ...] = ("sure_vqa", "medtrust")
#: Strength levels 1, 2, 3 of each corruption of the ``"medtrust"`` scheme.
STRENGTHS: dict[str, tuple[float, float, float]] = {
    "blur": (0.01, 0.025, 0.05),  # sigma / shorter side
    "brightness": (1.5, 2.0, 3.0),  # multiplicative factor
    "noise": (0.05, 0.10, 0.20),  # std / intensity range
}
#: Strength levels 1, 2, 3 (low, medium, high) of SURE-VQA's corruptions.
SURE_VQA_STRENGTHS: dict[str, tuple[Any, Any, Any]] = {
    "blur": (5, 7, 11),  # kernel size in pixels
    "brightness": ((1.1, 2.0), (2.5, 4.0), (4.5, 6.0)),  # factor ~ U[lo, hi]
    "noise": ((0.0, 0.06), (0.09, 0.15), (0.18, 0.25)),  # mean ~ U[lo, hi]; std 0.1
}
_SURE_NOISE_STD = 0.1
# OpenCV's kernels for GaussianBlur(..., sigma=0) with 5 and 7 taps (its small-kernel table).
_BINOMIAL = {5: (1, 4, 6, 4, 1), 7: (1, 6, 15, 20, 15, 6, 1)}
_CORRUPTIONS = ("blur", "brightness", "noise")
#: Every baseline that needs the model (image ablations).
IMAGE_BASELINES: tuple[str, ...] = (
    "no_image",
    "blank",
    *(f"{k}_{i}" for k in (*_CORRUPTIONS, "corrupt") for i in (1, 2, 3)),
)
#: Every baseline name.
BASELINES: tuple[str, ...] = (*IMAGE_BASELINES, "answer_prior")


def parse_baseline(name: str) -> tuple[str, int]:
    """``"blur_2"`` -> ``("blur", 2)``; ``"blank"`` -> ``("blank", 0)``; errors on others.

    Parameters
    ----------
    name
        Baseline name (:data:`BASELINES`).

    Returns
    -------
    tuple of (str, int)
        Base name and corruption level (0 when none).
    """
    if name in ("no_image", "blank", "none", "answer_prior"):
        return name, 0
    kind, _, level = name.rpartition("_")
    if kind in (*_CORRUPTIONS, "corrupt") and level in ("1", "2", "3"):
        return kind, int(level)
    raise InvalidArgumentError(f"unknown baseline {name!r}; known: none, {', '.join(BASELINES)}")


def ablate_image(
    image: Any,
    baseline: str,
    *,
    seed: int = 0,
    key: str = "",
    blank_value: int = 0,
    scheme: Scheme = "sure_vqa",
    p: float = 0.5,
) -> Any:
    """The image a baseline shows the model (a new PIL image), or None for ``no_image``.

    Parameters
    ----------
    image
        PIL image (modes other than L / RGB are converted to RGB).
    baseline
        ``"none"`` (unchanged copy) or an image baseline of :data:`IMAGE_BASELINES`.
    seed, key
        Seed of the random draws; ``key`` (the qid) makes them per sample.
    blank_value
        Constant of the ``blank`` image.
    scheme
        Corruption settings, ``"sure_vqa"`` (default) or ``"medtrust"`` (see the module
        docstring); ``corrupt_k`` always uses SURE-VQA's.
    p
        Probability of each corruption in ``corrupt_k`` (SURE-VQA's default 0.5).

    Returns
    -------
    PIL.Image.Image or None
        The image shown to the model, or None for ``no_image``.
    """
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    if scheme not in SCHEMES:
        raise InvalidArgumentError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if not 0 <= p <= 1:
        raise InvalidArgumentError(f"p must be in [0, 1], got {p}")
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
    rng = np.random.default_rng([int(seed), zlib.crc32(str(key).encode("utf-8"))])
    if kind == "corrupt" or scheme == "sure_vqa":
        arr = np.asarray(img, dtype=np.uint8)
        if kind == "corrupt":
            chosen = [c for c in _CORRUPTIONS if rng.random() < p]
            if not chosen:  # SURE-VQA: never the clean image
                chosen = [_CORRUPTIONS[int(rng.integers(0, 3))]]
        else:
            chosen = [kind]
        for c in chosen:
            arr = _SURE_VQA[c](arr, level, rng)
        return Image.fromarray(arr, mode=img.mode)
    s = STRENGTHS[kind][level - 1]
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=s * min(img.size)))
    if kind == "brightness":
        return ImageEnhance.Brightness(img).enhance(s)
    arr = np.asarray(img, dtype=np.float64)
    noisy = arr + rng.normal(0.0, s * 255.0, arr.shape)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), mode=img.mode)


def sure_vqa_blur_kernel(size: int):  # -> numpy.ndarray
    """The 1-D kernel of OpenCV's ``GaussianBlur`` with sigma 0 for an odd ``size``.

    Examples
    --------
    >>> sure_vqa_blur_kernel(5).tolist()
    [0.0625, 0.25, 0.375, 0.25, 0.0625]
    """
    import numpy as np

    if size in _BINOMIAL:
        k = np.asarray(_BINOMIAL[size], dtype=np.float64)
        return k / k.sum()
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8  # OpenCV's sigma for sigma = 0
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _sure_blur(arr: Any, level: int, rng: Any) -> Any:
    import numpy as np
    from scipy.ndimage import convolve1d

    k = sure_vqa_blur_kernel(SURE_VQA_STRENGTHS["blur"][level - 1])
    out = arr.astype(np.float64)
    # "mirror" reflects about the edge pixel (OpenCV's default BORDER_REFLECT_101)
    for axis in (0, 1):
        out = convolve1d(out, k, axis=axis, mode="mirror")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _sure_brightness(arr: Any, level: int, rng: Any) -> Any:
    import numpy as np

    lo, hi = SURE_VQA_STRENGTHS["brightness"][level - 1]
    factor = rng.uniform(lo, hi)
    return np.clip(np.rint(arr.astype(np.float64) * factor), 0, 255).astype(np.uint8)


def _sure_noise(arr: Any, level: int, rng: Any) -> Any:
    import numpy as np

    lo, hi = SURE_VQA_STRENGTHS["noise"][level - 1]
    mean = rng.uniform(lo, hi)
    field = rng.normal(mean, _SURE_NOISE_STD, arr.shape[:2])  # grey: one field for all channels
    if arr.ndim == 3:
        field = field[:, :, None]
    return np.clip(arr + field * 255.0, 0, 255).astype(np.uint8)


_SURE_VQA = {"blur": _sure_blur, "brightness": _sure_brightness, "noise": _sure_noise}


def answer_prior(train: Any, test: Any) -> pl.DataFrame:
    """Predict the most frequent training answer of each test question (text only).

    Questions are matched after :func:`~medtrust.vqa.metrics.normalize_answer`. A question not
    seen in training gets the most frequent training answer of its answer type, else of the
    whole training set; ``prior_source`` says which (``question`` / ``answer_type`` /
    ``global``). Ties go to the alphabetically first normalised answer.

    Parameters
    ----------
    train
        Training samples (``question``, ``answer``, ``answer_type``).
    test
        Test samples (``qid``, ``question``, ``answer_type``).

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
