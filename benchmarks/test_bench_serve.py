"""Served throughput of the gRPC service against in-process ``encode`` of the same texts.

Group ``serve-minilm``: the baseline embeds the 512 mixed texts in-process
(``Encoder.encode``); the served benchmark sends the same texts from 32 concurrent clients
(asyncio, 4 texts per request) to ``youtu-embed serve`` running all-MiniLM-L6-v2 in a subprocess
on 127.0.0.1. summarize.py reports served / in-process as the speed-up column (target >= 0.85);
``extra_info`` holds texts/s and tokens/s of both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from youtu_embedding.core import Encoder

CLIENTS = 32
TEXTS_PER_REQUEST = 4


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="module")
def token_count(minilm: Encoder, mixed_texts: list[str]) -> int:
    return sum(len(r) for r in minilm.tokenize(mixed_texts))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from youtu_embedding.serve.testing import ServerProcess

    proc = ServerProcess("all-MiniLM-L6-v2", Path(tmp_path_factory.mktemp("serve-bench")))
    try:
        proc.wait_serving()
        yield proc.target
    finally:
        proc.terminate()


class ServedRun:
    """32 clients on a persistent event loop; each round sends every text once."""

    def __init__(self, target: str, texts: list[str]) -> None:
        from youtu_embedding.serve._generated import embedding_pb2 as pb
        from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

        self.loop = asyncio.new_event_loop()
        shares = [texts[c::CLIENTS] for c in range(CLIENTS)]
        self.requests = [
            [
                pb.EmbedRequest(inputs=share[i : i + TEXTS_PER_REQUEST], truncate=True)
                for i in range(0, len(share), TEXTS_PER_REQUEST)
            ]
            for share in shares
        ]
        self.n_texts = len(texts)

        async def make() -> list:
            self.channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
            return [pb_grpc.EmbeddingServiceStub(self.channels[c % 4]) for c in range(CLIENTS)]

        self.stubs = self.loop.run_until_complete(make())

    def __call__(self) -> int:
        async def client(c: int) -> int:
            done = 0
            for request in self.requests[c]:
                response = await self.stubs[c].Embed(request, timeout=300)
                done += len(response.embeddings)
            return done

        async def run() -> int:
            return sum(await asyncio.gather(*(client(c) for c in range(CLIENTS))))

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        async def close() -> None:
            for channel in self.channels:
                await channel.close()

        self.loop.run_until_complete(close())
        self.loop.close()


def _rates(benchmark, n_texts: int, n_tokens: int) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({"texts_per_s": n_texts / mean, "tokens_per_s": n_tokens / mean})


@pytest.mark.benchmark(group="serve-minilm")
def test_serve_in_process_encode_baseline(benchmark, minilm: Encoder, mixed_texts: list[str], token_count: int) -> None:
    out = benchmark.pedantic(lambda: minilm.encode(mixed_texts), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (len(mixed_texts), 384)
    _rates(benchmark, len(mixed_texts), token_count)


@pytest.mark.benchmark(group="serve-minilm")
def test_serve_grpc_32_clients(benchmark, server: str, mixed_texts: list[str], token_count: int) -> None:
    run = ServedRun(server, mixed_texts)
    try:
        done = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    finally:
        run.close()
    assert done == len(mixed_texts)
    _rates(benchmark, len(mixed_texts), token_count)
