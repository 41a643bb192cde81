"""Closed-loop load generator for served-throughput benchmarks, run in its own process.

It talks to one server, either ours over gRPC (``youtu.embedding.v1.EmbeddingService/Embed``) or an
OpenAI-compatible HTTP ``/embeddings`` endpoint (infinity), with ``--clients`` concurrent clients on
one asyncio event loop. Every request carries ONE text; clients pull the next text from a shared
queue as soon as their previous request is answered, so a round ends when every text has been
embedded once. Both protocols ask for packed little-endian float32 vectors (``ENCODING_FLOAT32_BYTES``
for gRPC, ``encoding_format="base64"`` for HTTP) and decode them with ``numpy.frombuffer``, so the
two clients do the same, small amount of work per request.

Control protocol (one JSON object per line): after connecting it prints ``{"ready": true, ...}`` on
stdout; then it reads commands on stdin and answers each with one line:

* ``{"cmd": "run"}`` -> ``{"texts", "wall_s", "latencies_s", "dimensions"}`` (one round over all texts;
  ``latencies_s`` in text order);
* ``{"cmd": "embed", "indices": [...]}`` -> ``{"embeddings": [[...], ...]}`` (those texts, one per request);
* ``{"cmd": "quit"}`` -> exits.

Usage: ``python loadgen.py --protocol grpc|openai --target HOST:PORT|URL --texts texts.json [--clients 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Client(Protocol):
    async def start(self) -> None: ...
    async def embed(self, text: str) -> np.ndarray: ...
    async def close(self) -> None: ...


class GrpcClient:
    """Our ``Embed`` RPC over grpc.aio, one text per request, float32 bytes back."""

    def __init__(self, target: str, channels: int, timeout: float) -> None:
        self.target, self.n_channels, self.timeout = target, channels, timeout
        self.next = 0

    async def start(self) -> None:
        import grpc

        from youtu_embedding.serve._generated import embedding_pb2 as pb
        from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

        self.pb = pb
        self.channels = [grpc.aio.insecure_channel(self.target) for _ in range(self.n_channels)]
        self.stubs = [pb_grpc.EmbeddingServiceStub(channel) for channel in self.channels]

    async def embed(self, text: str) -> np.ndarray:
        stub = self.stubs[self.next % len(self.stubs)]
        self.next += 1
        request = self.pb.EmbedRequest(inputs=[text], truncate=True, encoding=self.pb.ENCODING_FLOAT32_BYTES)
        response = await stub.Embed(request, timeout=self.timeout)
        return np.frombuffer(response.embeddings[0].packed, dtype="<f4")

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


class OpenAIClient:
    """OpenAI-compatible ``POST {url}/embeddings`` over aiohttp (httpx as a fallback), base64 float32 back."""

    def __init__(self, url: str, model: str, clients: int, timeout: float) -> None:
        self.url = url.rstrip("/") + "/embeddings"
        self.model, self.clients, self.timeout = model, clients, timeout
        self.reconnects = 0

    async def start(self) -> None:
        try:
            import aiohttp
        except ImportError:
            import httpx

            limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
            self.httpx = httpx.AsyncClient(limits=limits, timeout=self.timeout)
            self.session = None
        else:
            connector = aiohttp.TCPConnector(limit=self.clients)
            self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def embed(self, text: str) -> np.ndarray:
        payload = {"model": self.model, "input": [text], "encoding_format": "base64"}
        if self.session is not None:
            body = await self._post_aiohttp(payload)
        else:
            response = await self.httpx.post(self.url, json=payload)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
            body = response.json()
        return np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")

    async def _post_aiohttp(self, payload: dict[str, Any]) -> Any:
        import aiohttp

        for attempt in range(3):
            try:
                async with self.session.post(self.url, json=payload) as response:
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:500]}")
                    return await response.json(content_type=None)
            except aiohttp.ServerDisconnectedError:
                # a keep-alive race: the server closed an idle connection as the request went out on it
                # (uvicorn closes idle connections after 5 s, which a slow round on a loaded machine reaches)
                if attempt == 2:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        else:
            await self.httpx.aclose()


async def run_round(client: Client, texts: list[str], clients: int) -> dict[str, Any]:
    """Every text once, ``clients`` requests in flight; per-request latency in text order."""
    latencies = [0.0] * len(texts)
    dims: set[int] = set()
    todo = iter(range(len(texts)))

    async def worker() -> None:
        for i in todo:  # the iterator is shared: each worker takes the next text when it is free
            start = time.perf_counter()
            vector = await client.embed(texts[i])
            latencies[i] = time.perf_counter() - start
            dims.add(int(vector.shape[0]))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - start
    reconnects = getattr(client, "reconnects", 0)
    return {
        "texts": len(texts),
        "wall_s": wall,
        "latencies_s": latencies,
        "dimensions": sorted(dims),
        "reconnects": reconnects,
    }


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_commands(args: argparse.Namespace) -> None:
    texts = json.loads(Path(args.texts).read_text())
    client: Client
    if args.protocol == "grpc":
        client = GrpcClient(args.target, args.channels, args.timeout)
    else:
        client = OpenAIClient(args.target, args.model, args.clients, args.timeout)
    await client.start()
    try:
        probe = await client.embed(texts[0])
        _reply({"ready": True, "dimension": int(probe.shape[0]), "texts": len(texts)})
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            if command["cmd"] == "run":
                _reply(await run_round(client, texts, args.clients))
            elif command["cmd"] == "embed":
                vectors = [await client.embed(texts[i]) for i in command["indices"]]
                _reply({"embeddings": [v.astype(float).tolist() for v in vectors]})
            elif command["cmd"] == "quit":
                break
            else:
                _reply({"error": f"cmd: unknown command {command['cmd']!r}; allowed: run, embed, quit"})
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=["grpc", "openai"], required=True)
    parser.add_argument("--target", required=True, help="HOST:PORT (grpc) or base URL (openai)")
    parser.add_argument("--texts", required=True, help="JSON file with a list of texts")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--channels", type=int, default=4, help="gRPC channels shared by the clients")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="model name sent in OpenAI requests")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-request timeout in seconds")
    args = parser.parse_args()
    if args.clients < 1:
        parser.error(f"--clients: must be >= 1, got {args.clients}")
    asyncio.run(serve_commands(args))  # the standard loop for both protocols (grpc.aio needs no uvloop)


if __name__ == "__main__":
    main()
