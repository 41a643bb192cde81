"""`utu` (the Youtu-Embedding architecture) through the inductor runtime, on a tiny checkpoint with a real tokenizer.

One dynamic graph per case (batch and sequence dynamic): float32 equal to eager, bf16 close to eager bf16,
int8 (per-channel weights, per-token activations) close to bf16 with half its weight memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder


@pytest.fixture(scope="module")
def texts(short_and_long_texts: list[str]) -> list[str]:
    return short_and_long_texts[:48]  # short STS-B sentences and long XQuAD paragraphs, mixed


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_utu_float32_compiled_equals_eager(tiny_utu: Path, texts: list[str]) -> None:
    eager = Encoder(tiny_utu, device="cpu")
    compiled = Encoder(tiny_utu, device="cpu", runtime="inductor")
    for kwargs in ({}, {"prompt_name": "query"}):  # instruction tokens attended to, excluded from pooling
        expected, got = eager.encode(texts, **kwargs), compiled.encode(texts, **kwargs)
        assert np.abs(got - expected).max() < 1e-5
    single = compiled.encode(texts[3])  # batch of one and new lengths: the same dynamic graph
    assert np.abs(single - eager.encode(texts[3])).max() < 1e-5


@pytest.fixture(scope="module")
def eager_bf16(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", dtype="bfloat16")


def test_utu_bfloat16_compiled_close_to_eager(tiny_utu: Path, eager_bf16: Encoder, texts: list[str]) -> None:
    compiled = Encoder(tiny_utu, device="cpu", dtype="bfloat16", runtime="inductor")
    cosine = _cosine(compiled.encode(texts), eager_bf16.encode(texts))
    assert cosine.min() >= 0.999, cosine.min()
    assert compiled.info()["runtime_details"]["compute_dtype"] == "bfloat16 autocast"


def test_utu_int8_close_to_bf16_with_half_the_weights(tiny_utu: Path, eager_bf16: Encoder, texts: list[str]) -> None:
    from torchao.quantization import Int8Tensor

    int8 = Encoder(tiny_utu, device="cpu", runtime="inductor", quantization="int8")
    cosine = _cosine(int8.encode(texts), eager_bf16.encode(texts))
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.98, (cosine.mean(), cosine.min())
    graph = int8.runner.compiled._orig_mod  # type: ignore[attr-defined]
    quantized = {n: p for n, p in graph.named_parameters() if isinstance(p, Int8Tensor)}
    assert len(quantized) == 2 * 7  # 2 layers x (q, k, v, o, gate, up, down)
    int8_bytes = sum(p.qdata.numel() + p.scale.numel() * p.scale.element_size() for p in quantized.values())
    bf16_bytes = sum(p.numel() * 2 for p in quantized.values())
    assert int8_bytes <= 0.55 * bf16_bytes
    assert all(p.qdata.dtype == torch.int8 for p in quantized.values())
