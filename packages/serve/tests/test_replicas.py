"""Several replicas behind client-side round-robin: traffic reaches every replica, and stopping one loses nothing.

Three real ``youtu-embed serve`` processes (the tiny ``utu`` checkpoint) on 127.0.0.1; one client
channel with the target ``ipv4:///127.0.0.1:A,127.0.0.1:B,127.0.0.1:C`` (gRPC ``round_robin`` +
client health checks + retries on UNAVAILABLE and on the CANCELLED a shutting-down server sends).
Every wait is bounded and the fixture stops (SIGTERM, then SIGKILL) every server whatever happens,
so a failure can never hang the suite.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from youtu_embedding.core import Encoder
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve.client import (
    HEALTH_SERVICE,
    EmbeddingClient,
    channel_options,
    replicas_target,
    resolve_load_balancing,
    service_config,
)
from youtu_embedding.serve.testing import ServerProcess, free_port

TOLERANCE = 1e-5
BATCH = 4
WORKERS = 4


def _embed_requests(server: ServerProcess) -> float:
    """``youtu_serve_requests_total`` of the Embed method, from the replica's Prometheus endpoint."""
    match = re.search(r'youtu_serve_requests_total\{api="youtu",method="Embed"\} ([0-9.e+]+)', server.metrics())
    return float(match.group(1)) if match else 0.0


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def replicas(tiny_utu: Path, server_logs: Path) -> Iterator[list[ServerProcess]]:
    """Three replicas of the tiny utu model, started together; always stopped (SIGTERM, then SIGKILL)."""
    servers = [
        ServerProcess(tiny_utu, server_logs, "--max-input-length", "128", "--grace-period", "10") for _ in range(3)
    ]
    try:
        for server in servers:
            server.wait_serving(timeout=180)
        yield servers
    finally:
        for server in servers:
            server.terminate(timeout=30)


@pytest.fixture(scope="module")
def reference(tiny_utu: Path, mixed_texts: list[str]) -> np.ndarray:
    """In-process embeddings of every text (what each served row must equal)."""
    return Encoder(tiny_utu, device="cpu", max_length=128).encode(mixed_texts)


def _chunk(i: int, n: int) -> slice:
    start = (i * BATCH) % (n - BATCH)
    return slice(start, start + BATCH)


def test_round_robin_spreads_load_and_survives_stopped_replicas(
    replicas: list[ServerProcess], mixed_texts: list[str], reference: np.ndarray
) -> None:
    """A drains on SIGTERM (graceful), then B crashes (SIGKILL: its in-flight calls fail with
    UNAVAILABLE and are retried on C); every call still gets its correct embedding."""
    a, b, c = replicas
    n = len(mixed_texts)
    target = replicas_target([s.target for s in replicas])
    assert target == f"ipv4:///{a.target},{b.target},{c.target}"
    with EmbeddingClient(target, retries=5, timeout=60) as client:
        assert client.load_balancing == "round_robin" and client.health_check

        # 1. sequential calls rotate over the replicas (their own metrics show it)
        for i in range(30):
            got = client.embed(mixed_texts[_chunk(i, n)], truncate=True)
            assert np.abs(got - reference[_chunk(i, n)]).max() < TOLERANCE
        counts = [_embed_requests(s) for s in replicas]
        assert sum(counts) == 30 and min(counts) >= 5, counts

        # 2. concurrent callers while A is stopped, then B is killed
        stop = threading.Event()
        lock = threading.Lock()
        done: list[tuple[int, float]] = []  # (request index, start time)
        errors: list[str] = []
        counter = iter(range(10**9))

        def worker() -> None:
            while not stop.is_set():
                with lock:
                    i = next(counter)
                start = time.monotonic()
                try:
                    got = client.embed(mixed_texts[_chunk(i, n)], truncate=True)
                except Exception as exc:  # every failure is a lost request, reported below
                    with lock:
                        errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                    continue
                diff = float(np.abs(got - reference[_chunk(i, n)]).max())
                with lock:
                    if diff >= TOLERANCE:
                        errors.append(f"request {i}: wrong embedding (max abs diff {diff:.2e})")
                    done.append((i, start))

        def served_by(*servers: ServerProcess) -> float:
            return sum(_embed_requests(s) for s in servers)

        pool = ThreadPoolExecutor(WORKERS)
        futures = [pool.submit(worker) for _ in range(WORKERS)]
        try:
            _wait(lambda: len(done) >= 30 or errors, 120, "30 calls before the first stop")
            a.proc.send_signal(signal.SIGTERM)  # graceful: drains, then exits 0
            _wait(lambda: a.proc.poll() is not None, 60, "replica A to exit")
            a_exited = time.monotonic()
            bc_at_exit = served_by(b, c)
            _wait(lambda: served_by(b, c) >= bc_at_exit + 20 or errors, 120, "20 calls served by B and C")
            assert _embed_requests(b) > 0 and _embed_requests(c) > 0
            b.proc.kill()  # crash: calls in flight on B fail with UNAVAILABLE and are retried
            b.proc.wait(30)
            b_killed = time.monotonic()
            c_at_kill = _embed_requests(c)
            _wait(lambda: _embed_requests(c) >= c_at_kill + 20 or errors, 120, "20 calls served by C alone")
        finally:
            stop.set()
            for future in futures:
                future.result(timeout=120)
            pool.shutdown()

    assert not errors, errors[:5]
    assert a.proc.returncode == 0, a.log()[-2000:]
    assert '"event": "stopped"' in a.log()
    assert b.proc.returncode == -signal.SIGKILL
    # nothing lost: every request index handed out got exactly one correct answer
    indices = sorted(i for i, _ in done)
    assert indices == list(range(len(indices))), "some requests never completed"
    assert sum(1 for _, t in done if a_exited <= t < b_killed) >= 10
    assert sum(1 for _, t in done if t >= b_killed) >= 10


def test_load_balancing_and_targets_are_validated() -> None:
    assert resolve_load_balancing("127.0.0.1:50051") == "pick_first"
    assert resolve_load_balancing("dns:///youtu-embed-headless.default.svc:50051") == "round_robin"
    assert resolve_load_balancing("127.0.0.1:50051", "round_robin") == "round_robin"
    with pytest.raises(ValueError, match="load_balancing: unknown 'least_request'"):
        resolve_load_balancing("127.0.0.1:1", "least_request")
    assert replicas_target(["[::1]:5", "[::1]:6"]) == "ipv6:///[::1]:5,[::1]:6"
    with pytest.raises(ValueError, match=r"addresses\[1\]: 'replica-b:50051' is not 'ip:port'"):
        replicas_target(["127.0.0.1:50051", "replica-b:50051"])
    with pytest.raises(ValueError, match=r"addresses\[0\]"):
        replicas_target(["127.0.0.1:99999"])
    with pytest.raises(ValueError, match="mixes IPv4 and IPv6"):
        replicas_target(["127.0.0.1:1", "[::1]:2"])
    config = service_config(9, load_balancing="round_robin", health_check=True)
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": "youtu.embedding.v1.EmbeddingService"}
    assert config["methodConfig"][0]["retryPolicy"]["maxAttempts"] == 5  # gRPC's cap
    assert config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE", "CANCELLED"]
    only = service_config(3, retry_codes=["UNAVAILABLE"])["methodConfig"][0]["retryPolicy"]
    assert only["retryableStatusCodes"] == ["UNAVAILABLE"] and only["maxAttempts"] == 3
    with pytest.raises(ValueError, match=r"retry_codes: unknown \['UNAVAILBLE'\]"):
        service_config(3, retry_codes=["UNAVAILBLE"])
    assert "retryPolicy" not in service_config(1)["methodConfig"][0]
    assert dict(channel_options(1))["grpc.enable_retries"] == 0
    with pytest.raises(ValueError, match="retries: must be >= 1"):
        service_config(0)


def _info_server(name: str) -> tuple[grpc.Server, health.HealthServicer, str]:
    """A minimal gRPC server on 127.0.0.1: ``EmbeddingService/Info`` answering its name, and the
    standard ``grpc.health.v1`` servicer (what ``youtu-embed serve`` reports health with)."""

    def info(request: pb.InfoRequest, context: grpc.ServicerContext) -> pb.InfoResponse:
        return pb.InfoResponse(model_id=name)

    handler = grpc.method_handlers_generic_handler(
        HEALTH_SERVICE,
        {
            "Info": grpc.unary_unary_rpc_method_handler(
                info,
                request_deserializer=pb.InfoRequest.FromString,
                response_serializer=pb.InfoResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers((handler,))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    servicer.set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    return server, servicer, f"127.0.0.1:{port}"


@pytest.mark.parametrize("health_check", [True, False])
def test_client_health_checks_skip_a_not_serving_replica(health_check: bool) -> None:
    """With client health checks a replica whose health says NOT_SERVING (loading, draining) gets no
    calls; without them round-robin keeps sending it its share."""
    servers = [_info_server(name) for name in ("a", "b")]
    try:
        target = replicas_target([t for _, _, t in servers])
        with EmbeddingClient(target, health_check=health_check, timeout=10) as client:
            first = Counter(client.info()["model_id"] for _ in range(20))
            assert set(first) == {"a", "b"}, first
            servers[0][1].set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
            deadline = time.monotonic() + 10
            while health_check and time.monotonic() < deadline:  # the Watch stream delivers the change
                if all(client.info()["model_id"] == "b" for _ in range(4)):
                    break
            seen = Counter(client.info()["model_id"] for _ in range(20))
        if health_check:
            assert seen == {"b": 20}, seen
        else:  # round-robin over both: exact alternation once both connections are up
            assert seen == {"a": 10, "b": 10}, seen
    finally:
        for server, _, _ in servers:
            server.stop(0)
