"""sentence-transformers features on the tiny `utu` release, checked against the core."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sentence_transformers
from sentence_transformers import quantize_embeddings

from youtu_embedding.core import Encoder
from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS
from youtu_embedding.st import SentenceTransformer


@pytest.fixture(scope="module")
def st_utu(utu_release: Path) -> SentenceTransformer:
    return SentenceTransformer(str(utu_release), device="cpu")


@pytest.fixture(scope="module")
def core_utu(utu_release: Path) -> Encoder:
    return Encoder(utu_release, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def sentences(stsb_sentences: list[str]) -> list[str]:
    return stsb_sentences[:48]


def test_prompt_name_and_literal_prompt_match_core(st_utu, core_utu, sentences) -> None:
    np.testing.assert_allclose(
        st_utu.encode(sentences, prompt_name="query"), core_utu.encode(sentences, prompt_name="query"), atol=1e-5
    )
    prompt = "Instruction: Retrieve semantically similar text \nQuery: "
    np.testing.assert_allclose(
        st_utu.encode(sentences, prompt=prompt), core_utu.encode(sentences, prompt=prompt), atol=1e-5
    )
    # no prompt: the BOS token is still left out of the mean, as in the core
    np.testing.assert_allclose(st_utu.encode(sentences), core_utu.encode(sentences), atol=1e-5)


def test_stock_pooling_differs_which_is_why_the_modules_exist(utu_release, core_utu, sentences) -> None:
    stock = sentence_transformers.SentenceTransformer(str(utu_release), device="cpu")
    stock.tokenizer.pad_token = stock.tokenizer.eos_token
    ours = core_utu.encode_documents(sentences)
    theirs = stock.encode_document(sentences)
    assert np.abs(ours - theirs).max() > 1e-3  # stock keeps BOS in the mean of documents


def test_count_prefix_mask_matches_core_count(utu_release, sentences) -> None:
    st = SentenceTransformer(str(utu_release), device="cpu", prefix_mask="count")
    core = Encoder(utu_release, device="cpu", dtype="float32", prefix_mask="count")
    np.testing.assert_allclose(st.encode_query(sentences), core.encode_queries(sentences), atol=1e-5)


def test_unknown_prefix_mask_is_named(utu_release) -> None:
    from youtu_embedding.core.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="prefix_mask"):
        SentenceTransformer(str(utu_release), device="cpu", prefix_mask="tokens")


def test_prompt_longer_than_max_length_is_a_clear_error(utu_release) -> None:
    st = SentenceTransformer(str(utu_release), device="cpu", max_seq_length=4)
    with pytest.raises(ValueError, match=r"inputs\[0\]: the prompt takes .*max_seq_length=4"):
        st.encode_query(["What's the weather like?"])


def test_precision_int8_and_binary_equal_quantize_embeddings(st_utu, stsb_sentences) -> None:
    from youtu_embedding.core.quantization import quantize_embeddings as core_quantize

    floats = st_utu.encode(stsb_sentences[:100])
    for precision in ("int8", "binary"):
        quantized = st_utu.encode(stsb_sentences[:100], precision=precision)
        expected = quantize_embeddings(floats, precision=precision)
        assert quantized.dtype == expected.dtype
        np.testing.assert_array_equal(quantized, expected)
        np.testing.assert_array_equal(core_quantize(floats, precision), expected)  # the core's quantiser agrees


def test_save_load_round_trip_is_a_standard_directory(st_utu, core_utu, sentences, tmp_path) -> None:
    st_utu.save(str(tmp_path / "saved"))
    modules = json.loads((tmp_path / "saved" / "modules.json").read_text())
    assert all(m["type"].startswith("sentence_transformers.") for m in modules)
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((tmp_path / "saved" / "1_Pooling" / "config.json").read_text())["include_prompt"] is False
    prompts = json.loads((tmp_path / "saved" / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == YOUTU_RELEASE_PROMPTS["query"]
    again = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    np.testing.assert_array_equal(again.encode_query(sentences), st_utu.encode_query(sentences))
    core_again = Encoder(tmp_path / "saved", device="cpu", dtype="float32")
    np.testing.assert_allclose(core_again.encode_queries(sentences), core_utu.encode_queries(sentences), atol=1e-6)


def test_plain_hf_directory_runs_like_the_core(tiny_utu, sentences) -> None:
    st = SentenceTransformer(str(tiny_utu), device="cpu")  # no modules.json: the core's layout
    core = Encoder(tiny_utu, device="cpu", dtype="float32")
    assert st.prompts["query"] == core.prompts["query"]
    np.testing.assert_allclose(st.encode_query(sentences), core.encode_queries(sentences), atol=1e-5)
    np.testing.assert_allclose(st.encode_document(sentences), core.encode_documents(sentences), atol=1e-5)
    assert np.allclose(np.linalg.norm(st.encode(sentences), axis=1), 1.0, atol=1e-5)


def test_multi_process_pool_equals_single_process(st_utu, sentences) -> None:
    pool = st_utu.start_multi_process_pool(["cpu", "cpu"])
    try:
        pooled = st_utu.encode(sentences, prompt_name="query", pool=pool, chunk_size=12)
    finally:
        st_utu.stop_multi_process_pool(pool)
    np.testing.assert_allclose(pooled, st_utu.encode(sentences, prompt_name="query"), atol=1e-6)


def test_training_updates_the_model_and_uses_the_core_pooling(utu_release, data_dir, tmp_path) -> None:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from youtu_embedding.core.testing import read_jsonl

    rows = read_jsonl(data_dir / "train" / "ir" / "sick-entailment.jsonl")[:64]
    train = Dataset.from_dict(
        {"anchor": [r["query"][2] for r in rows], "positive": [r["positives"][0][2] for r in rows]}
    )
    model = SentenceTransformer(str(utu_release), device="cpu")
    before = model.encode_query(train["anchor"][:8])
    loss = MultipleNegativesRankingLoss(model)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=3,
        per_device_train_batch_size=16,
        learning_rate=5e-3,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        prompts={"anchor": model.prompts["query"]},
        use_cpu=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    after = model.encode_query(train["anchor"][:8])
    assert np.abs(after - before).max() > 1e-3
    # the trained model still runs exactly like the core once saved
    model.save(str(tmp_path / "trained"))
    core = Encoder(tmp_path / "trained", device="cpu", dtype="float32")
    np.testing.assert_allclose(core.encode_queries(train["anchor"][:8]), after, atol=1e-5)
