"""Cost of the sentence-transformers shim's instruction exclusion (offsets per row) on a `utu` model.

Group ``st-utu-query``: a small random `utu` (2 layers, hidden 128, real BPE tokenizer) embeds the
512 mixed texts with the release's query prompt. Baseline: stock sentence-transformers with its own
``include_prompt=False`` pooling (prompt token count); against it the shim (character offsets, the
core's numbers) and the core itself. Ratios come from summarize.py (same run, same texts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from youtu_embedding.core import Encoder


@pytest.fixture(scope="module")
def utu_dir(tmp_path_factory: pytest.TempPathFactory, mixed_texts: list[str]) -> Path:
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(
        tmp_path_factory.mktemp("bench-utu"),
        num_layers=2,
        hidden_size=128,
        num_heads=4,
        head_dim=32,
        intermediate_size=256,
        texts=mixed_texts,
        vocab_size=2048,
        sentence_transformers_config=True,
    )


@pytest.mark.benchmark(group="st-utu-query")
def test_st_utu_stock_sentence_transformers_baseline(benchmark, utu_dir: Path, mixed_texts: list[str]) -> None:
    import sentence_transformers

    import youtu_embedding.core  # noqa: F401  (registers `utu`)

    st = sentence_transformers.SentenceTransformer(str(utu_dir), device="cpu")
    st.tokenizer.pad_token = st.tokenizer.eos_token
    out = benchmark.pedantic(lambda: st.encode_query(mixed_texts), rounds=2, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 128)


@pytest.mark.benchmark(group="st-utu-query")
def test_st_utu_shim(benchmark, utu_dir: Path, mixed_texts: list[str]) -> None:
    from youtu_embedding.st import SentenceTransformer

    st = SentenceTransformer(str(utu_dir), device="cpu")
    out = benchmark.pedantic(lambda: st.encode_query(mixed_texts), rounds=2, iterations=1, warmup_rounds=1)
    core = Encoder(utu_dir, device="cpu", dtype="float32").encode_queries(mixed_texts)
    benchmark.extra_info["max_abs_diff_to_core"] = float(abs(out - core).max())


@pytest.mark.benchmark(group="st-utu-query")
def test_st_utu_core(benchmark, utu_dir: Path, mixed_texts: list[str]) -> None:
    enc = Encoder(utu_dir, device="cpu", dtype="float32")
    out = benchmark.pedantic(lambda: enc.encode_queries(mixed_texts), rounds=2, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 128)
