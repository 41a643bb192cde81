"""The HTTP port's settings: on by default, 0 disables it, a port in use is a named error."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve.config import load_settings
from youtu_embedding.serve.server import EmbeddingServer
from youtu_embedding.serve.testing import free_port


def test_default_port_and_range() -> None:
    assert load_settings(model="m").http_port == 8080
    assert load_settings(model="m", http_port=0).http_port == 0
    with pytest.raises(InvalidArgumentError, match="http_port"):
        load_settings(model="m", http_port=70000)


def test_zero_disables_and_ports_open_before_the_model_loads() -> None:
    async def scenario() -> None:
        off = EmbeddingServer(load_settings(model="not-loaded", port=0, http_port=0))
        await off.start()
        assert off.http is None and off.http_port is None
        await off.stop(0)
        port = free_port()
        on = EmbeddingServer(load_settings(model="not-loaded", port=0, http_port=port))
        await on.start()  # the model is not loaded yet: health says so, embeddings are refused
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/health")
            assert health.status_code == 503 and health.json() == {"error": "unhealthy", "error_type": "Unhealthy"}
            refused = await client.post("/v1/embeddings", json={"input": "x"})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "service_unavailable"
        await on.stop(0)

    asyncio.run(scenario())


def test_port_in_use_is_a_named_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        async def scenario() -> None:
            server = EmbeddingServer(load_settings(model="not-loaded", port=0, http_port=port))
            try:
                with pytest.raises(InvalidArgumentError, match=f"http_port: cannot listen on 127.0.0.1:{port}"):
                    await server.start()
            finally:
                await server.stop(0)

        asyncio.run(scenario())
