"""The inductor runtime on the real all-MiniLM-L6-v2: equal to torch compiled in float32, accurate in int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import pair_spearman, read_stsb_pairs


@pytest.fixture(scope="module")
def mixed(short_and_long_texts: list[str]) -> list[str]:
    return short_and_long_texts


def _graphs_compiled() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def test_float32_compiled_equals_torch(torch_minilm: Encoder, compiled_fp32: Encoder, mixed: list[str]) -> None:
    expected = torch_minilm.encode(mixed)
    got = compiled_fp32.encode(mixed)
    assert got.shape == expected.shape == (len(mixed), 384)
    assert np.abs(got - expected).max() < 1e-5
    details = compiled_fp32.info()["runtime_details"]
    assert details["quantization"] == "none" and details["compute_dtype"] == "float32"
    assert details["compile_seconds"] > 0  # compiled while the encoder was built (warmup=True)


def test_one_graph_serves_every_shape(compiled_int8: Encoder, mixed: list[str]) -> None:
    """Dynamic batch and sequence axes: single texts, odd batches and long inputs reuse the warm-up's graph."""
    compiled_int8.encode(mixed[:1])  # the same process may have compiled other encoders before
    before = _graphs_compiled()
    compiled_int8.encode(mixed[5])
    compiled_int8.encode(mixed[:7], batch_size=3)
    compiled_int8.encode(mixed, batch_size=64)
    compiled_int8.encode(["word " * 600])  # cut at the model's 256 tokens
    assert _graphs_compiled() == before


def test_int8_quality_on_stsb(torch_minilm: Encoder, compiled_int8: Encoder, data_dir: Path) -> None:
    """STS-B en test (1379 pairs): int8 within 0.5 Spearman points of float32, mean cosine >= 0.99."""
    texts, gold = read_stsb_pairs(data_dir)
    fp32 = torch_minilm.encode(texts)
    int8 = compiled_int8.encode(texts)
    cosine = (fp32 * int8).sum(1)
    assert cosine.mean() >= 0.99, cosine.mean()
    assert cosine.min() >= 0.9, cosine.min()
    reference, quantized = pair_spearman(fp32, gold), pair_spearman(int8, gold)
    assert reference > 80  # the published all-MiniLM-L6-v2 figure is about 82
    assert abs(reference - quantized) <= 0.5, (reference, quantized)


def test_int8_vectors_do_not_depend_on_batch_mates(compiled_int8: Encoder, data_dir: Path) -> None:
    """Activations are quantised per token: a text gets the same int8 vector alone and in two different batches.

    Every row is cut to the same 48 tokens, so no row is padded: what could change a row's vector is only
    its batch-mates' values (a per-batch activation scale follows the largest of them). Padding a row to a
    longer batch changes its float rounding by ~1e-7, which int8 rounding may amplify; that is not tested here.
    """
    from youtu_embedding.core.testing import read_jsonl

    paragraphs = [r["text"] for r in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")[:12]]
    probes, mates_a, mates_b = paragraphs[:3], paragraphs[3:6], paragraphs[6:12]
    alone = np.stack([compiled_int8.encode(t, max_length=48) for t in probes])
    in_a = compiled_int8.encode(probes + mates_a, max_length=48)[:3]
    in_b = compiled_int8.encode(mates_b + probes, max_length=48)[-3:]
    assert np.abs(in_a - alone).max() < 1e-6
    assert np.abs(in_b - alone).max() < 1e-6


def test_int8_weights_are_int8_per_channel(compiled_int8: Encoder) -> None:
    """Each of the 36 linear layers keeps int8 weights with one scale per output channel."""
    from torchao.quantization import Int8Tensor

    graph = compiled_int8.runner.compiled._orig_mod  # type: ignore[attr-defined]
    weights = [p for n, p in graph.named_parameters() if n.endswith("weight") and isinstance(p, Int8Tensor)]
    assert len(weights) == 36  # 6 layers x (query, key, value, attention output, intermediate, output)
    assert all(w.qdata.dtype == torch.int8 and w.scale.numel() == w.shape[0] for w in weights)
    assert "per token" in compiled_int8.info()["runtime_details"]["quantization"]


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no native bf16")
def test_int8_mixed_bf16(minilm_path: Path, torch_minilm: Encoder, mixed: list[str]) -> None:
    """compute_dtype='bfloat16' with int8: int8 GEMMs (from the float32 weights) and bf16 elsewhere."""
    options = {"compute_dtype": "bfloat16"}
    enc = Encoder(minilm_path, device="cpu", runtime="inductor", quantization="int8", runtime_options=options)
    cosine = (enc.encode(mixed) * torch_minilm.encode(mixed)).sum(1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.9, (cosine.mean(), cosine.min())
    assert enc.info()["runtime_details"]["compute_dtype"] == "bfloat16 autocast"


def test_encoder_features_are_kept(torch_minilm: Encoder, compiled_fp32: Encoder, mixed: list[str]) -> None:
    """Prompts, Matryoshka truncation, pooling and output precision are the encoder's, whatever the runtime."""
    kwargs = dict(prompt="query: ", truncate_dim=128, pooling="cls")
    got, expected = compiled_fp32.encode(mixed[:30], **kwargs), torch_minilm.encode(mixed[:30], **kwargs)
    assert got.shape == (30, 128)
    assert (got * expected).sum(1).min() >= 0.99999
