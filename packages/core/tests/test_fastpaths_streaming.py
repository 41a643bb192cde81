"""CPU fast paths keep quality; streaming output keeps order and never leaves partial files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from youtu_embedding.core import Encoder, InvalidArgumentError
from youtu_embedding.core.fastpaths import cpu_bf16_supported
from youtu_embedding.core.streaming import NpyStreamWriter
from youtu_embedding.core.testing import read_jsonl


@pytest.fixture(scope="module")
def stsb_test(data_dir: Path) -> tuple[list[str], list[str], list[float]]:
    rows = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [r["score"] for r in rows]


def _spearman(enc: Encoder, data: tuple[list[str], list[str], list[float]]) -> tuple[float, np.ndarray]:
    a, b = enc.encode(data[0]), enc.encode(data[1])
    return 100 * spearmanr((a * b).sum(1), data[2]).statistic, a


@pytest.fixture(scope="module")
def fp32_reference(stsb_test: tuple) -> tuple[float, np.ndarray]:
    return _spearman(Encoder("all-MiniLM-L6-v2"), stsb_test)


def test_bf16_quality(stsb_test: tuple, fp32_reference: tuple[float, np.ndarray]) -> None:
    enc = Encoder("all-MiniLM-L6-v2", dtype="bfloat16")
    assert enc.info()["fast_paths"]["compute"].startswith("bfloat16 weights")
    score, emb = _spearman(enc, stsb_test)
    assert abs(score - fp32_reference[0]) <= 0.2
    assert (emb * fp32_reference[1]).sum(1).min() >= 0.999


def test_int8_quality(stsb_test: tuple, fp32_reference: tuple[float, np.ndarray]) -> None:
    enc = Encoder("all-MiniLM-L6-v2", quantization="int8")
    assert enc.info()["quantization"] == "int8" and "int8" in enc.info()["fast_paths"]["compute"]
    score, _ = _spearman(enc, stsb_test)
    assert abs(score - fp32_reference[0]) <= 0.5


def test_fast_path_report_and_errors(tiny_utu: Path) -> None:
    info = Encoder(tiny_utu).info()["fast_paths"]
    assert info["attention"].startswith("sdpa") and info["dtype_reason"].startswith("'auto' default")
    assert info["cpu_bf16_supported"] == cpu_bf16_supported()
    with pytest.raises(InvalidArgumentError, match="quantization: unknown quantization 'int4'"):
        Encoder(tiny_utu, quantization="int4")


def test_encode_to_npy_streams_in_order(tiny_utu: Path, stsb_sentences: list[str], tmp_path: Path) -> None:
    enc = Encoder(tiny_utu)
    out = tmp_path / "emb.npy"
    rows = enc.encode_to_npy(iter(stsb_sentences[:57]), out, chunk_size=10, truncate_dim=32)
    loaded = np.load(out, mmap_mode="r")
    assert rows == 57 and loaded.shape == (57, 32)
    np.testing.assert_allclose(loaded, enc.encode(stsb_sentences[:57], truncate_dim=32), atol=1e-6)
    assert enc.encode_to_npy(iter([]), tmp_path / "empty.npy") == 0
    assert np.load(tmp_path / "empty.npy").shape == (0, enc.dimension)


def test_failed_stream_leaves_no_file(tiny_utu: Path, tmp_path: Path) -> None:
    enc = Encoder(tiny_utu)
    out = tmp_path / "emb.npy"
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\]"):
        enc.encode_to_npy(iter(["fine", "also fine", "x", ""]), out, chunk_size=2)
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(InvalidArgumentError, match="ranges"):
        next(enc.encode_iter(["a"], precision="int8"))


def test_npy_writer_round_trip(tmp_path: Path) -> None:
    data = np.arange(30, dtype=np.int8).reshape(10, 3)
    with NpyStreamWriter(tmp_path / "a.npy") as writer:
        writer.append(data[:4])
        writer.append(data[4:])
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)


def test_cpu_hint_recommends_the_fastest_measured_path(tiny_utu: Path) -> None:
    """BERT-family models on CPU are pointed at the OpenVINO runtime; `utu` (not exportable) at bf16."""
    minilm = Encoder("all-MiniLM-L6-v2", device="cpu").info()["fast_paths"]["hint"]
    assert "openvino" in minilm and "docs/performance.md" in minilm
    utu = Encoder(tiny_utu, device="cpu").info()["fast_paths"]["hint"]
    assert "dtype='bfloat16'" in utu and "openvino" not in utu
    assert Encoder(tiny_utu, device="cpu", dtype="bfloat16").info()["fast_paths"]["hint"] is None
