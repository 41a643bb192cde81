"""Device selection, dtype choice, threads; token-budget batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder, InvalidArgumentError
from youtu_embedding.core.batching import plan_batches
from youtu_embedding.core.devices import available_backends, resolve_device, resolve_dtype

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def test_builtin_backends_registered() -> None:
    backends = available_backends()
    assert {"cpu", "cuda", "mps"} <= set(backends)
    assert backends["cpu"].is_available() and backends["cpu"].default_dtype() == torch.float32
    assert backends["cuda"].is_available() == HAS_CUDA and backends["mps"].is_available() == HAS_MPS
    assert backends["mps"].default_dtype() == torch.float16
    assert backends["cuda"].default_dtype() in (torch.bfloat16, torch.float16)


def test_auto_picks_best_available() -> None:
    backend, device = resolve_device("auto")
    expected = "cuda" if HAS_CUDA else "mps" if HAS_MPS else "cpu"
    assert backend.name == expected and device.type == expected
    assert resolve_dtype("auto", backend) == backend.default_dtype()
    assert resolve_dtype("bf16", backend) == torch.bfloat16


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised when CUDA is absent")
def test_unavailable_device_is_a_clear_error() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"device: device 'cuda:0' is not available on this machine.*auto.*cpu"
    ):
        resolve_device("cuda:0")


def test_num_threads(tiny_utu: Path) -> None:
    before = torch.get_num_threads()
    try:
        enc = Encoder(tiny_utu, num_threads=1)
        assert enc.info()["torch_threads"] == 1
        with pytest.raises(InvalidArgumentError, match="num_threads: must be a positive integer"):
            Encoder(tiny_utu, num_threads=0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_cuda_matches_cpu(tiny_utu: Path) -> None:
    gpu = Encoder(tiny_utu, device="cuda", dtype="float32")
    cpu = Encoder(tiny_utu, device="cpu")
    assert gpu.info()["device"].startswith("cuda")
    np.testing.assert_allclose(gpu.encode(["hello", "world wide"]), cpu.encode(["hello", "world wide"]), atol=1e-4)
    assert Encoder(tiny_utu, device="cuda").info()["dtype"] in ("bfloat16", "float16")


@pytest.mark.skipif(not HAS_MPS, reason="needs Apple MPS")
def test_mps_matches_cpu(tiny_utu: Path) -> None:
    mps = Encoder(tiny_utu, device="mps", dtype="float32")
    np.testing.assert_allclose(mps.encode(["hello"]), Encoder(tiny_utu, device="cpu").encode(["hello"]), atol=1e-4)


def test_plan_batches_respects_budget_and_covers_everything() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=500).tolist()
    batches = plan_batches(lengths, batch_size=32, max_batch_tokens=2048)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(500))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 32 and (len(batch) == 1 or len(batch) * longest <= 2048)
    # longest first, so lengths are non-increasing across the plan
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)
    assert plan_batches([5000], 8, 100) == [[0]]
    # padding waste is small compared with unsorted fixed-size batches
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    naive = sum(32 * max(lengths[i : i + 32]) for i in range(0, 500, 32))
    assert padded < 0.7 * naive
