"""Inference harness, image ablations and PEFT fine-tuning on a tiny random LLaVA (no download).

The model is built in the test from configs: a 1-layer Llama text model, a 2-layer CLIP vision
tower on 32 x 32 images and a word-level tokenizer trained on the synthetic questions.
"""

import json
import math

import numpy as np
import polars as pl
import pytest

transformers = pytest.importorskip("transformers", reason="the 'vqa' extra is not installed")
peft = pytest.importorskip("peft", reason="the 'vqa' extra is not installed")
torch = pytest.importorskip("torch", reason="the 'vqa' extra is not installed")
PIL = pytest.importorskip("PIL", reason="the 'vqa' extra is not installed")

from PIL import Image  # noqa: E402

from medtrust.data.vqa import SYNTHETIC_SHIFT, synthetic_vqa  # noqa: E402
from medtrust.exceptions import ConfigError, DatasetError, InvalidArgumentError  # noqa: E402
from medtrust.vqa import BASELINES, IMAGE_BASELINES, ablate_image, split_shift  # noqa: E402
from medtrust.vqa.finetune import FinetuneConfig, build_peft_model, finetune  # noqa: E402
from medtrust.vqa.harness import HarnessConfig, run_inference  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore::medtrust.exceptions.UndefinedMetricWarning"),
]

SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]


def build_processor(words):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {w: i for i, w in enumerate(SPECIALS + sorted(words))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    image_proc = transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return transformers.LlavaProcessor(
        image_processor=image_proc,
        tokenizer=fast,
        patch_size=8,
        vision_feature_select_strategy="default",
        image_token="<image>",
        num_additional_image_tokens=1,
    )


def build_model(processor, seed=0):
    tok = processor.tokenizer
    text = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    vision = transformers.CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    cfg = transformers.LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    return transformers.LlavaForConditionalGeneration(cfg).eval()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa")
    samples = synthetic_vqa(n_images=9, seed=1, image_dir=root / "images")
    return root, samples, split_shift(samples, SYNTHETIC_SHIFT)


@pytest.fixture(scope="module")
def tiny(data, tmp_path_factory):
    _, samples, _ = data
    words = set()
    for text in [
        *samples["question"].to_list(),
        *samples["answer"].to_list(),
        "USER ASSISTANT",
        "Answer briefly .",
    ]:
        words.update(w for w in text.replace("?", " ? ").replace(".", " . ").lower().split())
    words.update({"?", ".", ":", ","})
    processor = build_processor(words)
    model = build_model(processor)
    folder = tmp_path_factory.mktemp("tiny_llava")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor, folder


class RecordingProcessor:
    """Wraps a processor and records the images and prompts of every call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, images=None, text=None, **kw):
        self.calls.append((images, text))
        if images is None:
            return self.inner(text=text, **kw)
        return self.inner(images=images, text=text, **kw)


def test_inference_model_and_every_baseline(data, tiny):
    _, _, split = data
    model, processor, _ = tiny
    test = split.test_frame().head(5)
    rec = RecordingProcessor(processor)
    cfg = HarnessConfig(model_name="tiny", method="lora", seed=3, max_new_tokens=4, batch_size=3)
    assert set(cfg.runs()) == {"none", *BASELINES}
    preds = run_inference(test, cfg, model=model, processor=rec, train=split.iid_train)
    assert preds.height == 5 * (1 + len(BASELINES))
    assert preds.columns == ["qid", "pred", "model", "method", "seed", "baseline"]
    assert set(preds["baseline"]) == {"none", *BASELINES}
    assert preds["model"].unique().to_list() == ["tiny"] and preds["seed"].unique().to_list() == [3]
    assert preds["pred"].dtype == pl.String and preds["pred"].null_count() == 0
    # one call per batch (2 batches of <= 3) for the model and each image baseline
    assert len(rec.calls) == 2 * (1 + len(IMAGE_BASELINES))
    originals = [
        np.asarray(Image.open(p).convert("RGB"), dtype=float) for p in test["image"].to_list()[:3]
    ]
    by_run = dict(zip(["none", *IMAGE_BASELINES], rec.calls[::2]))
    imgs, prompts = by_run["none"]
    assert all("<image>" in p for p in prompts)
    assert all(np.array_equal(np.asarray(a, dtype=float), o) for a, o in zip(imgs, originals))
    imgs, prompts = by_run["no_image"]
    assert imgs is None and not any("<image>" in p for p in prompts)
    assert all(np.asarray(a).max() == 0 for a in by_run["blank"][0])
    for level in (1, 2, 3):
        blur = np.asarray(by_run[f"blur_{level}"][0][0], dtype=float)
        assert blur.std() < originals[0].std()
        noisy = np.asarray(by_run[f"noise_{level}"][0][0], dtype=float)
        assert not np.array_equal(noisy, originals[0])
        bright = np.asarray(by_run[f"brightness_{level}"][0][0], dtype=float)
        assert bright.mean() > originals[0].mean()
    stds = [np.asarray(by_run[f"blur_{k}"][0][0], dtype=float).std() for k in (1, 2, 3)]
    assert stds[0] > stds[1] > stds[2]
    # greedy decoding is deterministic
    again = run_inference(
        test,
        HarnessConfig(model_name="tiny", method="lora", seed=3, max_new_tokens=4, baselines=()),
        model=model,
        processor=processor,
    )
    first = preds.filter(pl.col("baseline") == "none")["pred"].to_list()
    assert again["pred"].to_list() == first


def test_the_image_reaches_the_model(data, tiny):
    _, samples, _ = data
    model, processor, _ = tiny
    img = Image.open(samples["image"][0]).convert("RGB")
    prompt = "USER: <image>\nWhich organ is shown in this image? ASSISTANT:"
    with torch.no_grad():
        a = model(**processor(images=[img], text=[prompt], return_tensors="pt")).logits[0, -1]
        b = model(
            **processor(images=[ablate_image(img, "blank")], text=[prompt], return_tensors="pt")
        ).logits[0, -1]
    assert not torch.allclose(a, b)


def test_ablate_image_values():
    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((40, 40, 3)) * 200).astype(np.uint8))
    arr = np.asarray(img, dtype=float)
    assert ablate_image(img, "no_image") is None
    assert np.asarray(ablate_image(img, "blank", blank_value=7)).max() == 7
    assert np.array_equal(np.asarray(ablate_image(img, "none")), np.asarray(img))
    old = {"scheme": "medtrust"}  # this package's earlier corruption settings
    b2 = np.asarray(ablate_image(img, "brightness_2", **old), dtype=float)
    assert np.allclose(b2, np.clip(arr * 2.0, 0, 255), atol=1.0)
    n1 = np.asarray(ablate_image(img, "noise_1", seed=1, key="q1", **old), dtype=float)
    n3 = np.asarray(ablate_image(img, "noise_3", seed=1, key="q1", **old), dtype=float)
    assert 0.03 * 255 < (n1 - arr).std() < 0.07 * 255
    assert (n3 - arr).std() > (n1 - arr).std()
    same = np.asarray(ablate_image(img, "noise_1", seed=1, key="q1", **old), dtype=float)
    other = np.asarray(ablate_image(img, "noise_1", seed=1, key="q2", **old), dtype=float)
    assert np.array_equal(n1, same) and not np.array_equal(n1, other)
    grey = Image.fromarray((rng.random((20, 30)) * 255).astype(np.uint8))
    assert ablate_image(grey, "blur_3").mode == "L" and ablate_image(grey, "blur_3").size == (
        30,
        20,
    )
    with pytest.raises(InvalidArgumentError, match="unknown baseline"):
        ablate_image(img, "blur_4")
    with pytest.raises(InvalidArgumentError):
        ablate_image(img, "answer_prior")


def test_harness_config_errors(data, tiny):
    _, _, split = data
    model, processor, _ = tiny
    with pytest.raises(InvalidArgumentError, match="unknown baseline"):
        HarnessConfig(baselines=("sharpen",))
    with pytest.raises(ConfigError, match="<image>"):
        HarnessConfig(prompt="{question}")
    with pytest.raises(ConfigError, match="unknown harness settings"):
        HarnessConfig.from_dict({"model": "x"})
    with pytest.raises(InvalidArgumentError, match="answer_prior"):
        run_inference(
            split.iid_test,
            HarnessConfig(baselines=("answer_prior",)),
            model=model,
            processor=processor,
        )
    broken = split.iid_test.with_columns(pl.lit("/nonexistent.png").alias("image"))
    with pytest.raises(DatasetError, match="images are missing"):
        run_inference(broken, HarnessConfig(baselines=()), model=model, processor=processor)


@pytest.mark.parametrize("method", ["lora", "ia3", "prompt_tuning"])
def test_peft_training_step(data, tiny, tmp_path, method):
    _, _, split = data
    _, processor, _ = tiny
    model = build_model(processor, seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FinetuneConfig(
        output_dir=str(tmp_path / method),
        method=method,
        max_steps=1,
        batch_size=4,
        learning_rate=1e-2,
        peft={"num_virtual_tokens": 4} if method == "prompt_tuning" else {},
    )
    res = finetune(split.iid_train, cfg, model=model, processor=processor)
    assert res.steps == 1 and len(res.losses) == 1 and math.isfinite(res.losses[0])
    assert 0 < res.trainable_params < res.total_params
    assert (tmp_path / method / "adapter_config.json").is_file()
    saved = json.loads((tmp_path / method / "losses.json").read_text())
    assert saved["steps"] == 1 and saved["method"] == method
    # base weights frozen but the projector (trained with the adapter, as in SURE-VQA)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    state = base.state_dict()
    proj = [k for k in before if "multi_modal_projector" in k]
    frozen = [
        k for k in before if k in state and "lora" not in k and "ia3" not in k and k not in proj
    ]
    assert frozen and all(torch.equal(before[k], state[k]) for k in frozen)
    assert proj and any(not torch.equal(before[k], state[k]) for k in proj)
    assert (tmp_path / method / "projector.safetensors").is_file()
    # the adapter moved away from its seeded initialisation
    torch.manual_seed(cfg.seed)
    init = build_peft_model(build_model(processor, seed=1), cfg)
    init_params = {n: p for n, p in init.named_parameters() if p.requires_grad}
    trained = {n: p for n, p in res.model.named_parameters() if p.requires_grad}
    assert trained.keys() == init_params.keys() and trained
    assert any(not torch.equal(trained[n], init_params[n]) for n in trained)
    if method == "lora":
        b = [p for n, p in trained.items() if "lora_B" in n]
        assert b and any(p.abs().sum() > 0 for p in b)  # lora_B starts at zero


def _projector(model):
    return next(m for n, m in model.named_modules() if n.endswith("multi_modal_projector"))


def test_projector_is_saved_and_loaded_back_and_can_stay_frozen(data, tiny, tmp_path):
    from medtrust.vqa.harness import load_vlm

    _, _, split = data
    _, processor, folder = tiny
    model = build_model(processor, seed=1)
    cfg = FinetuneConfig(output_dir=str(tmp_path / "a"), max_steps=1, learning_rate=1e-2)
    res = finetune(split.iid_train, cfg, model=model, processor=processor)
    trained = {
        n.split("multi_modal_projector.")[1]: p.detach().clone()
        for n, p in res.model.named_parameters()
        if "multi_modal_projector" in n
    }
    loaded, _ = load_vlm(str(folder), adapter_path=str(tmp_path / "a"), device="cpu")
    got = dict(_projector(loaded).named_parameters())
    assert trained.keys() == got.keys()
    assert all(torch.equal(trained[k], got[k].detach()) for k in trained)
    # without the projector: only the adapter trains, nothing else is saved
    frozen = FinetuneConfig(
        output_dir=str(tmp_path / "b"), max_steps=1, learning_rate=1e-2, train_projector=False
    )
    base = build_model(processor, seed=1)
    before = {k: v.clone() for k, v in _projector(base).state_dict().items()}
    finetune(split.iid_train, frozen, model=base, processor=processor)
    after = _projector(base).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not (tmp_path / "b" / "projector.safetensors").exists()


def test_full_finetuning_trains_llm_and_projector_not_vision(data, tiny, tmp_path):
    from medtrust.vqa.harness import load_vlm

    _, _, split = data
    _, processor, _ = tiny
    model = build_model(processor, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FinetuneConfig(output_dir=str(tmp_path / "full"), method="full", max_steps=1)
    res = finetune(split.iid_train, cfg, model=model, processor=processor)
    assert res.trainable_params < res.total_params  # the vision tower is frozen
    state = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], state[k])}
    assert any("language_model" in k for k in changed)
    assert any("multi_modal_projector" in k for k in changed)
    assert not any("vision_tower" in k for k in changed)
    loaded, _ = load_vlm(str(tmp_path / "full"), device="cpu")  # a complete model folder
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())


def test_train_time_no_image_and_config_errors(data, tiny, tmp_path):
    _, _, split = data
    _, processor, _ = tiny
    cfg = FinetuneConfig(
        output_dir=str(tmp_path / "ni"),
        method="lora",
        max_steps=1,
        batch_size=2,
        train_ablation="no_image",
    )
    res = finetune(
        split.iid_train.drop("image"), cfg, model=build_model(processor), processor=processor
    )
    assert res.steps == 1
    with pytest.raises(ConfigError, match="method"):
        FinetuneConfig(output_dir="x", method="adapters")
    with pytest.raises(ConfigError, match="answer_prior"):
        FinetuneConfig(output_dir="x", train_ablation="answer_prior")
    with pytest.raises(ConfigError, match="invalid peft settings"):
        finetune(
            split.iid_train,
            FinetuneConfig(output_dir=str(tmp_path / "bad"), peft={"rank": 3}),
            model=build_model(processor),
            processor=processor,
        )


def test_cli_infer_from_disk_with_adapter_then_evaluate(data, tiny, tmp_path):
    from medtrust.cli.main import main

    _, samples, split = data
    _, _, folder = tiny
    # a LoRA adapter trained from the saved model, through the CLI
    samples_file = tmp_path / "samples.jsonl"
    samples_file.write_text(samples.write_ndjson())
    shift_file = tmp_path / "shift.json"
    shift_file.write_text(json.dumps(SYNTHETIC_SHIFT))
    ft = tmp_path / "ft.yaml"
    ft.write_text(
        f"output_dir: {tmp_path / 'adapter'}\nmethod: lora\nmodel_path: {folder}\n"
        "max_steps: 1\nbatch_size: 4\ndevice: cpu\n"
    )
    args = [
        "vqa",
        "finetune",
        "--data",
        str(samples_file),
        "--shift",
        str(shift_file),
        "--config",
        str(ft),
        "--no-progress",
    ]
    assert main(args) == 0
    cfg = tmp_path / "harness.yaml"
    cfg.write_text(
        f"model_path: {folder}\nadapter_path: {tmp_path / 'adapter'}\nmodel_name: tiny\n"
        "method: lora\nmax_new_tokens: 3\nbatch_size: 4\ndevice: cpu\ndtype: float32\n"
        "baselines: [no_image, blur_1, answer_prior]\n"
    )
    preds = tmp_path / "preds.parquet"
    args = [
        "vqa",
        "infer",
        "--data",
        str(samples_file),
        "--shift",
        str(shift_file),
        "--config",
        str(cfg),
        "--out",
        str(preds),
        "--no-progress",
    ]
    assert main(args) == 0
    p = pl.read_parquet(preds)
    n_test = split.test_frame().height
    assert p.height == 4 * n_test
    assert sorted(set(p["baseline"])) == ["answer_prior", "blur_1", "no_image", "none"]
    args = [
        "vqa",
        "evaluate",
        "--data",
        str(samples_file),
        "--pred",
        str(preds),
        "--shift",
        str(shift_file),
        "--out",
        str(tmp_path / "eval"),
        "--no-judge",
        "--no-progress",
    ]
    assert main(args) == 0
    res = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert len(res["provenance"]["runs"]) == 4


def test_transformers_judge_backend_records_failures(tiny):
    from medtrust.vqa.judge import JudgeConfig, JudgeItem, TransformersJudgeBackend, run_judge

    _, processor, _ = tiny
    tok = processor.tokenizer
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    lm = transformers.LlamaForCausalLM(cfg).eval()
    backend = TransformersJudgeBackend(
        "tiny-judge", model=lm, tokenizer=tok, max_new_tokens=5, device="cpu"
    )
    config = JudgeConfig(backend="transformers", model_path="tiny-judge", parse_retries=0)
    items = [JudgeItem("1", "Which organ is shown?", "liver", "brain", "open")]
    run = run_judge(items, config, backend=backend, cache=None)
    r = run.results.row(0, named=True)
    # a random model does not write JSON: recorded as a parse error, raw text kept
    assert r["judge_status"] == "parse_error" and r["judge_raw"] is not None
    assert r["judge_prompt_tokens"] > 10 and 0 < r["judge_completion_tokens"] <= 5
    assert r["judge_model"] == "tiny-judge"
