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
    benchmark.extra_info.update(roofline(minilm, mixed_texts, benchmark.stats.stats.mean, torch.float32))


@pytest.mark.benchmark(group="minilm-mixed")
def test_minilm_core_bf16(benchmark, minilm: Encoder, mixed_texts: list[str]) -> None:
    enc = Encoder("all-MiniLM-L6-v2", device="cpu", dtype="bfloat16")
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    cosine = (out * minilm.encode(mixed_texts)).sum(1).min()
    benchmark.extra_info.update(
        min_cosine_to_fp32=float(cosine), **roofline(enc, mixed_texts, benchmark.stats.stats.mean, torch.bfloat16)
    )


@pytest.mark.benchmark(group="minilm-mixed")
def test_minilm_core_int8(benchmark, minilm: Encoder, mixed_texts: list[str]) -> None:
    enc = Encoder("all-MiniLM-L6-v2", device="cpu", quantization="int8")
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["mean_cosine_to_fp32"] = float((out * minilm.encode(mixed_texts)).sum(1).mean())


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Measured FLOP/s of an n x n matmul in `dtype` on this machine (best of `repeats`)."""
    import time

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def roofline(enc: Encoder, texts: list[str], seconds: float, dtype: torch.dtype) -> dict[str, float]:
    """Achieved model FLOP/s (linear layers + attention, real token counts) as a fraction of the matmul peak."""
    cfg = enc.model.config
    d, ffn, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    flops = 0.0
    for ids in enc.tokenize(texts):
        t = len(ids)
        flops += layers * (2 * t * (4 * d * d + 2 * d * ffn) + 4 * t * t * d)
    achieved = flops / seconds
    peak = matmul_peak(dtype)
    return {"achieved_gflops": achieved / 1e9, "peak_gflops": peak / 1e9, "fraction_of_peak": achieved / peak}


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
    assert np.abs(out - enc.encode_documents(mixed_texts)).max() < 1e-5  # equal embeddings (fp32)


@pytest.mark.benchmark(group="utu-mixed")
def test_utu_core(benchmark, small_utu: Path, mixed_texts: list[str]) -> None:
    enc = Encoder(small_utu, device="cpu", max_length=512)
    benchmark.pedantic(
        lambda: enc.encode_documents(mixed_texts, batch_size=32), rounds=2, iterations=1, warmup_rounds=1
    )
