"""Embeddings served over gRPC equal in-process core embeddings (both APIs, unary and stream)."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import tei_pb2, tei_pb2_grpc
from youtu_embedding.serve.client import EmbeddingClient

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def minilm_encoder(minilm_path: Path) -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="module")
def utu_encoder(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", max_length=128)


@pytest.fixture(params=["minilm", "utu"])
def served(request: pytest.FixtureRequest) -> tuple:
    """(server, in-process encoder) for each model."""
    if request.param == "minilm":
        return request.getfixturevalue("minilm_server"), request.getfixturevalue("minilm_encoder")
    return request.getfixturevalue("utu_server"), request.getfixturevalue("utu_encoder")


def _texts(mixed_texts: list[str]) -> list[str]:
    return mixed_texts[:40]


def test_our_api_unary_matches_core(served: tuple, mixed_texts: list[str]) -> None:
    server, encoder = served
    texts = _texts(mixed_texts)
    with EmbeddingClient(server.target) as client:
        got = client.embed(texts, truncate=True)
        got_list = client.embed(texts[:5], truncate=True, encoding="float32_list")
        got_query = client.embed(texts[:8], truncate=True, prompt_name="query") if "query" in encoder.prompts else None
        got_dims = client.embed(texts[:8], truncate=True, dimensions=16, normalize=False)
    expected = encoder.encode(texts)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < TOLERANCE
    assert np.abs(got_list - expected[:5]).max() < TOLERANCE
    if got_query is not None:
        assert np.abs(got_query - encoder.encode(texts[:8], prompt_name="query")).max() < TOLERANCE
    ref_dims = encoder.encode(texts[:8], truncate_dim=16, normalize=False)
    assert np.abs(got_dims - ref_dims).max() < TOLERANCE


def test_our_api_stream_matches_core_in_order(served: tuple, mixed_texts: list[str]) -> None:
    server, encoder = served
    texts = _texts(mixed_texts)
    batches = [texts[i : i + 3] for i in range(0, len(texts), 3)]
    with EmbeddingClient(server.target) as client:
        got = list(client.embed_stream(batches, truncate=True))
    assert [g.shape[0] for g in got] == [len(b) for b in batches]
    assert np.abs(np.concatenate(got) - encoder.encode(texts)).max() < TOLERANCE


def test_tei_api_unary_and_stream_match_core(served: tuple, mixed_texts: list[str]) -> None:
    server, encoder = served
    texts = _texts(mixed_texts)[:12]
    expected = encoder.encode(texts, normalize=True)
    with grpc.insecure_channel(server.target) as channel:
        stub = tei_pb2_grpc.EmbedStub(channel)
        unary = np.array([list(stub.Embed(tei_pb2.EmbedRequest(inputs=t, truncate=True)).embeddings) for t in texts])
        stream = stub.EmbedStream(iter([tei_pb2.EmbedRequest(inputs=t, truncate=True) for t in texts]), timeout=60)
        streamed = np.array([list(r.embeddings) for r in stream])
    assert np.abs(unary - expected).max() < TOLERANCE
    assert np.abs(streamed - expected).max() < TOLERANCE


def test_packed_encodings_decode_to_the_same_vectors(minilm_server, minilm_encoder: Encoder, mixed_texts) -> None:
    texts = mixed_texts[:6]
    expected = minilm_encoder.encode(texts)
    with EmbeddingClient(minilm_server.target) as client:
        f16 = client.embed(texts, truncate=True, encoding="float16")
        binary = client.embed(texts, truncate=True, encoding="binary")
        response = client.embed_raw(texts, truncate=True)
    assert f16.dtype == np.float16 and np.abs(f16.astype(np.float32) - expected).max() < 1e-3
    assert binary.shape == (6, 384 // 8)
    assert np.array_equal(binary, minilm_encoder.encode(texts, precision="binary"))
    assert response.encoding == pb.ENCODING_FLOAT32_BYTES and len(response.embeddings[0].packed) == 384 * 4
    assert response.usage.prompt_tokens == sum(len(r) for r in minilm_encoder.tokenize(texts))
    assert response.timing.total_time_ns >= response.timing.inference_time_ns > 0
    assert response.model == "all-MiniLM-L6-v2"


def test_similarity_and_tokenize_match_core(utu_server, utu_encoder: Encoder) -> None:
    queries = ["How many points did the Panthers defense surrender?"]
    documents = ["The Panthers defense gave up just 308 points.", "The weather is lovely today."]
    with EmbeddingClient(utu_server.target) as client:
        scores = client.similarity(queries, documents)
        tokens = client.tokenize(["He drove to the stadium."], prompt_name="query")[0]
    expected = utu_encoder.similarity(utu_encoder.encode_queries(queries), utu_encoder.encode_documents(documents))
    assert np.abs(scores - expected).max() < TOLERANCE
    ids = utu_encoder.tokenize(["He drove to the stadium."], prompt=utu_encoder.prompts["query"])[0]
    assert [t["id"] for t in tokens] == ids
    # the instruction's tokens are attended to but not pooled; the text's are
    pooled = [t for t in tokens if t["pooled"]]
    assert 0 < len(pooled) < len(tokens)
    assert "".join(t["text"] for t in pooled).strip() == "He drove to the stadium."


def test_served_runtime_plugin(minilm_encoder: Encoder, server_logs: Path, mixed_texts: list[str]) -> None:
    """--runtime picks a plugin's runtime (here the compiled float32 graph): same vectors as the core's torch path."""
    pytest.importorskip("youtu_embedding_inductor")
    from youtu_embedding_inductor.runtime import unavailable_reason

    if unavailable_reason() is not None:
        pytest.skip(f"inductor runtime unavailable here: {unavailable_reason()}")
    from youtu_embedding.serve.testing import ServerProcess

    server = ServerProcess("all-MiniLM-L6-v2", server_logs, "--runtime", "inductor", "--runtime-option", "warmup=true")
    try:
        server.wait_serving(timeout=300)
        texts = _texts(mixed_texts)
        with EmbeddingClient(server.target) as client:
            got = client.embed(texts, truncate=True)
            single = client.embed(texts[:1], truncate=True)  # a batch of one reuses the compiled graph
        expected = minilm_encoder.encode(texts)
        assert np.abs(got - expected).max() < 1e-5
        assert np.abs(single - expected[:1]).max() < 1e-5
        assert '"runtime": "inductor"' in server.log()  # the "model ready" log line names it
    finally:
        assert server.terminate() == 0, server.log()[-2000:]
