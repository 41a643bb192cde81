"""One hostile client against ``youtu-embed serve`` (all-MiniLM-L6-v2, default settings, 127.0.0.1).

Group ``serve-robustness``, figures in ``extra_info`` (and printed):

* **stall**: a probe client sends one-text requests one after another (50 ms apart), first with
  the server idle (baseline), then while a hostile client sends requests of 256 inputs x 60 KB
  of real text with ``truncate=true`` back to back. Target: the probe's p99 under load < 1 s
  (before the tokenizer pool and the character pre-cut: 29.6 s).
* **rss**: 8 clients at once each send one 15 MB input (``truncate=true``) to a fresh server;
  the server's resident memory is sampled every 10 ms (psutil). Target: peak - before <= 500 MB
  (before: 1.5 -> 5.8 GB). Requests refused by ``max_tokenization_backlog`` are counted.

``pytest benchmarks/test_bench_serve_robustness.py -s`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import psutil
import pytest

from youtu_embedding.core.pytest_fixtures import shared_data_dir
from youtu_embedding.core.testing import read_jsonl

HOSTILE_INPUTS, HOSTILE_CHARS = 256, 60_000
RSS_CLIENTS, RSS_CHARS = 8, 15_000_000
PROBES = 60
OPTIONS = [("grpc.max_send_message_length", 64 * 1024 * 1024), ("grpc.max_receive_message_length", -1)]


def _server(tmp: Path) -> Iterator:
    from youtu_embedding.serve.testing import ServerProcess

    proc = ServerProcess("all-MiniLM-L6-v2", tmp)
    try:
        proc.wait_serving()
        yield proc
    finally:
        proc.terminate()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from _server(Path(tmp_path_factory.mktemp("serve-robust")))


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    """XQuAD paragraphs (real text, in ../shared/data)."""
    data = shared_data_dir(Path(__file__).resolve().parent)
    if not data.is_dir():
        pytest.skip(f"shared data not found at {data}")
    return [r["text"] for r in read_jsonl(data / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")]


def _long_text(paragraphs: list[str], chars: int, start: int) -> str:
    """Real text of ``chars`` characters: paragraphs joined from ``start`` on, cyclically."""
    parts, n, i = [], 0, start
    while n < chars:
        p = paragraphs[i % len(paragraphs)]
        parts.append(p)
        n += len(p) + 1
        i += 1
    return " ".join(parts)[:chars]


def _probe(target: str, texts: list[str], stop: threading.Event | None = None) -> list[float]:
    from youtu_embedding.serve._generated import embedding_pb2 as pb
    from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

    latencies = []
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.EmbeddingServiceStub(channel)
        for i in range(PROBES):
            start = time.perf_counter()
            stub.Embed(pb.EmbedRequest(inputs=[texts[i % len(texts)]], truncate=True), timeout=600)
            latencies.append(time.perf_counter() - start)
            time.sleep(0.05)
    return latencies


def _batch_seconds(metrics: str) -> float | None:
    """Mean forward time of one inference batch so far (a new request waits for about one)."""
    total = re.search(r"^youtu_serve_inference_duration_seconds_sum (\S+)", metrics, re.M)
    count = re.search(r"^youtu_serve_inference_duration_seconds_count (\S+)", metrics, re.M)
    return float(total.group(1)) / float(count.group(1)) if total and count and float(count.group(1)) else None


def _summary(latencies: list[float]) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


@pytest.mark.benchmark(group="serve-robustness")
def test_probe_latency_idle_baseline(benchmark, server, mixed_texts: list[str]) -> None:
    short = [t for t in mixed_texts if len(t) < 200]
    _probe(server.target, short[:5])  # warm
    latencies = benchmark.pedantic(lambda: _probe(server.target, short), rounds=1, iterations=1)
    benchmark.extra_info.update(_summary(latencies))
    print("\nSTALL idle", json.dumps(benchmark.extra_info))


@pytest.mark.benchmark(group="serve-robustness")
def test_probe_latency_while_a_client_sends_huge_truncated_requests(
    benchmark, server, mixed_texts: list[str], paragraphs: list[str]
) -> None:
    from youtu_embedding.serve._generated import embedding_pb2 as pb
    from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

    short = [t for t in mixed_texts if len(t) < 200]
    hostile = pb.EmbedRequest(
        inputs=[_long_text(paragraphs, HOSTILE_CHARS, i * 7) for i in range(HOSTILE_INPUTS)], truncate=True
    )
    stop = threading.Event()
    sent: list[float] = []
    errors: list[str] = []

    def attacker() -> None:
        with grpc.insecure_channel(server.target, options=OPTIONS) as channel:
            stub = pb_grpc.EmbeddingServiceStub(channel)
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    response = stub.Embed(hostile, timeout=300)
                    assert len(response.embeddings) == HOSTILE_INPUTS
                    sent.append(time.perf_counter() - start)
                except grpc.RpcError as exc:
                    errors.append(exc.code().name)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    time.sleep(1.0)  # the first huge request is in flight
    try:
        latencies = benchmark.pedantic(lambda: _probe(server.target, short), rounds=1, iterations=1)
    finally:
        stop.set()
        thread.join(300)
    benchmark.extra_info.update(
        {
            **_summary(latencies),
            "hostile_requests_done": len(sent),
            "hostile_request_s_mean": float(np.mean(sent)) if sent else None,
            "hostile_errors": errors,
            "hostile_request_chars": HOSTILE_INPUTS * HOSTILE_CHARS,
            "mean_batch_s": _batch_seconds(server.metrics()),
        }
    )
    print("\nSTALL under load", json.dumps(benchmark.extra_info))
    assert sent, errors  # the hostile client was served too


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from _server(Path(tmp_path_factory.mktemp("serve-rss")))


@pytest.mark.benchmark(group="serve-robustness")
def test_rss_of_8_clients_sending_15_mb_inputs(benchmark, fresh_server, paragraphs: list[str]) -> None:
    from youtu_embedding.serve._generated import embedding_pb2 as pb
    from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

    process = psutil.Process(fresh_server.pid)
    requests = [pb.EmbedRequest(inputs=[_long_text(paragraphs, RSS_CHARS, c * 31)], truncate=True) for c in range(8)]
    with grpc.insecure_channel(fresh_server.target) as channel:
        pb_grpc.EmbeddingServiceStub(channel).Embed(pb.EmbedRequest(inputs=["warm"]), timeout=60)
    time.sleep(1.0)
    before = process.memory_info().rss

    def burst() -> dict[str, int]:
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
                time.sleep(0.01)

        codes: list[str] = []

        def client(c: int) -> None:
            with grpc.insecure_channel(fresh_server.target, options=OPTIONS) as channel:
                try:
                    pb_grpc.EmbeddingServiceStub(channel).Embed(requests[c], timeout=600)
                    codes.append("OK")
                except grpc.RpcError as exc:
                    codes.append(exc.code().name)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        clients = [threading.Thread(target=client, args=(c,)) for c in range(RSS_CLIENTS)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        time.sleep(0.5)
        done.set()
        sampler.join()
        return {"peak": peak[0], **{code: codes.count(code) for code in sorted(set(codes))}}

    result = benchmark.pedantic(burst, rounds=1, iterations=1)
    after = process.memory_info().rss
    benchmark.extra_info.update(
        {
            "rss_before_mb": before / 2**20,
            "rss_peak_mb": result["peak"] / 2**20,
            "rss_after_mb": after / 2**20,
            "rss_peak_growth_mb": (result["peak"] - before) / 2**20,
            "outcomes": {k: v for k, v in result.items() if k != "peak"},
        }
    )
    print("\nRSS", json.dumps(benchmark.extra_info))
