"""The onnxruntime runtime on the real all-MiniLM-L6-v2: equal to torch in float32, accurate in int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from youtu_embedding_onnxruntime.export import cache_path
from youtu_embedding_onnxruntime.options import parse_options

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import pair_spearman, read_stsb_pairs


@pytest.fixture(scope="module")
def mixed(short_and_long_texts: list[str]) -> list[str]:
    return short_and_long_texts


def test_fp32_equals_torch(torch_minilm: Encoder, ort_fp32: Encoder, mixed: list[str]) -> None:
    expected = torch_minilm.encode(mixed)
    got = ort_fp32.encode(mixed)
    assert got.shape == expected.shape == (len(mixed), 384)
    assert (got * expected).sum(1).min() >= 0.99999
    assert np.abs(got - expected).max() < 1e-4
    # the graph has dynamic batch and sequence axes: one text alone, and tiny batches, give the same vectors
    assert float(ort_fp32.encode(mixed[3]) @ expected[3]) >= 0.99999
    small = ort_fp32.encode(mixed[:20], batch_size=3)
    assert (small * expected[:20]).sum(1).min() >= 0.99999


def test_fp32_keeps_the_encoder_features(torch_minilm: Encoder, ort_fp32: Encoder, mixed: list[str]) -> None:
    """Prompts, Matryoshka truncation, output precision and pooling are the encoder's, whatever the runtime."""
    kwargs = dict(prompt="query: ", truncate_dim=128, pooling="cls")
    expected = torch_minilm.encode(mixed[:30], **kwargs)
    got = ort_fp32.encode(mixed[:30], **kwargs)
    assert got.shape == (30, 128)
    assert (got * expected).sum(1).min() >= 0.99999
    binary = ort_fp32.encode(mixed[:30], precision="ubinary")
    assert np.array_equal(binary, torch_minilm.encode(mixed[:30], precision="ubinary"))


def test_int8_quality_on_stsb(torch_minilm: Encoder, ort_int8: Encoder, data_dir: Path) -> None:
    """STS-B en test (1379 pairs): int8 within 0.5 Spearman points of float32, mean cosine >= 0.99."""
    texts, gold = read_stsb_pairs(data_dir)
    fp32 = torch_minilm.encode(texts)
    int8 = ort_int8.encode(texts)
    cosine = (fp32 * int8).sum(1)
    assert cosine.mean() >= 0.99, cosine.mean()
    assert cosine.min() >= 0.9, cosine.min()
    reference, quantized = pair_spearman(fp32, gold), pair_spearman(int8, gold)
    assert reference > 80  # the published all-MiniLM-L6-v2 figure is about 82
    assert abs(reference - quantized) <= 0.5, (reference, quantized)


def test_int8_file_is_quantized_and_cached(
    ort_fp32: Encoder, ort_int8: Encoder, minilm_path: Path, ort_cache: Path
) -> None:
    import onnx

    fp32_file = Path(ort_fp32.info()["runtime_details"]["onnx_file"])
    int8_file = Path(ort_int8.info()["runtime_details"]["onnx_file"])
    assert fp32_file.parent.parent == int8_file.parent.parent == ort_cache
    fp32_ops = {node.op_type for node in onnx.load(str(fp32_file)).graph.node}
    assert "Gelu" in fp32_ops and "IsNaN" not in fp32_ops  # opset-20 Gelu; eager attention, not the SDPA guard
    assert ort_fp32.loaded.model.config._attn_implementation == "sdpa"  # restored after the eager export
    graph = onnx.load(str(int8_file)).graph
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2]
    assert len(int8_weights) == 6 * 6  # every linear layer of the 6 blocks (q, k, v, out, up, down)
    assert {node.op_type for node in graph.node} & {"MatMulInteger", "DynamicQuantizeMatMul"}
    # the token embedding table (47 MB) stays float32; the linear weights shrink 4x
    assert int8_file.stat().st_size < fp32_file.stat().st_size - 30_000_000
    again = Encoder(
        minilm_path, device="cpu", runtime="onnxruntime", quantization="int8", runtime_options={"cache_dir": ort_cache}
    )
    details = again.info()["runtime_details"]
    assert details["from_cache"] is True and details["onnx_file"] == str(int8_file)


def test_cache_key_follows_the_options(ort_int8: Encoder, ort_cache: Path) -> None:
    base = parse_options({"cache_dir": ort_cache})
    other = parse_options({"cache_dir": ort_cache, "per_channel": False})
    loaded = ort_int8.loaded
    assert cache_path(loaded, base, "int8") == Path(ort_int8.info()["runtime_details"]["onnx_file"])
    assert cache_path(loaded, other, "int8") != cache_path(loaded, base, "int8")
    assert cache_path(loaded, other, None) == cache_path(loaded, base, None)  # quantisation options: int8 only
    assert cache_path(loaded, base, None).parent.parent == ort_cache


def test_info_shows_the_runtime(ort_int8: Encoder, torch_minilm: Encoder) -> None:
    info = ort_int8.info()
    assert (info["runtime"], info["runtime_reason"], info["quantization"]) == ("onnxruntime", "requested", "int8")
    details = info["runtime_details"]
    assert details["providers"] == ["CPUExecutionProvider"]
    assert details["quantization"].startswith("int8 dynamic")
    assert details["threads"] >= 1 and details["optimization_level"] == "all"
    assert info["fast_paths"]["compute"].startswith("onnxruntime runtime")
    default = torch_minilm.info()
    assert (default["runtime"], default["runtime_reason"]) == ("torch", "default")
