"""Throughput of the inductor runtime (youtu-embedding-inductor plugin) against sentence-transformers.

Group ``minilm-mixed-inductor`` has its own sentence-transformers float32 baseline, measured in the
same run on the same texts (the ``minilm-mixed`` workload of test_bench_encode.py), so that
summarize.py reports the speed-ups of the compiled float32 graph, of PT2E dynamic int8 (float32
elsewhere) and of int8 with bf16 elsewhere even when this file runs alone. Compilation happens while
the encoder is built, outside the timed rounds. Quality figures (cosine to float32, STS-B en test
Spearman) go to ``extra_info``.
"""

from __future__ import annotations

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.core.fastpaths import cpu_bf16_supported

pytest.importorskip("youtu_embedding_inductor")
GROUP = "minilm-mixed-inductor"


@pytest.fixture(scope="module")
def fp32_reference() -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.mark.benchmark(group=GROUP)
def test_minilm_inductor_sentence_transformers_baseline(
    benchmark, fp32_reference: Encoder, mixed_texts: list[str]
) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(fp32_reference.loaded.layout.root), device="cpu")
    out = benchmark.pedantic(lambda: st.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 384)


@pytest.mark.benchmark(group=GROUP)
def test_minilm_inductor_fp32(benchmark, fp32_reference: Encoder, mixed_texts: list[str]) -> None:
    enc = Encoder("all-MiniLM-L6-v2", device="cpu", runtime="inductor")
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    expected = fp32_reference.encode(mixed_texts)
    benchmark.extra_info.update(
        max_abs_diff_to_eager=float(np.abs(out - expected).max()),
        compile_seconds=enc.info()["runtime_details"]["compile_seconds"],
    )
    assert np.abs(out - expected).max() < 1e-5


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("compute", ["float32", "bfloat16"])
def test_minilm_inductor_int8(
    benchmark, stsb_spearman, fp32_reference: Encoder, mixed_texts: list[str], compute: str
) -> None:
    if compute == "bfloat16" and not cpu_bf16_supported():
        pytest.skip("this CPU has no native bf16")
    options = {"compute_dtype": compute}  # the float32 checkpoint is quantised either way
    enc = Encoder("all-MiniLM-L6-v2", device="cpu", runtime="inductor", quantization="int8", runtime_options=options)
    out = benchmark.pedantic(lambda: enc.encode(mixed_texts, batch_size=32), rounds=3, iterations=1, warmup_rounds=1)
    cosine = (out * fp32_reference.encode(mixed_texts)).sum(1)
    fp32_score, int8_score = stsb_spearman(fp32_reference), stsb_spearman(enc)
    benchmark.extra_info.update(
        compute_dtype=enc.info()["runtime_details"]["compute_dtype"],
        compile_seconds=enc.info()["runtime_details"]["compile_seconds"],
        mean_cosine_to_fp32=float(cosine.mean()),
        min_cosine_to_fp32=float(cosine.min()),
        stsb_spearman_fp32=fp32_score,
        stsb_spearman_int8=int8_score,
        stsb_spearman_delta=int8_score - fp32_score,
    )
    assert np.isfinite(out).all() and abs(int8_score - fp32_score) <= 0.5
