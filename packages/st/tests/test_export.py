"""``youtu-embed export``: a sentence-transformers directory that the core and sentence-transformers both load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sentence_transformers
from typer.testing import CliRunner

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app


@pytest.fixture(scope="module")
def app():
    return build_app()


def _export(app, model: str, out, *extra: str):
    result = CliRunner().invoke(app, ["export", model, str(out), "--json", *extra])
    return result


def _layout_ok(out, *, include_prompt: bool) -> dict:
    modules = json.loads((out / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.base.modules.transformer.Transformer",
        "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        "sentence_transformers.base.modules.normalize.Normalize",
    ]
    pooling = json.loads((out / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "mean" and pooling["include_prompt"] is include_prompt
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    return json.loads((out / "config_sentence_transformers.json").read_text())


def test_export_minilm_loads_in_stock_st_and_core(app, minilm_path, stsb_sentences, tmp_path) -> None:
    out = tmp_path / "minilm-st"
    result = _export(app, "all-MiniLM-L6-v2", out, "--verify")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["verify_max_abs_diff"] < 1e-5 and summary["max_seq_length"] == 256
    _layout_ok(out, include_prompt=True)
    texts = stsb_sentences[:32]
    stock = sentence_transformers.SentenceTransformer(str(out), device="cpu")  # no shim, no remote code
    core = Encoder(out, device="cpu", dtype="float32")
    original = Encoder("all-MiniLM-L6-v2", device="cpu", dtype="float32")
    np.testing.assert_allclose(stock.encode(texts), core.encode(texts), atol=1e-6)
    np.testing.assert_allclose(core.encode(texts), original.encode(texts), atol=1e-6)


def test_export_utu_release_round_trip(app, offline_cache, stsb_sentences, tmp_path) -> None:
    from youtu_embedding.st import SentenceTransformer

    out = tmp_path / "youtu-st"
    result = _export(app, "Youtu-RAG/Youtu-Embedding-V1", out)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model_type"] == "utu" and summary["is_causal"] is False  # recorded explicitly
    cfg = _layout_ok(out, include_prompt=False)
    assert cfg["prompts"]["query"].startswith("Instruction: ") and cfg["similarity_fn_name"] == "cosine"
    texts = stsb_sentences[:32]
    st = SentenceTransformer(str(out), device="cpu")
    assert isinstance(st, sentence_transformers.SentenceTransformer)
    core = Encoder(out, device="cpu", dtype="float32")
    source = Encoder("tencent/Youtu-Embedding", device="cpu", dtype="float32")
    for ours, theirs in (
        (st.encode_query(texts), core.encode_queries(texts)),
        (st.encode_document(texts), core.encode_documents(texts)),
        (core.encode_queries(texts), source.encode_queries(texts)),
    ):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_export_records_a_chosen_attention_direction(app, utu_release, stsb_sentences, tmp_path) -> None:
    out = tmp_path / "causal"
    result = _export(app, str(utu_release), out, "--attention", "causal")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["is_causal"] is True
    texts = stsb_sentences[:8]
    causal = Encoder(utu_release, device="cpu", dtype="float32", attention="causal")
    np.testing.assert_allclose(Encoder(out, device="cpu").encode(texts), causal.encode(texts), atol=1e-5)
    bad = _export(app, str(utu_release), tmp_path / "bad", "--attention", "sideways")
    assert bad.exit_code == 2 and "error: attention:" in bad.output


def test_export_refuses_a_non_empty_directory(app, minilm_path, tmp_path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    result = _export(app, "all-MiniLM-L6-v2", tmp_path / "busy")
    assert result.exit_code == 2
    assert "error: out:" in result.output and "not empty" in result.output
    assert (tmp_path / "busy" / "keep.txt").read_text() == "x"
