"""Bad input gets the documented status and a message naming the field; the server keeps serving."""

from __future__ import annotations

import re
import threading
import time

import grpc
import numpy as np
import pytest

from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

EMBED = "/youtu.embedding.v1.EmbeddingService/Embed"


@pytest.fixture(scope="module")
def stub(minilm_server):
    with grpc.insecure_channel(
        minilm_server.target, options=[("grpc.max_send_message_length", 128 * 1024 * 1024)]
    ) as channel:
        yield pb_grpc.EmbeddingServiceStub(channel), channel


def _fails(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def _still_serving(stub) -> None:
    response = stub.Embed(pb.EmbedRequest(inputs=["still here"]), timeout=30)
    assert len(response.embeddings) == 1 and len(response.embeddings[0].values) == 384


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"inputs": []}, "inputs"),
        ({"inputs": ["ok", ""]}, "inputs[1]"),
        ({"inputs": ["x"] * 65}, "inputs"),  # max_client_batch_size=64
        ({"inputs": ["fine", "word " * 300], "truncate": False}, "inputs[1]"),
        ({"inputs": ["x"], "prompt_name": "nope"}, "prompt_name"),
        ({"inputs": ["x"], "prompt_name": "a", "instruction": "b"}, "prompt_name/instruction"),
        ({"inputs": ["x"], "dimensions": 0}, "dimensions"),
        ({"inputs": ["x"], "dimensions": 385}, "dimensions"),
        ({"inputs": ["x"], "encoding": 99}, "encoding"),
        ({"inputs": ["x"], "encoding": pb.ENCODING_INT8_BYTES}, "int8_ranges"),
        ({"inputs": ["x"], "truncation_direction": 7}, "truncation_direction"),
    ],
)
def test_invalid_argument_names_the_field(stub, request_kwargs: dict, field: str) -> None:
    s, _ = stub
    code, details = _fails(lambda: s.Embed(pb.EmbedRequest(**request_kwargs), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(field + ":"), details
    _still_serving(s)


def test_limits_are_named(stub) -> None:
    s, _ = stub
    _, details = _fails(lambda: s.Embed(pb.EmbedRequest(inputs=["x"] * 65)))
    assert "max_client_batch_size=64" in details
    _, details = _fails(lambda: s.Embed(pb.EmbedRequest(inputs=["word " * 300])))
    assert "max_input_length=256" in details and re.search(r"has \d+ tokens", details)
    _, details = _fails(lambda: s.Embed(pb.EmbedRequest(inputs=["x"], dimensions=999)))
    assert "384" in details


def test_malformed_bytes(stub) -> None:
    s, channel = stub
    raw = channel.unary_unary(EMBED)  # no serializer: bytes go out as they are
    for payload in (b"\xff\xff\xff\xff", b"\x0a\x05\xff\xfe\xfd\xfc\xfb"):  # garbage; invalid UTF-8 in inputs
        code, details = _fails(lambda p=payload: raw(p, timeout=30))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.startswith("request: malformed bytes") and "youtu.embedding.v1.EmbedRequest" in details
    _still_serving(s)


def test_64_megabyte_message(stub) -> None:
    s, _ = stub
    request = pb.EmbedRequest(inputs=["a" * (1 << 20)] * 64)
    assert request.ByteSize() >= 64 * (1 << 20)
    code, details = _fails(lambda: s.Embed(request, timeout=60))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in details and str(16 * 1024 * 1024) in details
    _still_serving(s)


def _dropped(metrics: str, reason: str) -> float:
    match = re.search(rf'youtu_serve_dropped_jobs_total{{reason="{reason}"}} ([0-9.e+]+)', metrics)
    return float(match.group(1)) if match else 0.0


def test_deadline_expiring_in_the_queue_is_dropped(stub, minilm_server, mixed_texts: list[str]) -> None:
    s, _ = stub
    before = _dropped(minilm_server.metrics(), "deadline_exceeded")
    long_texts = [t for t in mixed_texts if len(t) > 600][:32]
    busy = [pb.EmbedRequest(inputs=long_texts * 2, truncate=True) for _ in range(3)]
    results: list = []
    workers = [threading.Thread(target=lambda r=r: results.append(s.Embed(r, timeout=120))) for r in busy]
    for w in workers:
        w.start()
    time.sleep(0.3)  # the inference thread is now busy with the long batches
    code, _ = _fails(lambda: s.Embed(pb.EmbedRequest(inputs=["too late"]), timeout=0.2))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    for w in workers:
        w.join(120)
    assert len(results) == 3
    deadline = time.monotonic() + 10
    while _dropped(minilm_server.metrics(), "deadline_exceeded") <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _dropped(minilm_server.metrics(), "deadline_exceeded") == before + 1
    _still_serving(s)


def test_other_rpcs_validate_too(stub) -> None:
    s, _ = stub
    code, details = _fails(lambda: s.Similarity(pb.SimilarityRequest(queries=["a"], documents=[])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("documents")
    code, details = _fails(lambda: s.Tokenize(pb.TokenizeRequest(inputs=["a"], prompt_name="nope")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("prompt_name")
    response = s.Embed(pb.EmbedRequest(inputs=["a b", "c d"], encoding=pb.ENCODING_INT8_BYTES))
    assert all(np.frombuffer(e.packed, dtype=np.int8).shape == (384,) for e in response.embeddings)
