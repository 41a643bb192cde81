"""Overload and graceful shutdown over HTTP: the gRPC limits and SIGTERM draining apply to both front doors."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from youtu_embedding.serve.testing import ServerProcess


@pytest.fixture(scope="module")
def limited_http_server(minilm_path: Path, server_logs: Path) -> Iterator[ServerProcess]:
    """all-MiniLM-L6-v2 with max_concurrent_requests=8 (shared by gRPC and HTTP)."""
    server = ServerProcess("all-MiniLM-L6-v2", server_logs, "--max-concurrent-requests", "8", "--grace-period", "20")
    try:
        server.wait_serving()
        yield server
    finally:
        server.terminate()


async def _clients(
    url: str, texts: list[str], clients: int, requests: int, stop: asyncio.Event | None = None
) -> list[tuple[float, int, dict | None]]:
    """``clients`` concurrent OpenAI-route callers; (start time, status or -1 when refused, error body)."""
    outcomes: list[tuple[float, int, dict | None]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one(c: int) -> None:
            for i in range(requests):
                if stop is not None and stop.is_set():
                    return
                start = time.monotonic()
                body = {"input": texts[(c * 7 + i * 3) % len(texts) :][:4], "model": "all-MiniLM-L6-v2"}
                try:
                    response = await client.post("/v1/embeddings", json=body)
                except httpx.TransportError:  # the port closed while draining
                    outcomes.append((start, -1, None))
                    return
                error = response.json() if response.status_code != 200 else None
                outcomes.append((start, response.status_code, error))
                if response.status_code == 503:
                    return

        await asyncio.gather(*(one(c) for c in range(clients)))
    return outcomes


def test_above_the_limit_only_429(limited_http_server: ServerProcess, mixed_texts: list[str]) -> None:
    long_texts = sorted(mixed_texts, key=len)[-64:]
    outcomes = asyncio.run(_clients(limited_http_server.http_url, long_texts, 32, 3))
    statuses = [s for _, s, _ in outcomes]
    assert set(statuses) == {200, 429}, set(statuses)
    assert statuses.count(200) >= 8
    error = next(e for _, s, e in outcomes if s == 429)
    assert error == {
        "error": {
            "message": "max_concurrent_requests: 8 requests already in flight; retry later",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert 'api="openai",method="embeddings",reason="resource_exhausted"' in limited_http_server.metrics()


def test_sigterm_finishes_admitted_http_requests(limited_http_server: ServerProcess, mixed_texts: list[str]) -> None:
    server = limited_http_server
    long_texts = sorted(mixed_texts, key=len)[-200:]

    async def scenario() -> tuple[list[tuple[float, int, dict | None]], float, float]:
        stop = asyncio.Event()
        load = asyncio.ensure_future(_clients(server.http_url, long_texts, 8, 10_000, stop))
        await asyncio.sleep(2.0)
        signalled = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        exited = float("inf")
        for _ in range(600):  # bounded: 30 s
            if server.proc.poll() is not None:
                exited = time.monotonic()
                break
            await asyncio.sleep(0.05)
        stop.set()
        return await load, signalled, exited

    outcomes, signalled, exited = asyncio.run(scenario())
    before = [s for start, s, _ in outcomes if start < signalled - 0.05]
    assert len(before) > 8 and set(before) == {200}, set(before)
    after = {s for start, s, _ in outcomes if start >= signalled - 0.05}
    assert after <= {200, 503, -1}, after
    assert exited - signalled < 20
    assert server.proc.returncode == 0
