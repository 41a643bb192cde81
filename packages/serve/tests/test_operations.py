"""Operations: metrics, structured logs, reflection, Info/ListPlugins, the client CLI."""

from __future__ import annotations

import json
import subprocess

import grpc
import numpy as np

from youtu_embedding.serve.client import AsyncEmbeddingClient, EmbeddingClient
from youtu_embedding.serve.testing import youtu_embed_command


def test_metrics_endpoint(minilm_server) -> None:
    with EmbeddingClient(minilm_server.target) as client:
        client.embed(["metrics please", "and another"], truncate=True)
    text = minilm_server.metrics()
    for name in (
        'youtu_serve_requests_total{api="youtu",method="Embed"}',
        "youtu_serve_queue_size",
        "youtu_serve_requests_in_flight",
        "youtu_serve_batch_size_bucket",
        "youtu_serve_batch_tokens_bucket",
        "youtu_serve_queue_duration_seconds_bucket",
        "youtu_serve_inference_duration_seconds_bucket",
        'youtu_serve_request_duration_seconds_bucket{api="youtu"',
        "youtu_serve_ready 1.0",
    ):
        assert name in text, name


def test_structured_logs(minilm_server) -> None:
    lines = [json.loads(line) for line in minilm_server.log().splitlines() if line.startswith("{")]
    events = {entry["event"] for entry in lines}
    assert {"listening", "model ready"} <= events
    listening = next(e for e in lines if e["event"] == "listening")
    assert listening["address"] == minilm_server.target and listening["level"] == "info" and "ts" in listening


def test_info_and_plugins(minilm_server) -> None:
    with EmbeddingClient(minilm_server.target) as client:
        info = client.info()
        plugins = client.list_plugins()
    assert info["model_id"] == "all-MiniLM-L6-v2" and info["dimension"] == 384
    assert info["max_input_length"] == 256 and info["dtype"] == "float32" and info["backend"] == "cpu"
    assert info["limits"]["max_client_batch_size"] == 64 and info["limits"]["max_concurrent_requests"] == 512
    assert "mean" in plugins["pooling_strategies"] and "youtu" in plugins["instruction_templates"]
    assert any(p["name"] == "serve" and p["distribution"] == "youtu-embedding-serve" for p in plugins["plugins"])


def test_async_client(minilm_server) -> None:
    import asyncio

    async def main() -> tuple[np.ndarray, list[np.ndarray], dict]:
        async with AsyncEmbeddingClient(minilm_server.target) as client:
            one = await client.embed(["async hello"])
            streamed = [m async for m in client.embed_stream([["a b"], ["c d", "e f"]])]
            return one, streamed, await client.info()

    one, streamed, info = asyncio.run(main())
    assert one.shape == (1, 384) and [s.shape[0] for s in streamed] == [1, 2] and info["dimension"] == 384


def test_client_cli(minilm_server, tmp_path) -> None:
    cmd = [*youtu_embed_command(), "client"]
    target = ["--target", minilm_server.target]
    out = subprocess.run([*cmd, "embed", "A cat.", "A dog.", *target], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 2 and len(rows[0]) == 384
    health = subprocess.run([*cmd, "health", *target], capture_output=True, text=True, timeout=60)
    assert health.returncode == 0 and health.stdout.strip() == "SERVING"
    sim = subprocess.run(
        [*cmd, "similarity", "-q", "a cat", "-d", "a kitten", "-d", "a car", *target],
        capture_output=True,
        text=True,
        timeout=60,
    )
    scores = json.loads(sim.stdout)["scores"]
    assert scores[0][0] > scores[0][1]
    bad = subprocess.run([*cmd, "embed", "x", "--dimensions", "0", *target], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: INVALID_ARGUMENT: dimensions")


def test_unknown_method_and_grpc_status(minilm_server) -> None:
    with grpc.insecure_channel(minilm_server.target) as channel:
        call = channel.unary_unary("/youtu.embedding.v1.EmbeddingService/Nope")
        try:
            call(b"", timeout=10)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNIMPLEMENTED
        else:  # pragma: no cover
            raise AssertionError("unknown method answered")
