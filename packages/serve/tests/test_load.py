"""Load, overload and graceful shutdown against real servers on 127.0.0.1.

The load test runs 64 concurrent clients x ``YOUTU_SERVE_LOAD_REQUESTS`` requests each (default 2,
to keep the suite short; the acceptance figure uses 200:
``YOUTU_SERVE_LOAD_REQUESTS=200 pytest packages/serve/tests/test_load.py -k below -s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc
from youtu_embedding.serve.client import EmbeddingClient
from youtu_embedding.serve.testing import ServerProcess

CLIENTS = 64
REQUESTS = int(os.environ.get("YOUTU_SERVE_LOAD_REQUESTS", "2"))


@dataclass
class Outcome:
    start: float
    end: float
    code: grpc.StatusCode


def _request(texts: list[str], client: int, i: int) -> pb.EmbedRequest:
    n = 1 + (client + i) % 4
    offset = ((client * 997 + i * 31) * 3) % (len(texts) - n)
    return pb.EmbedRequest(inputs=texts[offset : offset + n], truncate=True, encoding=pb.ENCODING_FLOAT32_BYTES)


async def _run_clients(
    target: str, texts: list[str], clients: int, requests: int, stop: asyncio.Event | None = None
) -> list[Outcome]:
    """``clients`` concurrent callers, each sending ``requests`` requests one after the other."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(8)]
    outcomes: list[Outcome] = []

    async def client(c: int) -> None:
        stub = pb_grpc.EmbeddingServiceStub(channels[c % len(channels)])
        for i in range(requests):
            if stop is not None and stop.is_set():
                return
            start = time.monotonic()
            try:
                request = _request(texts, c, i)
                response = await stub.Embed(request, timeout=120)
                assert len(response.embeddings) == len(request.inputs)
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
            outcomes.append(Outcome(start, time.monotonic(), code))
            if stop is not None and code == grpc.StatusCode.UNAVAILABLE:
                return

    try:
        await asyncio.gather(*(client(c) for c in range(clients)))
    finally:
        for channel in channels:
            await channel.close()
    return outcomes


def _failures(metrics: str, method: str, reason: str) -> float:
    pattern = rf'youtu_serve_request_failures_total{{api="youtu",method="{method}",reason="{reason}"}} ([0-9.e+]+)'
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


def _latencies(outcomes: list[Outcome]) -> dict[str, float]:
    ms = np.array([(o.end - o.start) * 1000 for o in outcomes if o.code == grpc.StatusCode.OK])
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": int(ms.size)}


def test_load_below_the_concurrency_limit(minilm_server, mixed_texts: list[str], record_property) -> None:
    process = psutil.Process(minilm_server.pid)
    asyncio.run(_run_clients(minilm_server.target, mixed_texts, CLIENTS, 2))  # warm-up round
    rss_warm = process.memory_info().rss
    start = time.monotonic()
    outcomes = asyncio.run(_run_clients(minilm_server.target, mixed_texts, CLIENTS, REQUESTS))
    elapsed = time.monotonic() - start
    rss_after = process.memory_info().rss
    codes = {o.code for o in outcomes}
    assert codes == {grpc.StatusCode.OK}, codes
    assert len(outcomes) == CLIENTS * REQUESTS
    report = {
        "clients": CLIENTS,
        "requests_per_client": REQUESTS,
        **_latencies(outcomes),
        "requests_per_s": len(outcomes) / elapsed,
        "rss_warm_mb": rss_warm / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "rss_growth": rss_after / rss_warm - 1,
    }
    print("\nLOAD", json.dumps(report))
    record_property("load", report)
    if os.environ.get("YOUTU_SERVE_LOAD_REPORT"):
        Path(os.environ["YOUTU_SERVE_LOAD_REPORT"]).write_text(json.dumps(report, indent=2))
    assert abs(rss_after / rss_warm - 1) <= 0.10, report
    metrics = minilm_server.metrics()
    workers = int(float(re.search(r"^youtu_serve_inference_workers (\S+)", metrics, re.M).group(1)))
    per_worker = re.findall(r'^youtu_serve_worker_batches_total\{worker="(\d+)"\} (\S+)', metrics, re.M)
    assert workers == min(2, len(os.sched_getaffinity(0)))  # the CPU default
    assert len(per_worker) == workers and all(float(n) > 0 for _, n in per_worker), per_worker  # all of them ran


@pytest.fixture(scope="module")
def limited_server(minilm_path: Path, server_logs: Path) -> Iterator[ServerProcess]:
    """all-MiniLM-L6-v2 with max_concurrent_requests=8 and a 20 s grace period (not waited for)."""
    server = ServerProcess("all-MiniLM-L6-v2", server_logs, "--max-concurrent-requests", "8", "--grace-period", "20")
    yield server
    server.terminate()


def test_not_serving_until_warm(limited_server: ServerProcess) -> None:
    seen: list[str] = []
    retried = 0.0
    deadline = time.monotonic() + 180
    with grpc.insecure_channel(limited_server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        stub = pb_grpc.EmbeddingServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service="tei.v1.Embed"), timeout=2).status
            except grpc.RpcError:
                time.sleep(0.05)
                continue
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            if not seen or seen[-1] != name:
                seen.append(name)
            if name == "NOT_SERVING" and len(seen) == 1 and not retried:
                with pytest.raises(grpc.RpcError) as info:
                    stub.Embed(pb.EmbedRequest(inputs=["early"]), timeout=5)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE and info.value.details().startswith("model")
                # the client library retries UNAVAILABLE: the server sees every attempt
                with EmbeddingClient(limited_server.target, retries=3) as client, pytest.raises(grpc.RpcError) as info:
                    client.info(timeout=10)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
                retried = _failures(limited_server.metrics(), "Info", "unavailable")
            if name == "SERVING":
                break
            time.sleep(0.05)
    assert seen == ["NOT_SERVING", "SERVING"]
    assert retried == 3  # one call, three attempts


def test_above_the_limit_only_resource_exhausted(limited_server: ServerProcess, mixed_texts: list[str]) -> None:
    limited_server.wait_serving()
    outcomes = asyncio.run(_run_clients(limited_server.target, mixed_texts, 32, 4))
    codes = [o.code for o in outcomes]
    assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, set(codes)
    assert codes.count(grpc.StatusCode.OK) >= 8
    metrics = limited_server.metrics()
    assert 'reason="resource_exhausted"' in metrics


def test_sigterm_during_load_finishes_admitted_requests(limited_server: ServerProcess, mixed_texts: list[str]) -> None:
    limited_server.wait_serving()
    long_texts = sorted(mixed_texts, key=len)[-200:]

    async def scenario() -> tuple[list[Outcome], float, float]:
        stop = asyncio.Event()
        load = asyncio.ensure_future(_run_clients(limited_server.target, long_texts, 8, 10_000, stop))
        await asyncio.sleep(2.0)
        signalled = time.monotonic()
        os.kill(limited_server.pid, signal.SIGTERM)
        exited = None
        for _ in range(600):  # bounded: 30 s
            if limited_server.proc.poll() is not None:
                exited = time.monotonic()
                break
            await asyncio.sleep(0.05)
        stop.set()
        outcomes = await load
        return outcomes, signalled, exited if exited is not None else float("inf")

    outcomes, signalled, exited = asyncio.run(scenario())
    before = [o for o in outcomes if o.start < signalled - 0.05]
    assert len(before) > 8
    assert {o.code for o in before} == {grpc.StatusCode.OK}, [o.code for o in before if o.code != grpc.StatusCode.OK]
    after = {o.code for o in outcomes if o.start >= signalled - 0.05}
    assert after <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, after
    assert exited - signalled < 20, exited - signalled
    assert limited_server.proc.returncode == 0
    assert '"event": "stopped"' in limited_server.log()
