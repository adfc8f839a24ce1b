r"""Fine-tuning of LLaVA-style VLMs: LoRA, IA3, prompt tuning or full, configured not hand-written.

(Slightly over 400 lines on purpose: config, model wrapping, encoding and the training loop of
one procedure.)

:class:`FinetuneConfig` names the method and its settings; :func:`build_peft_model` turns it
into a ``peft`` model (adapters on the language model only, by default:
``q/k/v/o_proj`` for LoRA, ``k/v/down_proj`` for IA3, virtual tokens for prompt tuning; any
``peft`` setting can be overridden through ``peft``), and :func:`finetune` trains it on the
answers (the prompt tokens are masked from the loss) with AdamW and saves the adapter, the
config and the loss curve to ``output_dir``. ``train_ablation`` trains on ablated images
(e.g. ``"no_image"`` for the train-time "no image" baseline). The saved adapter is what
:class:`~medtrust.vqa.harness.HarnessConfig` takes as ``adapter_path``.

As in SURE-VQA, the multimodal projector is trained together with each PEFT method
(``train_projector=True``, the default; its weights go to ``projector.safetensors`` beside the
adapter, and :func:`~medtrust.vqa.harness.load_vlm` puts them back); ``train_projector=False``
trains the adapter alone. ``method="full"`` trains the language model and the projector (the
vision tower stays frozen, ``freeze_vision_tower``) and saves the whole model and processor to
``output_dir``, which is then a ``model_path``.

Checkpoint layout: Hugging Face LLaVA-style models (``LlavaForConditionalGeneration`` and
other ``AutoModelForImageTextToText`` models with a ``multi_modal_projector``). LLaVA-Med's own
checkpoints (the original LLaVA code base: ``LlavaMistralForCausalLM``, ``mm_projector``) are not
read directly: convert them to the Hugging Face layout first (the ``transformers`` LLaVA
conversion script), then ``model_path`` points to the converted folder.

Examples
--------
>>> from medtrust.vqa.finetune import FinetuneConfig
>>> FinetuneConfig(output_dir="out", method="lora").peft_settings()["target_modules"]
'.*language_model.*\\.(q_proj|k_proj|v_proj|o_proj)$'
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medtrust._settings import reject_unknown
from medtrust.exceptions import ConfigError, DatasetError
from medtrust.vqa.baselines import ablate_image, parse_baseline
from medtrust.vqa.harness import (
    DEFAULT_PROMPT,
    DEFAULT_PROMPT_NO_IMAGE,
    _read_mapping,
    default_device,
    format_prompt,
    load_images,
    load_vlm,
)

__all__ = [
    "METHODS",
    "PROJECTOR_FILE",
    "FinetuneConfig",
    "FinetuneResult",
    "build_peft_model",
    "finetune",
]

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("lora", "ia3", "prompt_tuning", "full")
#: File of the trained projector weights beside a PEFT adapter.
PROJECTOR_FILE = "projector.safetensors"

_DEFAULTS: dict[str, dict[str, Any]] = {
    "lora": {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "target_modules": r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)$",
    },
    "ia3": {
        "target_modules": r".*language_model.*\.(k_proj|v_proj|down_proj)$",
        "feedforward_modules": r".*language_model.*\.down_proj$",
    },
    "prompt_tuning": {"num_virtual_tokens": 10},
}


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings.

    Parameters
    ----------
    output_dir
        Where the adapter, ``finetune_config.json`` and ``losses.json`` go.
    method
        ``"lora"``, ``"ia3"``, ``"prompt_tuning"`` or ``"full"``.
    train_projector
        Also train the multimodal projector with a PEFT method (SURE-VQA: yes).
    projector_module
        Name of the projector module (``multi_modal_projector`` in Hugging Face LLaVA).
    freeze_vision_tower
        Keep the vision tower frozen in full fine-tuning.
    model_path, processor_path
        Base model (ignored when :func:`finetune` gets ``model=``).
    peft
        Overrides of the ``peft`` config (e.g. ``{"r": 128, "lora_alpha": 256}``).
    learning_rate, weight_decay, epochs, max_steps, batch_size, grad_accum
        Optimiser and schedule (constant learning rate).
    seed
        Seeds the data order and torch.
    train_ablation
        ``"none"`` or an image baseline applied to the training images.
    prompt, prompt_no_image
        As in the harness (keep them identical for training and inference).
    """

    output_dir: str
    method: str = "lora"
    model_path: str | None = None
    processor_path: str | None = None
    peft: dict[str, Any] = field(default_factory=dict)
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    seed: int = 0
    train_ablation: str = "none"
    prompt: str = DEFAULT_PROMPT
    prompt_no_image: str = DEFAULT_PROMPT_NO_IMAGE
    device: str | None = None
    dtype: str = "auto"
    train_projector: bool = True
    projector_module: str = "multi_modal_projector"
    freeze_vision_tower: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
        kind, _ = parse_baseline(self.train_ablation)
        if kind == "answer_prior":
            raise ConfigError("train_ablation cannot be answer_prior")
        if self.batch_size < 1 or self.grad_accum < 1 or self.epochs < 1:
            raise ConfigError("batch_size, grad_accum and epochs must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("max_steps must be >= 1")

    def peft_settings(self) -> dict[str, Any]:
        """The keyword arguments of the peft config class (none for full fine-tuning)."""
        if self.method == "full":
            return {}
        return {**_DEFAULTS[self.method], **self.peft, "task_type": "CAUSAL_LM"}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FinetuneConfig:
        """Build from a dict; unknown keys are an error."""
        reject_unknown(d, cls, "finetune settings")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> FinetuneConfig:
        """Read a JSON or YAML mapping."""
        return cls.from_dict(_read_mapping(path))


@dataclass(frozen=True)
class FinetuneResult:
    """What training did."""

    output_dir: str
    method: str
    steps: int
    losses: list[float]
    trainable_params: int
    total_params: int
    seconds: float
    model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (without the model)."""
        return {k: v for k, v in asdict(self).items() if k != "model"}


def projector_params(model: Any, name: str) -> list[tuple[str, Any]]:
    """``(name, parameter)`` of the projector module(s) called ``name``."""
    return [(n, p) for n, p in model.named_parameters() if name in n.split(".")]


def build_peft_model(model: Any, config: FinetuneConfig) -> Any:
    """Wrap ``model`` with the configured ``peft`` adapter (and unfreeze what else trains)."""
    if config.method == "full":
        for n, p in model.named_parameters():
            p.requires_grad = not (config.freeze_vision_tower and "vision_tower" in n.split("."))
        return model
    import peft

    cls = {
        "lora": peft.LoraConfig,
        "ia3": peft.IA3Config,
        "prompt_tuning": peft.PromptTuningConfig,
    }[config.method]
    try:
        pcfg = cls(**config.peft_settings())
    except TypeError as e:
        raise ConfigError(f"invalid peft settings for {config.method}: {e}") from e
    pmodel = peft.get_peft_model(model, pcfg)
    if config.train_projector:
        params = projector_params(pmodel, config.projector_module)
        if not params:
            raise ConfigError(
                f"no module named {config.projector_module!r} to train with the adapter; set "
                "projector_module, or train_projector=False"
            )
        for _, p in params:
            p.requires_grad = True
    return pmodel


def _save_projector(model: Any, name: str, path: Path) -> None:
    from safetensors.torch import save

    from medtrust._io import atomic_write_bytes

    tensors = {
        _projector_key(n, name): p.detach().cpu().contiguous()
        for n, p in projector_params(model, name)
    }
    atomic_write_bytes(path, save(tensors))


def _projector_key(param_name: str, name: str) -> str:
    """The parameter name below the projector module (``linear_1.weight``)."""
    parts = param_name.split(".")
    return ".".join(parts[parts.index(name) + 1 :])


def _encode(processor: Any, prompt: str, image: Any, answer: str) -> dict[str, Any]:
    import torch

    tok = getattr(processor, "tokenizer", processor)
    if image is None:
        enc = processor(text=[prompt], return_tensors="pt")
    else:
        enc = processor(images=[image], text=[prompt], return_tensors="pt")
    ans = tok(" " + answer, add_special_tokens=False)["input_ids"]
    if tok.eos_token_id is not None:
        ans = [*ans, tok.eos_token_id]
    prompt_ids = enc["input_ids"][0]
    ids = torch.cat([prompt_ids, torch.tensor(ans, dtype=prompt_ids.dtype)])
    labels = torch.cat([torch.full_like(prompt_ids, -100), torch.tensor(ans, dtype=ids.dtype)])
    out = {"input_ids": ids, "labels": labels}
    if image is not None:
        out["pixel_values"] = enc["pixel_values"][0]
    return out


def _collate(items: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    import torch

    n = max(int(it["input_ids"].shape[0]) for it in items)
    ids = torch.full((len(items), n), pad_id, dtype=items[0]["input_ids"].dtype)
    labels = torch.full((len(items), n), -100, dtype=ids.dtype)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for i, it in enumerate(items):
        k = int(it["input_ids"].shape[0])
        ids[i, n - k :] = it["input_ids"]
        labels[i, n - k :] = it["labels"]
        mask[i, n - k :] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if "pixel_values" in items[0]:
        batch["pixel_values"] = torch.stack([it["pixel_values"] for it in items])
    return batch


def finetune(
    train: Any,
    config: FinetuneConfig,
    *,
    model: Any = None,
    processor: Any = None,
    progress: bool = False,
) -> FinetuneResult:
    """Train a PEFT adapter on ``train`` samples (``question, answer, image``) and save it.

    Returns
    -------
    FinetuneResult
        Steps, per-step losses, trainable / total parameter counts and the trained ``peft``
        model; the adapter is in ``config.output_dir``.
    """
    import numpy as np
    import torch

    from medtrust._io import atomic_write_json
    from medtrust._io import progress as progress_bar

    for c in ("question", "answer"):
        if c not in train.columns:
            raise DatasetError(f"training samples lack the column {c!r}")
    if train.height == 0:
        raise DatasetError("no training samples")
    kind, _ = parse_baseline(config.train_ablation)
    with_image = kind != "no_image"
    if with_image and "image" not in train.columns:
        raise DatasetError("training samples have no image column")
    if model is None or processor is None:
        if not config.model_path:
            raise ConfigError("no model: set model_path or pass model= and processor=")
        model, processor = load_vlm(
            config.model_path,
            processor_path=config.processor_path,
            dtype=config.dtype,
            device=config.device,
        )
    device = default_device(config.device) if config.device else next(model.parameters()).device
    torch.manual_seed(config.seed)
    pmodel = build_peft_model(model, config)
    pmodel.to(device)
    trainable = sum(p.numel() for p in pmodel.parameters() if p.requires_grad)
    total = sum(p.numel() for p in pmodel.parameters())
    images = load_images(train["image"].to_list()) if with_image else [None] * train.height
    qids = (
        [str(q) for q in train["qid"].to_list()]
        if "qid" in train.columns
        else [str(i) for i in range(train.height)]
    )
    encoded = []
    for q, a, im, qid in zip(train["question"].to_list(), train["answer"].to_list(), images, qids):
        shown = (
            None
            if not with_image
            else ablate_image(im, config.train_ablation, seed=config.seed, key=qid)
        )
        prompt = format_prompt(config, str(q), processor, shown is not None)
        encoded.append(_encode(processor, prompt, shown, str(a)))
    tok = getattr(processor, "tokenizer", processor)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    opt = torch.optim.AdamW(
        [p for p in pmodel.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    rng = np.random.default_rng(config.seed)
    n_batches = -(-len(encoded) // config.batch_size)
    total_steps = config.epochs * -(-n_batches // config.grad_accum)
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    losses: list[float] = []
    step = 0
    t0 = time.perf_counter()
    pmodel.train()
    bar = progress_bar(
        range(total_steps), desc=f"finetune {config.method}", enabled=progress, total=total_steps
    )
    bar_it = iter(bar)
    done = False
    dtype = next(p for p in pmodel.parameters()).dtype
    for _epoch in range(config.epochs):
        order = rng.permutation(len(encoded))
        acc = 0.0
        for b in range(n_batches):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            batch = _collate([encoded[i] for i in idx], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            if "pixel_values" in batch:
                batch["pixel_values"] = batch["pixel_values"].to(dtype)
            loss = pmodel(**batch).loss / config.grad_accum
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at step {step}")
            loss.backward()
            acc += float(loss.detach())
            if (b + 1) % config.grad_accum == 0 or b == n_batches - 1:
                opt.step()
                opt.zero_grad(set_to_none=True)
                losses.append(acc)
                acc = 0.0
                step += 1
                next(bar_it, None)
                if step >= total_steps:
                    done = True
                    break
        if done:
            break
    for _ in bar_it:
        pass
    pmodel.eval()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pmodel.save_pretrained(str(out))
    if config.method == "full":
        processor.save_pretrained(str(out))  # the folder is a complete model_path
    elif config.train_projector:
        _save_projector(pmodel, config.projector_module, out / PROJECTOR_FILE)
    result = FinetuneResult(
        output_dir=str(out),
        method=config.method,
        steps=step,
        losses=losses,
        trainable_params=int(trainable),
        total_params=int(total),
        seconds=time.perf_counter() - t0,
        model=pmodel,
    )
    atomic_write_json(out / "finetune_config.json", config.to_dict())
    atomic_write_json(out / "losses.json", result.to_dict())
    log.info(
        "finetune %s: %d steps, last loss %.4f",
        config.method,
        step,
        losses[-1] if losses else float("nan"),
    )
    return result
