"""Long inputs over gRPC (LONG_INPUTS_CHUNK, chunking late and naive) equal the in-process core, and
bad chunking options are INVALID_ARGUMENT naming the field; real XQuAD articles, tiny `utu` served
with max_input_length 128 (so articles need many windows) and all-MiniLM-L6-v2."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import grpc
import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import read_jsonl
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def articles(data_dir: Path) -> list[str]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for row in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl"):
        grouped[row["title"]].append(row["text"])
    return ["\n\n".join(p) for p in list(grouped.values())[:6]]


@pytest.fixture(scope="module")
def utu(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", max_length=128)


@pytest.fixture(scope="module")
def stub(utu_server):
    with grpc.insecure_channel(utu_server.target) as channel:
        yield pb_grpc.EmbeddingServiceStub(channel)


def _values(embeddings) -> np.ndarray:
    return np.asarray([list(e.values) for e in embeddings], dtype=np.float32)


def test_long_inputs_chunk_matches_core(stub, utu: Encoder, articles: list[str]) -> None:
    texts = [articles[0][:3000], articles[1][:200]]
    reply = stub.Embed(
        pb.EmbedRequest(inputs=texts, prompt_name="query", long_inputs=pb.LONG_INPUTS_CHUNK, overlap=8), timeout=120
    )
    expected = utu.encode(texts, prompt_name="query", long_inputs="chunk", overlap=8)
    np.testing.assert_allclose(_values(reply.embeddings), expected, atol=TOLERANCE)
    whole = [len(r) for r in utu.tokenizer([utu.prompts["query"] + t for t in texts])["input_ids"]]
    assert whole[0] > 128 and reply.usage.prompt_tokens == sum(whole)  # usage counts whole inputs


@pytest.mark.parametrize(
    ("chunker", "options", "naive"), [("paragraphs", {}, False), ("sentences", {"per_chunk": "2"}, True)]
)
def test_chunking_matches_core(stub, utu: Encoder, articles, chunker: str, options: dict, naive: bool) -> None:
    texts = [articles[2][:2500], articles[3][:1200]]
    chunking = pb.Chunking(chunker=chunker, options=options, naive=naive)
    reply = stub.Embed(pb.EmbedRequest(inputs=texts, chunking=chunking), timeout=120)
    expected = utu.encode_chunks(
        texts, chunker=chunker, chunker_options={k: int(v) for k, v in options.items()}, late=not naive
    )
    assert len(reply.chunked) == len(texts) and not reply.embeddings
    for text, got, want in zip(texts, reply.chunked, expected, strict=True):
        assert [(c.start, c.end) for c in got.chunks] == want.spans
        assert [c.text for c in got.chunks] == want.texts == [text[c.start : c.end] for c in got.chunks]
        assert [c.tokens for c in got.chunks] == want.tokens
        np.testing.assert_allclose(_values(c.embedding for c in got.chunks), want.embeddings, atol=TOLERANCE)


def test_bad_long_requests_name_the_field(stub, articles) -> None:
    huge = " ".join(articles)  # thousands of tokens: over max_document_tokens = 16 x 128
    cases = [
        (pb.EmbedRequest(inputs=["a b"], chunking=pb.Chunking(chunker="nope")), "chunking.chunker"),
        (pb.EmbedRequest(inputs=["a b"], chunking=pb.Chunking()), "chunking.chunker"),
        (
            pb.EmbedRequest(inputs=["a b"], chunking=pb.Chunking(chunker="tokens", options={"size": "0"})),
            "chunking.options.size",
        ),
        (
            pb.EmbedRequest(inputs=["a b"], chunking=pb.Chunking(chunker="tokens", options={"width": "3"})),
            "chunking.options.width",
        ),
        (
            pb.EmbedRequest(
                inputs=["a b"], chunking=pb.Chunking(chunker="tokens"), long_inputs=pb.LONG_INPUTS_TRUNCATE
            ),
            "long_inputs",
        ),
        (pb.EmbedRequest(inputs=[articles[0]], long_inputs=pb.LONG_INPUTS_CHUNK, overlap=500), "overlap"),
        (pb.EmbedRequest(inputs=["ok", huge], long_inputs=pb.LONG_INPUTS_CHUNK), "inputs[1]"),
        (pb.EmbedRequest(inputs=[articles[0]], long_inputs=pb.LONG_INPUTS_ERROR, truncate=True), "inputs[0]"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.Embed(request, timeout=60)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert err.value.details().startswith(field + ":"), (field, err.value.details())
    assert "max_document_tokens=2048" in _details(stub, cases[6][0])
    info = stub.Info(pb.InfoRequest(), timeout=10)
    assert info.limits.max_document_tokens == 2048
    assert {"paragraphs", "sentences", "tokens"} <= set(stub.ListPlugins(pb.ListPluginsRequest(), timeout=10).chunkers)


def _details(stub, request) -> str:
    try:
        stub.Embed(request, timeout=60)
    except grpc.RpcError as exc:
        return str(exc.details())
    raise AssertionError("expected an error")


def test_http_openai_long_inputs_match_core(utu_server, utu: Encoder, articles: list[str]) -> None:
    import httpx
    import openai

    texts = [articles[4][:2500], "a short one"]
    with openai.OpenAI(base_url=utu_server.http_url + "/v1", api_key="unused", max_retries=0) as client:
        name = client.models.list().data[0].id
        got = client.embeddings.create(
            model=name, input=texts, encoding_format="float", extra_body={"long_inputs": "chunk", "overlap": 4}
        )
    vectors = np.asarray([d.embedding for d in got.data], dtype=np.float32)
    np.testing.assert_allclose(vectors, utu.encode_documents(texts, long_inputs="chunk", overlap=4), atol=TOLERANCE)
    for extra, field in (({"long_inputs": "split"}, "long_inputs"), ({"overlap": 3}, "overlap")):
        response = httpx.post(utu_server.http_url + "/v1/embeddings", json={"input": texts, **extra}, timeout=60)
        assert response.status_code in (400, 422) and response.json()["error"]["param"] == field, response.text
