"""BERTScore from a local model (issue 15 item 9): a tiny BERT built in code, plain-loop oracle."""

import pytest

torch = pytest.importorskip("torch", reason="BERTScore needs the vqa extra (torch)")
transformers = pytest.importorskip("transformers", reason="BERTScore needs the vqa extra")

from medtrust.exceptions import InvalidArgumentError  # noqa: E402
from medtrust.vqa.bertscore import bert_score, boundary_ids  # noqa: E402
from reference.vqa import bert_score_pair  # noqa: E402

WORDS = ["left", "right", "lung", "liver", "yes", "no", "the", "small", "large", "ct", "mri"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    try:
        tok = transformers.BertTokenizer(vocab=vocab)  # transformers >= 5
    except TypeError:
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tok = transformers.BertTokenizer(vocab_file=str(folder / "vocab.txt"))
    assert tok("left lung")["input_ids"] == [2, 5, 7, 3]  # real word ids, not [UNK]
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    model = transformers.BertModel(cfg).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model, tok


def _states(model, tok, text, layer):
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        hs = model(**enc, output_hidden_states=True).hidden_states[layer][0]
    return hs.tolist(), enc["input_ids"][0].tolist()


@pytest.mark.parametrize("layer", [1, 2])
def test_bert_score_matches_a_plain_oracle(tiny, layer):
    folder, model, tok = tiny
    preds = ["left lung", "the liver", "yes", "small ct mri"]
    refs = ["the left lung", "liver", "no", "large mri"]
    got = bert_score(preds, refs, str(folder), num_layers=layer, batch_size=3, device="cpu")
    special = {tok.cls_token_id, tok.sep_token_id}
    assert boundary_ids(tok) == special
    for i, (p, r) in enumerate(zip(preds, refs)):
        exp = bert_score_pair(
            *_states(model, tok, p, layer), *_states(model, tok, r, layer), special
        )
        assert got["precision"][i] == pytest.approx(exp[0], abs=1e-5)
        assert got["recall"][i] == pytest.approx(exp[1], abs=1e-5)
        assert got["f1"][i] == pytest.approx(exp[2], abs=1e-5)


def test_bert_score_identity_last_layer_and_errors(tiny):
    folder, _, _ = tiny
    s = bert_score(["left lung", ""], ["left lung", "yes"], str(folder), device="cpu")
    assert s["f1"][0] == pytest.approx(1.0, abs=1e-6)  # the last layer by default
    assert s["f1"][1] == 0.0  # an empty prediction
    idf = bert_score(["left lung", "no"], ["left lung", "yes"], str(folder), idf=True)
    assert idf["f1"][0] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InvalidArgumentError, match="local model folder"):
        bert_score(["a"], ["b"])
    with pytest.raises(InvalidArgumentError, match="num_layers"):
        bert_score(["a"], ["b"], str(folder), num_layers=7)


def test_evaluate_adds_bertscore_columns(tiny):
    import polars as pl

    from medtrust.vqa import evaluate

    folder, _, _ = tiny
    samples = pl.DataFrame(
        {
            "qid": ["1", "2"],
            "question": ["Which lung?"] * 2,
            "answer": ["left lung", "right lung"],
            "answer_type": "open",
            "split": "test",
            "modality": ["CT", "X-Ray"],
        }
    )
    preds = pl.DataFrame({"qid": ["1", "2"], "pred": ["left lung", "liver"]})
    shift = {"name": "t", "attribute": "modality", "ood_values": ["X-Ray"]}
    res = evaluate(samples, preds, shift, bertscore_model=str(folder))
    direct = bert_score(["left lung", "liver"], ["left lung", "right lung"], str(folder))
    assert res.scores["bertscore_f1"].to_list() == pytest.approx(direct["f1"])
    assert "bertscore_f1" in res.summary.columns
    assert res.provenance["bertscore_model"] == str(folder)
