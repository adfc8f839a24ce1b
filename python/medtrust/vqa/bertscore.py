"""BERTScore (Zhang et al. 2020) from a local transformer model (``vqa`` extra).

SURE-VQA reports BERTScore through Hugging Face ``evaluate`` with ``lang="en"``, that is
``roberta-large``, the hidden states of layer 17, no idf weighting and no baseline rescaling.
No model that small enough to ship inside a PyPI package gives those numbers, and medtrust never
downloads weights, so BERTScore needs a **local model folder** (``model_path``): a copy of
``roberta-large`` reproduces SURE-VQA's setting (layer 17 is picked for a 24-layer RoBERTa when
``num_layers`` is not given; any other model uses its last layer).

Per pair: the embeddings of the chosen layer are L2-normalised; each candidate token is
matched to its most similar reference token (and vice versa); precision and recall average
these maxima over the tokens of their side, leaving out the sentence-boundary tokens
(``[CLS]`` / ``[SEP]``, ``<s>`` / ``</s>``) on the averaged side while they stay available as
matches, as the reference implementation does; F1 = 2PR / (P + R). An empty side scores 0.
With ``idf=True`` tokens are weighted by ``log((M + 1) / (df + 1))`` over the ``M`` references.

Examples
--------
>>> from medtrust.vqa.bertscore import default_layer
>>> default_layer("roberta", 24), default_layer("bert", 2)
(17, 2)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from medtrust.exceptions import InvalidArgumentError

__all__ = ["bert_score", "boundary_ids", "default_layer"]


def boundary_ids(tokenizer: Any) -> set[int]:
    """Ids of the sentence-boundary tokens (CLS / SEP / BOS / EOS) left out of the averages."""
    names = ("cls_token_id", "sep_token_id", "bos_token_id", "eos_token_id")
    return {int(i) for i in (getattr(tokenizer, n, None) for n in names) if i is not None}


def default_layer(model_type: str, num_hidden_layers: int) -> int:
    """The layer BERTScore uses: 17 for a 24-layer RoBERTa (roberta-large), else the last."""
    if model_type == "roberta" and num_hidden_layers == 24:
        return 17
    return int(num_hidden_layers)


def bert_score(
    preds: Sequence[str],
    refs: Sequence[str],
    model_path: str | None = None,
    *,
    num_layers: int | None = None,
    idf: bool = False,
    batch_size: int = 32,
    device: str | None = None,
    model: Any = None,
    tokenizer: Any = None,
) -> dict[str, list[float]]:
    """BERTScore precision, recall and F1 of each prediction against its reference.

    Parameters
    ----------
    preds, refs
        Predictions and references, pairwise.
    model_path
        Local model folder (never downloaded: ``local_files_only``).
    num_layers
        Hidden-state layer (0 = embeddings); default :func:`default_layer`.
    idf
        Weight tokens by their inverse document frequency over ``refs``.
    model, tokenizer
        Already loaded objects instead of ``model_path``.

    Returns
    -------
    dict
        ``{"precision": [...], "recall": [...], "f1": [...]}``.
    """
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise InvalidArgumentError(
            "BERTScore needs the 'vqa' extra: pip install 'medtrust[vqa]'"
        ) from e
    preds, refs = [str(p) for p in preds], [str(r) for r in refs]
    if len(preds) != len(refs):
        raise InvalidArgumentError(f"preds and refs differ in length: {len(preds)} != {len(refs)}")
    if model is None or tokenizer is None:
        if not model_path:
            raise InvalidArgumentError(
                "BERTScore needs a local model folder (model_path=), e.g. a copy of roberta-large"
            )
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        model = model or AutoModel.from_pretrained(model_path, local_files_only=True)
    cfg = model.config
    layer = (
        num_layers
        if num_layers is not None
        else default_layer(getattr(cfg, "model_type", ""), int(cfg.num_hidden_layers))
    )
    if not 0 <= layer <= int(cfg.num_hidden_layers):
        raise InvalidArgumentError(
            f"num_layers must be in [0, {cfg.num_hidden_layers}], got {layer}"
        )
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(dev).eval()
    special = boundary_ids(tokenizer)
    # byte-level BPE tokenizers (RoBERTa, GPT-2) see the first word with a leading space
    prefix = " " if getattr(cfg, "model_type", "") in ("roberta", "gpt2", "bart") else ""
    max_len = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)

    def embed(texts: list[str]) -> list[tuple[Any, list[int]]]:
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = [prefix + t.strip() if t.strip() else "" for t in texts[i : i + batch_size]]
            enc = tokenizer(
                chunk, padding=True, truncation=True, max_length=max_len, return_tensors="pt"
            )
            enc = {k: v.to(dev) for k, v in enc.items()}
            with torch.no_grad():
                hs = model(**enc, output_hidden_states=True).hidden_states[layer]
            hs = torch.nn.functional.normalize(hs.float(), dim=-1)
            for j in range(hs.shape[0]):
                n = int(enc["attention_mask"][j].sum())
                ids = enc["input_ids"][j, :n].tolist()
                out.append((hs[j, :n].cpu(), ids))
        return out

    weights = _idf_weights(refs, tokenizer, special, prefix) if idf else None
    p_emb, r_emb = embed(preds), embed(refs)
    prec, rec, f1 = [], [], []
    for (pe, pid), (re_, rid) in zip(p_emb, r_emb):
        sim = pe @ re_.T
        p = _side(sim.max(dim=1).values.tolist(), pid, special, weights)
        r = _side(sim.max(dim=0).values.tolist(), rid, special, weights)
        prec.append(p)
        rec.append(r)
        f1.append(0.0 if p + r <= 0 else 2 * p * r / (p + r))
    return {"precision": prec, "recall": rec, "f1": f1}


def _side(best: list[float], ids: list[int], special: set[int], weights: Any) -> float:
    w = [0.0 if t in special else (1.0 if weights is None else weights(t)) for t in ids]
    total = sum(w)
    return 0.0 if total == 0 else sum(b * x for b, x in zip(best, w)) / total


def _idf_weights(refs: list[str], tokenizer: Any, special: set[int], prefix: str):
    df: Counter = Counter()
    for r in refs:
        df.update(set(tokenizer(prefix + r.strip())["input_ids"]) - special)
    m = len(refs)

    def weight(t: int) -> float:
        return math.log((m + 1) / (df.get(t, 0) + 1))

    return weight
