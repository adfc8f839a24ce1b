"""A small synthetic medical VQA set with predictions of several "methods" and baselines.

Images are 32 x 32 grey-level pictures of a bright blob (the "organ") whose texture depends on
the modality; each image carries modality, organ, sex and age metadata and five questions
(open: modality, organ, size; closed: "Is this a <modality> image?", "Is there an
abnormality?"). Predictions are simulated: each run answers correctly with a probability that
depends on the method, drops on OOD (X-Ray) images and without the image; wrong answers are
plausible alternatives, some closed answers hedge ("maybe"), some correct answers are
paraphrased ("Yes, it is.").

Examples
--------
>>> from medtrust.data.vqa import synthetic_vqa, synthetic_vqa_predictions
>>> s = synthetic_vqa(n_images=12, seed=0)
>>> s.select("qid", "answer_type", "split").head(2).rows()
[('0-modality', 'open', 'train'), ('0-organ', 'open', 'train')]
>>> synthetic_vqa_predictions(s, seeds=(0,), methods=("lora",)).columns[:3]
['qid', 'pred', 'model']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medtrust._extras import require

if TYPE_CHECKING:
    import polars as pl

__all__ = ["SYNTHETIC_SHIFT", "synthetic_vqa", "synthetic_vqa_predictions"]

MODALITIES = ("CT", "MRI", "X-Ray")
ORGANS = ("lung", "liver", "brain")
SIZES = ("small", "medium", "large")
#: The demo's shift (modality = X-Ray), as a :class:`~medtrust.vqa.shifts.Shift` dict.
SYNTHETIC_SHIFT = {
    "name": "synthetic_modality",
    "dataset": "synthetic",
    "attribute": "modality",
    "ood_values": ["X-Ray"],
    "image_level": True,
    "description": "synthetic: X-Ray images OOD",
}


def _image(rng: np.random.Generator, modality: str, size: str) -> np.ndarray:
    yy, xx = np.mgrid[0:32, 0:32]
    r = {"small": 5, "medium": 8, "large": 11}[size]
    cy, cx = rng.integers(11, 21, 2)
    blob = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(float)
    noise = {"CT": 0.05, "MRI": 0.15, "X-Ray": 0.3}[modality]
    img = 0.2 + 0.6 * blob + rng.normal(0, noise, (32, 32))
    if modality == "X-Ray":
        img = 1.0 - img
    return np.clip(img, 0, 1)


def synthetic_vqa(
    n_images: int = 60, *, seed: int = 0, image_dir: str | Path | None = None
) -> pl.DataFrame:
    """Samples in the canonical layout (see :mod:`medtrust.vqa.data`).

    Parameters
    ----------
    n_images
        Number of images (five questions each); splits 60 / 10 / 30 % train / val / test.
    seed
        Seed of everything random.
    image_dir
        Write the images as PNG files there and fill the ``image`` column (else null).
    """
    import polars as pl

    rng = np.random.default_rng(seed)
    rows = []
    if image_dir is not None:
        require("matplotlib", "plot")
        import matplotlib.image as mpimg

        Path(image_dir).mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        modality = MODALITIES[i % 3]
        organ = ORGANS[int(rng.integers(0, 3))]
        size = SIZES[int(rng.integers(0, 3))]
        abnormal = bool(rng.random() < 0.5)
        u = (i * 0.618034) % 1.0
        split = "train" if u < 0.6 else ("val" if u < 0.7 else "test")
        path = None
        if image_dir is not None:
            path = str(Path(image_dir) / f"img{i:04d}.png")
            mpimg.imsave(path, _image(rng, modality, size), cmap="gray", vmin=0, vmax=1)
        meta = {
            "image": path,
            "image_id": f"img{i}",
            "split": split,
            "dataset": "synthetic",
            "modality": modality,
            "organ": organ,
            "sex": "F" if rng.random() < 0.5 else "M",
            "age": float(rng.integers(20, 90)),
        }
        other = MODALITIES[(MODALITIES.index(modality) + 1 + int(rng.integers(0, 2))) % 3]
        asked = modality if rng.random() < 0.5 else other
        qs = [
            ("modality", "What modality is used to take this image?", modality, "open"),
            ("organ", "Which organ is shown in this image?", organ, "open"),
            ("size", "How large is the lesion?", size, "open"),
            (
                "is_modality",
                f"Is this a {asked} image?",
                "yes" if asked == modality else "no",
                "closed",
            ),
            ("abnormal", "Is there an abnormality?", "yes" if abnormal else "no", "closed"),
        ]
        for key, q, a, t in qs:
            content = {"size": "Size", "abnormal": "Abnormality"}.get(key, "Modality")
            if key == "organ":
                content = "Organ"
            rows.append(
                {
                    "qid": f"{i}-{key}",
                    "question": q,
                    "answer": a,
                    "answer_type": t,
                    "content_type": content,
                    **meta,
                }
            )
    df = pl.DataFrame(rows)
    front = ["qid", "image", "image_id", "question", "answer", "answer_type", "split", "dataset"]
    return df.select(front + [c for c in df.columns if c not in front]).with_columns(
        pl.lit(None, dtype=pl.List(pl.String)).alias("options")
    )


_ALTERNATIVES = {"modality": MODALITIES, "organ": ORGANS, "size": SIZES}
_SKILL = {"lora": 0.82, "ia3": 0.74, "prompt_tuning": 0.66, "none": 0.5}
_BASELINE_PENALTY = {"none": 0.0, "no_image": 0.3, "blank": 0.32, "blur_2": 0.1, "noise_2": 0.12}


def synthetic_vqa_predictions(
    samples,  # polars.DataFrame
    *,
    methods: Sequence[str] = ("lora", "ia3", "prompt_tuning"),
    seeds: Sequence[int] = (0, 1, 2),
    baselines: Sequence[str] = ("none", "no_image", "blank", "blur_2"),
    ood_modality: str = "X-Ray",
    model: str = "synthetic-llava",
) -> pl.DataFrame:
    """Simulated predictions for every (method, seed, baseline) on every sample."""
    import polars as pl

    out = []
    recs = samples.select("qid", "answer", "answer_type", "modality").rows()
    for method in methods:
        for seed in seeds:
            for baseline in baselines:
                rng = np.random.default_rng([seed, len(method), sum(map(ord, method + baseline))])
                p_ok = _SKILL.get(method, 0.6) - _BASELINE_PENALTY.get(baseline, 0.15)
                for qid, ans, atype, modality in recs:
                    p = p_ok - (0.25 if modality == ood_modality else 0.0)
                    kind = qid.split("-", 1)[1]
                    if rng.random() < p:
                        pred = ans
                        if atype == "closed" and rng.random() < 0.3:
                            pred = f"{ans.capitalize()}, it is." if ans == "yes" else "No."
                        elif atype == "open" and rng.random() < 0.3:
                            pred = f"The {ans}"
                    elif atype == "closed":
                        pred = "maybe" if rng.random() < 0.15 else ("no" if ans == "yes" else "yes")
                    else:
                        alts = [a for a in _ALTERNATIVES.get(kind, ("unknown",)) if a != ans]
                        pred = alts[int(rng.integers(0, len(alts)))] if alts else "unknown"
                    out.append((qid, pred, model, method, int(seed), baseline))
    return pl.DataFrame(
        out,
        schema={
            "qid": pl.String,
            "pred": pl.String,
            "model": pl.String,
            "method": pl.String,
            "seed": pl.Int64,
            "baseline": pl.String,
        },
        orient="row",
    )
