"""Inference harness for Hugging Face VLMs (LLaVA-style processor + ``generate``).

(Slightly over 400 lines on purpose: config, model loading, prompt building and the run loop
share the harness settings; fine-tuning reuses them from here.)

One :class:`HarnessConfig` produces predictions of the model itself (``baseline="none"``) and
of every sanity baseline (:data:`~medtrust.vqa.baselines.BASELINES`): the image ablations run
the same model on ablated images (or without the image), the answer prior needs no model.

The prompt is ``prompt`` with ``{question}`` filled in; its ``<image>`` placeholder becomes the
processor's image token. Without an image (``no_image``) ``prompt_no_image`` is used and no
pixel values are passed. Decoding is greedy; ``seed`` seeds torch before each baseline.

Closed yes/no questions (``answer_type == "closed"`` with options yes / no, or without options
and a yes / no answer) get ``closed_suffix`` appended to the question, as SURE-VQA appends a
choose-from-[yes, no] instruction at inference (our wording; set ``closed_suffix`` to SURE-VQA's
sentence to reproduce it exactly, or to ``""`` to leave questions as they are). Image
corruptions follow ``corruption_scheme`` (``"sure_vqa"`` by default, see
:mod:`medtrust.vqa.baselines`).

Needs the ``vqa`` extra (``pip install 'medtrust[vqa]'``).

Examples
--------
>>> from medtrust.vqa.harness import HarnessConfig
>>> cfg = HarnessConfig(model_path="llava-hf/llava-1.5-7b-hf", baselines=("no_image",))
>>> cfg.runs()
['none', 'no_image']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtrust._settings import reject_unknown
from medtrust.exceptions import ConfigError, DatasetError, InvalidArgumentError
from medtrust.io.config import read_config
from medtrust.vqa.baselines import (
    BASELINES,
    SCHEMES,
    Scheme,
    ablate_image,
    answer_prior,
    parse_baseline,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = ["HarnessConfig", "load_images", "load_vlm", "run_inference"]

log = logging.getLogger(__name__)

DEFAULT_PROMPT = "USER: <image>\n{question} Answer briefly. ASSISTANT:"
DEFAULT_PROMPT_NO_IMAGE = "USER: {question} Answer briefly. ASSISTANT:"
#: Appended to closed yes/no questions (our wording of SURE-VQA's instruction).
DEFAULT_CLOSED_SUFFIX = " Choose from the two options: [yes, no]."


@dataclass(frozen=True)
class HarnessConfig:
    """What to run: model, prompt, generation settings and baselines.

    Parameters
    ----------
    model_path
        Model folder or hub id (loaded with ``AutoModelForImageTextToText``).
    processor_path
        Processor folder (default ``model_path``).
    adapter_path
        PEFT adapter to apply (from :func:`medtrust.vqa.finetune.finetune`).
    model_name, method, seed
        Recorded in the ``model``, ``method``, ``seed`` columns of the predictions.
    prompt, prompt_no_image
        Templates with ``{question}``; ``prompt`` contains ``<image>``.
    max_new_tokens, batch_size
        Generation length and batch size.
    device, dtype
        Torch device (default cuda when available) and weight dtype name.
    baselines
        Baselines to run besides the model (default: all of them).
    blank_value
        Constant of the ``blank`` image.
    corruption_scheme
        ``"sure_vqa"`` (default) or ``"medtrust"``: the settings of the blur / brightness /
        noise baselines.
    closed_suffix
        Appended to closed yes/no questions (``""``: nothing).
    """

    model_path: str | None = None
    processor_path: str | None = None
    adapter_path: str | None = None
    model_name: str | None = None
    method: str = "none"
    seed: int = 0
    prompt: str = DEFAULT_PROMPT
    prompt_no_image: str = DEFAULT_PROMPT_NO_IMAGE
    max_new_tokens: int = 32
    batch_size: int = 8
    device: str | None = None
    dtype: str = "auto"
    baselines: tuple[str, ...] = BASELINES
    blank_value: int = 0
    corruption_scheme: Scheme = "sure_vqa"
    closed_suffix: str = DEFAULT_CLOSED_SUFFIX

    def __post_init__(self) -> None:
        object.__setattr__(self, "baselines", tuple(self.baselines))
        if self.corruption_scheme not in SCHEMES:
            raise ConfigError(
                f"corruption_scheme must be one of {SCHEMES}, got {self.corruption_scheme!r}"
            )
        for b in self.baselines:
            parse_baseline(b)
        if "{question}" not in self.prompt or "{question}" not in self.prompt_no_image:
            raise ConfigError("prompt and prompt_no_image must contain {question}")
        if "<image>" not in self.prompt:
            raise ConfigError("prompt must contain the <image> placeholder")
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise ConfigError("batch_size and max_new_tokens must be >= 1")

    def runs(self) -> list[str]:
        """Baseline names in run order (``"none"`` = the model itself first)."""
        return ["none", *[b for b in self.baselines if b != "none"]]

    @property
    def name(self) -> str:
        """The ``model`` column value."""
        if self.model_name:
            return self.model_name
        return Path(self.model_path).name if self.model_path else "model"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able)."""
        d = asdict(self)
        d["baselines"] = list(self.baselines)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HarnessConfig:
        """Build from a dict; unknown keys are an error."""
        reject_unknown(d, cls, "harness settings")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> HarnessConfig:
        """Read a JSON or YAML file (a mapping of the fields)."""
        return cls.from_dict(_read_mapping(path))


def _read_mapping(path: str | Path) -> dict[str, Any]:
    return read_config(path, formats=("json", "yaml"), what="harness config")


def _torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        return "auto"
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[
            name
        ]
    except KeyError:
        raise ConfigError(f"dtype must be auto, float32, float16 or bfloat16, got {name}") from None


def default_device(device: str | None) -> str:
    """``device`` or cuda when available, else cpu."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_vlm(
    model_path: str,
    *,
    processor_path: str | None = None,
    adapter_path: str | None = None,
    dtype: str = "auto",
    device: str | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, processor)`` (and apply a PEFT adapter when given)."""
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("the inference harness needs: pip install 'medtrust[vqa]'") from e
    # AutoModelForVision2Seq: the name before transformers 4.46
    cls: Any = getattr(transformers, "AutoModelForImageTextToText", None)
    cls = cls or vars(transformers)["AutoModelForVision2Seq"]
    processor = transformers.AutoProcessor.from_pretrained(processor_path or model_path)
    # transformers >= 4.56 calls the weight dtype `dtype`, older versions `torch_dtype`.
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    model = cls.from_pretrained(model_path, **{key: _torch_dtype(dtype)})
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path)
        load_projector(model, Path(adapter_path))
    model.to(default_device(device)).eval()
    return model, processor


def load_projector(model: Any, folder: Path, name: str = "multi_modal_projector") -> bool:
    """Load ``projector.safetensors`` (trained with an adapter) into ``model``, if present."""
    path = folder / "projector.safetensors"
    if not path.is_file():
        return False
    from safetensors.torch import load_file

    weights = load_file(str(path))
    modules = [m for n, m in model.named_modules() if n.split(".")[-1] == name]
    if not modules:
        raise ConfigError(f"{path} holds projector weights, but the model has no {name!r}")
    modules[0].load_state_dict(weights)
    return True


def load_images(paths: Sequence[str | None]) -> list[Any]:
    """Open images as RGB PIL images; every missing file is reported before any work."""
    from PIL import Image

    missing = [p for p in paths if p is None or not Path(p).is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} images are missing, e.g. {missing[:3]}")
    out = []
    for p in paths:
        with Image.open(str(p)) as im:
            out.append(im.convert("RGB"))
    return out


def image_token(processor: Any) -> str:
    """The processor's image placeholder token (``<image>`` if it does not say)."""
    tok = getattr(processor, "image_token", None)
    return str(tok) if tok else "<image>"


def format_prompt(config: Any, question: str, processor: Any, with_image: bool) -> str:
    """The prompt text of one sample."""
    if with_image:
        return config.prompt.replace("<image>", image_token(processor)).replace(
            "{question}", question
        )
    return config.prompt_no_image.replace("{question}", question)


def is_yes_no(answer_type: Any, answer: Any, options: Any) -> bool:
    """Whether a sample is a closed yes/no question (gets ``closed_suffix``)."""
    from medtrust.vqa.metrics import normalize_answer

    if answer_type != "closed":
        return False
    if options is not None and len(options) > 0:
        return sorted(normalize_answer(o) for o in options) == ["no", "yes"]
    return normalize_answer(answer) in ("yes", "no")


def questions_with_suffix(samples: Any, suffix: str) -> list[str]:
    """The questions of ``samples``, closed yes/no ones with ``suffix`` appended."""
    questions = [str(q) for q in samples["question"].to_list()]
    if not suffix or "answer_type" not in samples.columns:
        return questions
    n = samples.height
    types = samples["answer_type"].to_list()
    answers = samples["answer"].to_list() if "answer" in samples.columns else [None] * n
    options = samples["options"].to_list() if "options" in samples.columns else [None] * n
    return [
        q + suffix if is_yes_no(t, a, o) else q
        for q, t, a, o in zip(questions, types, answers, options)
    ]


def _generate(
    model: Any, processor: Any, prompts: list[str], images: list[Any] | None, max_new_tokens: int
) -> list[str]:
    import torch

    tok = getattr(processor, "tokenizer", processor)
    old_side = getattr(tok, "padding_side", "right")
    tok.padding_side = "left"
    try:
        if images is None:
            enc = processor(text=prompts, return_tensors="pt", padding=True)
        else:
            enc = processor(images=images, text=prompts, return_tensors="pt", padding=True)
    finally:
        tok.padding_side = old_side
    device = next(model.parameters()).device
    enc = enc.to(device)
    if "pixel_values" in enc:
        enc["pixel_values"] = enc["pixel_values"].to(next(model.parameters()).dtype)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.no_grad():
        out = model.generate(
            **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad
        )
    new = out[:, enc["input_ids"].shape[1] :]
    return [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]


def run_inference(
    samples: Any,
    config: HarnessConfig,
    *,
    model: Any = None,
    processor: Any = None,
    train: Any = None,
    progress: bool = False,
) -> pl.DataFrame:
    """Predictions of the model and every configured baseline.

    Parameters
    ----------
    samples
        Test samples (``qid, question, image``; ``answer_type`` for the answer prior).
    config
        :class:`HarnessConfig`.
    model, processor
        Loaded objects (default: :func:`load_vlm` on ``config.model_path``).
    train
        Training samples, needed by the ``answer_prior`` baseline.
    progress
        Show progress bars.

    Returns
    -------
    polars.DataFrame
        ``qid, pred, model, method, seed, baseline``, one row per sample and run.
    """
    import polars as pl
    import torch

    from medtrust._io import progress as progress_bar

    for c in ("qid", "question"):
        if c not in samples.columns:
            raise DatasetError(f"samples lack the column {c!r}")
    if samples.height == 0:
        raise DatasetError("no samples to run")
    runs = config.runs()
    if "answer_prior" in runs and train is None:
        raise InvalidArgumentError("the answer_prior baseline needs the training samples (train=)")
    needs_model = any(r != "answer_prior" for r in runs)
    needs_images = any(r not in ("no_image", "answer_prior") for r in runs)
    if needs_images and "image" not in samples.columns:
        raise DatasetError("samples have no image column")
    images = load_images(samples["image"].to_list()) if needs_images else []
    if needs_model and (model is None or processor is None):
        if not config.model_path:
            raise ConfigError("no model: set model_path or pass model= and processor=")
        model, processor = load_vlm(
            config.model_path,
            processor_path=config.processor_path,
            adapter_path=config.adapter_path,
            dtype=config.dtype,
            device=config.device,
        )
    qids = [str(q) for q in samples["qid"].to_list()]
    questions = questions_with_suffix(samples, config.closed_suffix)
    frames = []
    for run in runs:
        if run == "answer_prior":
            frames.append(
                answer_prior(train, samples)
                .with_columns(
                    pl.lit(config.name).alias("model"),
                    pl.lit(config.method).alias("method"),
                    pl.lit(config.seed).alias("seed"),
                )
                .select("qid", "pred", "model", "method", "seed", "baseline")
            )
            continue
        torch.manual_seed(config.seed)
        preds: list[str] = []
        starts = range(0, len(qids), config.batch_size)
        for s in progress_bar(starts, desc=f"infer {run}", enabled=progress, total=len(starts)):
            sl = slice(s, s + config.batch_size)
            if run == "no_image":
                prompts = [format_prompt(config, q, processor, False) for q in questions[sl]]
                preds += _generate(model, processor, prompts, None, config.max_new_tokens)
                continue
            batch_imgs = [
                ablate_image(
                    im,
                    run,
                    seed=config.seed,
                    key=q,
                    blank_value=config.blank_value,
                    scheme=config.corruption_scheme,
                )
                for im, q in zip(images[sl], qids[sl])
            ]
            prompts = [format_prompt(config, q, processor, True) for q in questions[sl]]
            preds += _generate(model, processor, prompts, batch_imgs, config.max_new_tokens)
        log.info("inference %s: %d predictions", run, len(preds))
        frames.append(
            pl.DataFrame(
                {
                    "qid": qids,
                    "pred": preds,
                    "model": config.name,
                    "method": config.method,
                    "seed": config.seed,
                    "baseline": run,
                },
                schema_overrides={"seed": pl.Int64},
            )
        )
    return pl.concat(frames, how="vertical_relaxed")
