"""Throughput of the onnxruntime runtime (youtu-embedding-onnxruntime plugin) against sentence-transformers.

Group ``minilm-mixed-onnxruntime`` has its own sentence-transformers float32 baseline, measured in
the same run on the same texts (the ``minilm-mixed`` workload of test_bench_encode.py), so that
summarize.py reports the ORT float32 and int8 speed-ups even when this file runs alone. Quality
figures (cosine to float32, STS-B en test Spearman) go to ``extra_info``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder

pytest.importorskip("youtu_embedding_onnxruntime")
GROUP = "minilm-mixed-onnxruntime"


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def fp32_reference() -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


def _ort(cache: Path, quantization: str | None) -> Encoder:
    return Encoder(
        "all-MiniLM-L6-v2",
        device="cpu",
        runtime="onnxruntime",
        quantization=quantization,
        runtime_options={"cache_dir": str(cache)},
    )


@pytest.mark.benchmark(group=GROUP)
def test_minilm_ort_sentence_transformers_baseline(benchmark, fp32_reference: Encoder, mixed_texts: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(fp32_reference.loaded.layout.root), device="cpu")
    out = benchmark.pedantic(lambda: st.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 384)


@pytest.mark.benchmark(group=GROUP)
def test_minilm_ort_fp32(benchmark, fp32_reference: Encoder, onnx_cache: Path, mixed_texts: list[str]) -> None:
    enc = _ort(onnx_cache, None)
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    cosine = (out * fp32_reference.encode(mixed_texts)).sum(1)
    benchmark.extra_info.update(
        min_cosine_to_fp32=float(cosine.min()), threads=enc.info()["runtime_details"]["threads"]
    )
    assert cosine.min() >= 0.99999


@pytest.mark.benchmark(group=GROUP)
def test_minilm_ort_int8(
    benchmark, stsb_spearman, fp32_reference: Encoder, onnx_cache: Path, mixed_texts: list[str]
) -> None:
    enc = _ort(onnx_cache, "int8")
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    cosine = (out * fp32_reference.encode(mixed_texts)).sum(1)
    fp32_score, int8_score = stsb_spearman(fp32_reference), stsb_spearman(enc)
    benchmark.extra_info.update(
        mean_cosine_to_fp32=float(cosine.mean()),
        min_cosine_to_fp32=float(cosine.min()),
        stsb_spearman_fp32=fp32_score,
        stsb_spearman_int8=int8_score,
        stsb_spearman_delta=int8_score - fp32_score,
    )
    assert np.isfinite(out).all() and abs(int8_score - fp32_score) <= 0.5
