"""Shim vs core on the real all-MiniLM-L6-v2: parity, STS-B en test Spearman, truncate_dim, similarity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from youtu_embedding.core.similarity import similarity
from youtu_embedding.core.testing import read_jsonl

#: Published figure (shared/data/README.md), reproduced with plain sentence-transformers.
STSB_EN_TEST_SPEARMAN = 82.03


@pytest.fixture(scope="module")
def stsb_test(data_dir):
    return read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_stsb_spearman_through_the_shim_and_parity_with_core(minilm_st, minilm_core, stsb_test) -> None:
    first = [r["sentence1"] for r in stsb_test]
    second = [r["sentence2"] for r in stsb_test]
    a = minilm_st.encode(first, batch_size=64)
    b = minilm_st.encode(second, batch_size=64)
    score = 100 * spearmanr(_cosine_rows(a, b), [r["score"] for r in stsb_test]).statistic
    assert abs(score - STSB_EN_TEST_SPEARMAN) <= 0.1, score
    core = minilm_core.encode(first[:100])
    assert _cosine_rows(a[:100], core).min() >= 0.99999


def test_truncate_dim_then_normalise_matches_core(minilm_st, minilm_core, stsb_sentences) -> None:
    texts = stsb_sentences[:64]
    ours = minilm_st.encode(texts, truncate_dim=128, normalize_embeddings=True)
    core = minilm_core.encode(texts, truncate_dim=128)
    assert ours.shape == core.shape == (64, 128)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert _cosine_rows(ours, core).min() >= 0.99999


def test_similarity_fn_name(minilm_path, minilm_core, stsb_sentences) -> None:
    from youtu_embedding.st import SentenceTransformer

    texts = stsb_sentences[:16]
    for fn in ("dot", "euclidean", "manhattan"):
        model = SentenceTransformer("all-MiniLM-L6-v2", device="cpu", similarity_fn_name=fn)
        emb = model.encode(texts)
        assert model.similarity_fn_name == fn
        np.testing.assert_allclose(
            np.asarray(model.similarity(emb, emb)),
            similarity(minilm_core.encode(texts), minilm_core.encode(texts), fn),
            atol=1e-4,
        )
