"""TEI's HTTP API, every route driven by ``httpx`` on loopback; embeddings equal the core's."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from youtu_embedding.core import Encoder

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def minilm_encoder(minilm_path: Path) -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="module")
def http(keyed_server, http_api_key: str):
    headers = {"Authorization": f"Bearer {http_api_key}"}
    with httpx.Client(base_url=keyed_server.http_url, headers=headers, timeout=60) as client:
        yield client


def test_embed_single_batch_and_root(http, minilm_encoder: Encoder, mixed_texts: list[str]) -> None:
    texts = mixed_texts[:16]
    expected = minilm_encoder.encode(texts)
    batch = http.post("/embed", json={"inputs": texts, "truncate": True})
    assert batch.status_code == 200, batch.text
    assert np.abs(np.asarray(batch.json()) - expected).max() < TOLERANCE
    single = http.post("/embed", json={"inputs": texts[0], "truncate": True}).json()
    assert len(single) == 1 and np.abs(np.asarray(single[0]) - expected[0]).max() < TOLERANCE
    root = http.post("/", json={"inputs": texts[:2], "truncate": True}).json()  # POST / is embed
    assert np.abs(np.asarray(root) - expected[:2]).max() < TOLERANCE


def test_embed_options(http, minilm_encoder: Encoder) -> None:
    texts = ["A man is playing a guitar.", "A woman is slicing an onion."]
    raw = http.post("/embed", json={"inputs": texts, "normalize": False, "dimensions": 32}).json()
    expected = minilm_encoder.encode(texts, truncate_dim=32, normalize=False)
    assert np.abs(np.asarray(raw) - expected).max() < TOLERANCE
    long_text = "word " * 300 + "the end"
    left = http.post("/embed", json={"inputs": long_text, "truncate": True, "truncation_direction": "Left"}).json()
    ids = minilm_encoder.tokenizer(long_text, add_special_tokens=False)["input_ids"]
    by_ids = http.post("/embed", json={"inputs": ids[-254:]}).json()  # the kept end, framed by [CLS]/[SEP]
    assert np.abs(np.asarray(left) - np.asarray(by_ids)).max() < TOLERANCE
    mixed = http.post(
        "/embed", json={"inputs": [texts[0], minilm_encoder.tokenizer(texts[1], add_special_tokens=False)["input_ids"]]}
    )
    assert np.abs(np.asarray(mixed.json()) - minilm_encoder.encode(texts)).max() < TOLERANCE


def test_embed_all(http, minilm_encoder: Encoder) -> None:
    response = http.post("/embed_all", json={"inputs": ["a cat", "a big dog"]})
    assert response.status_code == 200, response.text
    tokens = response.json()
    lengths = [len(r) for r in minilm_encoder.tokenize(["a cat", "a big dog"])]
    assert [len(t) for t in tokens] == lengths and all(len(v) == 384 for t in tokens for v in t)
    hidden, _ = minilm_encoder.token_states(minilm_encoder.tokenize(["a cat"]))
    assert np.abs(np.asarray(tokens[0]) - hidden[0, : lengths[0]].float().numpy()).max() < TOLERANCE


def test_tokenize_and_decode(http, minilm_encoder: Encoder) -> None:
    tokens = http.post("/tokenize", json={"inputs": ["hello world", "a cat"]}).json()
    assert tokens[0] == [
        {"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None},
        {"id": 7592, "text": "hello", "special": False, "start": 0, "stop": 5},
        {"id": 2088, "text": "world", "special": False, "start": 6, "stop": 11},
        {"id": 102, "text": "[SEP]", "special": True, "start": None, "stop": None},
    ]
    plain = http.post("/tokenize", json={"inputs": "hello world", "add_special_tokens": False}).json()
    assert [t["id"] for t in plain[0]] == [7592, 2088]
    assert http.post("/decode", json={"ids": [101, 7592, 2088, 102]}).json() == ["hello world"]
    decoded = http.post("/decode", json={"ids": [[7592], [101, 2088, 102]], "skip_special_tokens": False}).json()
    assert decoded == ["hello", "[CLS] world [SEP]"]


def test_info_health_metrics(http, keyed_server) -> None:
    info = http.get("/info").json()
    assert info["model_id"] == "all-MiniLM-L6-v2" and info["served_model_name"] == "minilm"
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["max_client_batch_size"] == 64 and info["max_input_length"] == 256
    assert {"model_dtype", "max_concurrent_requests", "max_batch_tokens", "tokenization_workers", "version"} <= set(
        info
    )
    open_client = httpx.Client(base_url=keyed_server.http_url, timeout=30)  # no key: health and metrics are open
    with open_client:
        health = open_client.get("/health")
        assert health.status_code == 200 and health.content == b""
        assert open_client.get("/").status_code == 200
        metrics = open_client.get("/metrics")
        assert (
            metrics.status_code == 200 and 'youtu_serve_requests_total{api="tei_http",method="embed"}' in metrics.text
        )
        assert open_client.post("/embed", json={"inputs": "x"}).status_code == 401
        assert open_client.get("/info").status_code == 401
