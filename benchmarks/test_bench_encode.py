"""Throughput of the core against sentence-transformers and against the reference recipe.

Ratios are computed by summarize.py from the same run (same machine, same texts):
each group has one ``baseline`` benchmark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.mark.benchmark(group="minilm-mixed")
def test_minilm_sentence_transformers_baseline(benchmark, minilm: Encoder, mixed_texts: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm.loaded.layout.root), device="cpu")
    out = benchmark.pedantic(lambda: st.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 384)


@pytest.mark.benchmark(group="minilm-mixed")
def test_minilm_core(benchmark, minilm: Encoder, mixed_texts: list[str]) -> None:
    out = benchmark.pedantic(lambda: minilm.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 384)


@pytest.fixture(scope="module")
def small_utu(tmp_path_factory: pytest.TempPathFactory, mixed_texts: list[str]) -> Path:
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(
        tmp_path_factory.mktemp("utu-bench"),
        num_layers=4,
        hidden_size=512,
        num_heads=8,
        head_dim=64,
        intermediate_size=1536,
        texts=mixed_texts,
        vocab_size=2000,
    )


@pytest.mark.benchmark(group="utu-mixed")
def test_utu_reference_recipe_baseline(benchmark, small_utu: Path, mixed_texts: list[str]) -> None:
    """The release's recipe: unsorted batches padded to the longest, per-batch prefix masking."""
    enc = Encoder(small_utu, device="cpu", max_length=512)
    tok, model = enc.tokenizer, enc.model

    @torch.inference_mode()
    def run() -> np.ndarray:
        outs = []
        for i in range(0, len(mixed_texts), 32):
            batch = tok(mixed_texts[i : i + 32], padding=True, truncation=True, max_length=512, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].clone()
            mask[:, :1] = 0
            emb = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            outs.append(torch.nn.functional.normalize(emb, dim=-1))
        return torch.cat(outs).numpy()

    out = benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=1)
    np.testing.assert_allclose(out, enc.encode_documents(mixed_texts), atol=1e-4)


@pytest.mark.benchmark(group="utu-mixed")
def test_utu_core(benchmark, small_utu: Path, mixed_texts: list[str]) -> None:
    enc = Encoder(small_utu, device="cpu", max_length=512)
    benchmark.pedantic(
        lambda: enc.encode_documents(mixed_texts, batch_size=32), rounds=2, iterations=1, warmup_rounds=1
    )
