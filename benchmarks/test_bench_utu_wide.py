"""`utu` at the flagship's width (hidden 2048, 32 x 64 heads, intermediate 8192; 2 layers), bf16 on the CPU.

A random checkpoint built by the test helpers (real byte-level BPE tokenizer trained on the texts), two
workloads from ../shared/data: ``utu-wide`` = 128 mixed texts (STS-B sentences, XQuAD paragraphs and
questions, in their given order) and ``utu-wide-long`` = 8 long documents (XQuAD paragraphs joined to
>= 512 tokens). Each group's ``baseline`` is the release's recipe (input order, batches of 32 padded to
the longest, the model called directly); then the core eager (padded and packed/unpadded batches), the
inductor runtime's compiled bf16 graph and its int8 graph (per-channel weights, per-token activations,
bf16 elsewhere). ``extra_info``: tokens/s, model FLOP/s as a share of the same-dtype 2048^2 matmul peak
measured in the same run, cosine to the eager bf16 vectors. Compilation happens outside the timed rounds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import make_tiny_utu, read_jsonl

WIDE = dict(num_layers=2, hidden_size=2048, num_heads=32, head_dim=64, intermediate_size=8192, vocab_size=8000)
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: UTU_WIDE_QUICK=1: one timed round and no warm-up round (eager paths need none; compiled ones are warmed
#: at build), for a loaded machine
ROUNDS = (
    dict(rounds=1, iterations=1, warmup_rounds=0)
    if os.environ.get("UTU_WIDE_QUICK")
    else dict(rounds=2, iterations=1, warmup_rounds=1)
)


@pytest.fixture(scope="module")
def wide_texts(mixed_texts: list[str]) -> list[str]:
    return mixed_texts[:128]


@pytest.fixture(scope="module")
def wide_utu(tmp_path_factory: pytest.TempPathFactory, mixed_texts: list[str]) -> Path:
    return make_tiny_utu(tmp_path_factory.mktemp("utu-wide"), texts=mixed_texts, **WIDE)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def eager(wide_utu: Path) -> Encoder:
    return Encoder(wide_utu, device="cpu", dtype="bfloat16", max_length=1024, unpadded=False)


@pytest.fixture(scope="module")
def long_docs(eager: Encoder) -> list[str]:
    """8 documents of >= 512 tokens: consecutive XQuAD paragraphs joined until long enough."""
    paragraphs = [r["text"] for r in read_jsonl(DATA_DIR / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")]
    docs, current = [], ""
    for paragraph in paragraphs:
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(eager.tokenize(current)[0]) >= 512:
            docs.append(current)
            current = ""
        if len(docs) == 8:
            break
    return docs


@pytest.fixture(scope="module", params=["utu-wide", "utu-wide-long"])
def workload(request: pytest.FixtureRequest, wide_texts: list[str], long_docs: list[str]) -> tuple[str, list[str]]:
    return request.param, wide_texts if request.param == "utu-wide" else long_docs


@pytest.fixture(scope="module")
def peaks() -> dict[str, float]:
    """Measured 2048^2 matmul FLOP/s per dtype (best of 5), in this run."""

    def best(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 2 * 2048**3 / min(times)

    a, b = torch.randn(2048, 2048, dtype=torch.bfloat16), torch.randn(2048, 2048, dtype=torch.bfloat16)
    qa, qb = (
        torch.randint(-127, 127, (2048, 2048), dtype=torch.int8),
        torch.randint(-127, 127, (2048, 2048), dtype=torch.int8),
    )
    return {"bfloat16": best(lambda: a @ b), "int8": best(lambda: torch._int_mm(qa, qb))}


def model_flops(enc: Encoder, texts: list[str]) -> tuple[float, int]:
    """FLOPs of the network on the real (unpadded) tokens: the 7 GEMMs of each layer plus attention; tokens."""
    cfg = enc.model.config
    d, ffn, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    lengths = [len(ids) for ids in enc.tokenize(texts)]
    return float(sum(layers * (2 * t * (4 * d * d + 3 * d * ffn) + 4 * t * t * d) for t in lengths)), sum(lengths)


def record(benchmark, enc: Encoder, texts: list[str], peak: float, **extra: float) -> None:  # type: ignore[no-untyped-def]
    flops, tokens = model_flops(enc, texts)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        texts=len(texts),
        tokens=tokens,
        tokens_per_s=tokens / seconds,
        model_gflops=flops / seconds / 1e9,
        peak_gflops=peak / 1e9,
        share_of_peak=flops / seconds / peak,
        **extra,
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


@pytest.fixture(scope="module")
def reference(eager: Encoder, wide_texts: list[str], long_docs: list[str]) -> dict[str, np.ndarray]:
    return {"utu-wide": eager.encode_documents(wide_texts), "utu-wide-long": eager.encode_documents(long_docs)}


def test_utu_wide_release_recipe_baseline(benchmark, eager: Encoder, workload, peaks) -> None:  # type: ignore[no-untyped-def]
    """The release's recipe: input order, batches of 32 padded to the longest, mean pooling."""
    group, texts = workload
    benchmark.group = group
    tok, model = eager.tokenizer, eager.model

    @torch.inference_mode()
    def run() -> np.ndarray:
        outs = []
        for i in range(0, len(texts), 32):
            batch = tok(texts[i : i + 32], padding=True, truncation=True, max_length=1024, return_tensors="pt")
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1)
            outs.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(outs).numpy()

    benchmark.pedantic(run, **ROUNDS)
    record(benchmark, eager, texts, peaks["bfloat16"])


def test_utu_wide_eager_padded(benchmark, eager: Encoder, workload, peaks) -> None:  # type: ignore[no-untyped-def]
    group, texts = workload
    benchmark.group = group
    benchmark.pedantic(lambda: eager.encode_documents(texts), **ROUNDS)
    record(benchmark, eager, texts, peaks["bfloat16"])


def test_utu_wide_eager_unpadded(benchmark, wide_utu: Path, workload, peaks, reference) -> None:  # type: ignore[no-untyped-def]
    group, texts = workload
    benchmark.group = group
    enc = Encoder(wide_utu, device="cpu", dtype="bfloat16", max_length=1024, unpadded=True)
    out = benchmark.pedantic(lambda: enc.encode_documents(texts), **ROUNDS)
    record(benchmark, enc, texts, peaks["bfloat16"], min_cosine_to_padded=_cosine(out, reference[group]))


@pytest.fixture(scope="module")
def compiled(wide_utu: Path) -> Encoder:
    pytest.importorskip("youtu_embedding_inductor")
    return Encoder(wide_utu, device="cpu", dtype="bfloat16", max_length=1024, runtime="inductor")


@pytest.fixture(scope="module")
def int8(wide_utu: Path) -> Encoder:
    pytest.importorskip("youtu_embedding_inductor")
    return Encoder(
        wide_utu, device="cpu", max_length=1024, runtime="inductor", quantization="int8",
        runtime_options={"compute_dtype": "bfloat16"},
    )  # fmt: skip


def test_utu_wide_compiled(benchmark, compiled: Encoder, workload, peaks, reference) -> None:  # type: ignore[no-untyped-def]
    group, texts = workload
    benchmark.group = group
    out = benchmark.pedantic(lambda: compiled.encode_documents(texts), **ROUNDS)
    cosine = _cosine(out, reference[group])
    record(benchmark, compiled, texts, peaks["bfloat16"], min_cosine_to_eager=cosine,
           compile_seconds=compiled.info()["runtime_details"]["compile_seconds"])  # fmt: skip
    assert cosine >= 0.999


def test_utu_wide_int8(benchmark, int8: Encoder, workload, peaks, reference) -> None:  # type: ignore[no-untyped-def]
    from torchao.quantization import Int8Tensor

    group, texts = workload
    benchmark.group = group
    out = benchmark.pedantic(lambda: int8.encode_documents(texts), **ROUNDS)
    params = [p for p in int8.runner.compiled._orig_mod.parameters() if isinstance(p, Int8Tensor)]  # type: ignore[attr-defined]
    int8_bytes = sum(p.qdata.numel() + p.scale.numel() * p.scale.element_size() for p in params)
    cosine = _cosine(out, reference[group])
    weight_ratio = int8_bytes / sum(2 * p.numel() for p in params)
    record(benchmark, int8, texts, peaks["int8"], min_cosine_to_bf16=cosine, linear_weight_bytes_vs_bf16=weight_ratio)
    benchmark.extra_info["share_of_bf16_peak"] = benchmark.extra_info["model_gflops"] * 1e9 / peaks["bfloat16"]
    assert cosine >= 0.99
