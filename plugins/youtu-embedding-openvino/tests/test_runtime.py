"""The OpenVINO runtime on the real all-MiniLM-L6-v2.

Equal to torch in f32, close in bf16, int8 independent of a text's batch-mates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from youtu_embedding_openvino.runtime import cpu_capabilities

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import pair_spearman, read_stsb_pairs


def test_f32_matches_torch(ov_f32: Encoder, torch_minilm: Encoder, short_and_long_texts: list[str]) -> None:
    texts = short_and_long_texts[:48]
    got, expected = ov_f32.encode(texts), torch_minilm.encode(texts)
    assert got.shape == expected.shape == (48, 384)
    assert np.abs(got - expected).max() < 1e-4
    details = ov_f32.info()["runtime_details"]
    assert "f32" in details["inference_precision"] or "float32" in details["inference_precision"]
    assert details["quantization"] == "none"


def test_conversion_is_cached(minilm_path: Path, ov_cache: Path, ov_f32: Encoder) -> None:
    again = Encoder(minilm_path, device="cpu", runtime="openvino", runtime_options={"cache_dir": str(ov_cache)})
    assert again.info()["runtime_details"]["from_cache"] is True
    assert again.info()["runtime_details"]["ir_file"] == ov_f32.info()["runtime_details"]["ir_file"]


@pytest.mark.skipif("BF16" not in cpu_capabilities(), reason="no bf16 in OpenVINO's CPU plugin here")
def test_bf16_is_lossless_tier(
    minilm_path: Path, ov_cache: Path, torch_minilm: Encoder, short_and_long_texts: list[str]
) -> None:
    enc = Encoder(
        minilm_path, device="cpu", runtime="openvino", runtime_options={"cache_dir": str(ov_cache), "precision": "bf16"}
    )
    texts = short_and_long_texts[:48]
    cosine = (enc.encode(texts) * torch_minilm.encode(texts)).sum(1)
    assert cosine.mean() >= 0.9999 and cosine.min() >= 0.999


def test_streams_run_batches_at_once_without_changing_them(
    minilm_path: Path, ov_cache: Path, ov_f32: Encoder, short_and_long_texts: list[str]
) -> None:
    """With 2 streams the model takes 2 calls at once and the Encoder runs 2 batches from 2 threads
    (a single batch is halved): the same vectors as one stream, in input order."""
    options = {"cache_dir": str(ov_cache), "precision": "f32", "streams": 2, "num_threads": 2}
    two = Encoder(minilm_path, device="cpu", runtime="openvino", runtime_options=options)
    assert two.runner.concurrent_calls == 2  # type: ignore[attr-defined]
    texts = short_and_long_texts[:40]
    np.testing.assert_allclose(two.encode(texts, batch_size=8), ov_f32.encode(texts, batch_size=8), atol=1e-5)
    np.testing.assert_allclose(two.encode(texts[:6]), ov_f32.encode(texts[:6]), atol=1e-5)  # one batch, halved
    np.testing.assert_allclose(
        two.encode(texts, long_inputs="chunk", max_length=16, batch_size=4),
        ov_f32.encode(texts, long_inputs="chunk", max_length=16, batch_size=4),
        atol=1e-5,
    )
    assert two.info()["runtime_details"]["streams"] == 2


def test_int8_quality(ov_int8: Encoder, torch_minilm: Encoder, data_dir: Path) -> None:
    texts, gold = read_stsb_pairs(data_dir)
    texts, gold = texts[:300] + texts[len(gold) : len(gold) + 300], gold[:300]
    fp32, int8 = pair_spearman(torch_minilm.encode(texts), gold), pair_spearman(ov_int8.encode(texts), gold)
    assert abs(int8 - fp32) < 1.5, (fp32, int8)
    assert "int8 static" in ov_int8.info()["runtime_details"]["quantization"]


def test_int8_vector_does_not_depend_on_batch_mates(ov_int8: Encoder, short_and_long_texts: list[str]) -> None:
    """Static (calibrated) activation scales: a text embedded alone and in two different batches is the same vector."""
    target = short_and_long_texts[3]
    alone = ov_int8.encode([target])[0]
    shorter = [t for t in short_and_long_texts if len(t) < len(target)][:20]
    longer = [t for t in short_and_long_texts if len(t) > 4 * len(target)][:5]
    # batch-mates of the same padded length as the text, and others that pad it to a longer one
    in_first = ov_int8.encode([*shorter[:10], target, *shorter[10:]], max_batch_tokens=1 << 20)[10]
    in_second = ov_int8.encode([*longer, target], max_batch_tokens=1 << 20)[-1]
    np.testing.assert_array_equal(alone, in_first)
    np.testing.assert_allclose(alone, in_second, atol=2e-6)
