"""Output precisions match sentence-transformers' quantize_embeddings; truncate_dim then normalise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers.util import quantize_embeddings as st_quantize

from youtu_embedding.core import Encoder, quantize_embeddings


@pytest.fixture(scope="module")
def enc(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_same_as_sentence_transformers(enc: Encoder, stsb_sentences: list[str], precision: str) -> None:
    texts = stsb_sentences[:150]
    floats = enc.encode(texts)
    ours = enc.encode(texts, precision=precision)
    np.testing.assert_array_equal(ours, st_quantize(floats, precision))
    calib = enc.encode(stsb_sentences[150:300])
    np.testing.assert_array_equal(
        enc.encode(texts[:5], precision=precision, calibration_embeddings=calib),
        st_quantize(floats[:5], precision, calibration_embeddings=calib),
    )
    ranges = np.vstack([np.full(enc.dimension, -0.3), np.full(enc.dimension, 0.3)])
    np.testing.assert_array_equal(
        quantize_embeddings(floats, precision, ranges=ranges), st_quantize(floats, precision, ranges=ranges)
    )


def test_float16_and_shapes(enc: Encoder) -> None:
    floats = enc.encode(["a", "b", "c"])
    half = enc.encode(["a", "b", "c"], precision="float16")
    assert half.dtype == np.float16 and np.abs(half.astype(np.float32) - floats).max() < 1e-3
    assert enc.encode(["a", "b"], precision="binary").shape == (2, enc.dimension // 8)


def test_int8_single_text_needs_calibration(enc: Encoder) -> None:
    from youtu_embedding.core import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="calibration"):
        enc.encode(["only one"], precision="int8")


def test_truncate_dim_truncates_then_normalises(enc: Encoder) -> None:
    full = enc.encode(["hello world", "another text"], normalize=False)
    cut = enc.encode(["hello world", "another text"], truncate_dim=16)
    expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)
    raw = enc.encode(["hello world"], truncate_dim=16, normalize=False)
    np.testing.assert_allclose(raw, full[:1, :16], atol=1e-6)


def test_tensor_output(enc: Encoder) -> None:
    import torch

    t = enc.encode(["a", "b"], convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (2, enc.dimension)
