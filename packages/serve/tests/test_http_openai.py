"""The OpenAI-compatible HTTP API, driven by the official ``openai`` SDK on loopback."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from youtu_embedding.core import Encoder

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def minilm_encoder(minilm_path: Path) -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="module")
def client(keyed_server, http_api_key: str) -> openai.OpenAI:
    with openai.OpenAI(base_url=keyed_server.http_url + "/v1", api_key=http_api_key, max_retries=0) as c:
        yield c


def _matrix(response) -> np.ndarray:
    return np.asarray([d.embedding for d in sorted(response.data, key=lambda d: d.index)], dtype=np.float64)


def test_single_and_batch_float_and_base64_match_core(client, minilm_encoder: Encoder, mixed_texts: list[str]) -> None:
    texts = mixed_texts[:24]
    expected = minilm_encoder.encode(texts)
    batch = client.embeddings.create(model="minilm", input=texts, encoding_format="float")
    assert batch.object == "list" and batch.model == "minilm" and len(batch.data) == len(texts)
    assert [d.index for d in batch.data] == list(range(len(texts)))
    assert all(d.object == "embedding" for d in batch.data)
    assert np.abs(_matrix(batch) - expected).max() < TOLERANCE
    tokens = sum(len(r) for r in minilm_encoder.tokenize(texts))
    assert batch.usage.prompt_tokens == batch.usage.total_tokens == tokens
    # the SDK's default: base64 on the wire, decoded by the SDK into floats
    default = client.embeddings.create(model="minilm", input=texts)
    assert np.abs(_matrix(default) - expected).max() < TOLERANCE
    single = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts[3])
    assert len(single.data) == 1 and np.abs(_matrix(single)[0] - expected[3]).max() < TOLERANCE


def test_base64_is_little_endian_float32(keyed_server, http_api_key: str, minilm_encoder: Encoder) -> None:
    body = {"model": "minilm", "input": ["a cat", "a dog"], "encoding_format": "base64"}
    headers = {"Authorization": f"Bearer {http_api_key}"}
    response = httpx.post(keyed_server.http_url + "/v1/embeddings", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in response.json()["data"]]
    assert np.abs(np.stack(rows) - minilm_encoder.encode(["a cat", "a dog"])).max() < TOLERANCE


def test_dimensions_truncate_then_normalise(client, minilm_encoder: Encoder) -> None:
    texts = ["A man is playing a guitar.", "A woman is slicing an onion."]
    got = _matrix(client.embeddings.create(model="minilm", input=texts, dimensions=64))
    assert got.shape == (2, 64)
    assert np.abs(got - minilm_encoder.encode(texts, truncate_dim=64)).max() < TOLERANCE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_token_id_inputs_match_text(client, minilm_encoder: Encoder) -> None:
    texts = ["A man is playing a guitar.", "The weather is lovely today."]
    ids = [minilm_encoder.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    expected = minilm_encoder.encode(texts)
    got = _matrix(client.embeddings.create(model="minilm", input=ids, encoding_format="float"))
    assert np.abs(got - expected).max() < TOLERANCE
    one = _matrix(client.embeddings.create(model="minilm", input=ids[1], encoding_format="float"))
    assert np.abs(one[0] - expected[1]).max() < TOLERANCE


def test_over_limit_batch_is_413_and_names_the_limit(client) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.embeddings.create(model="minilm", input=["x"] * 65)
    assert info.value.status_code == 413
    error = info.value.body
    assert error["param"] == "input" and "max_client_batch_size=64" in error["message"]
    assert client.embeddings.create(model="minilm", input="still serving").data


def test_wrong_or_missing_key_is_401(keyed_server, client) -> None:
    with (
        openai.OpenAI(base_url=keyed_server.http_url + "/v1", api_key="wrong-key", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        bad.embeddings.create(model="minilm", input="x")
    assert info.value.status_code == 401
    assert info.value.body == {
        "message": "authorization: invalid API key",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    response = httpx.post(keyed_server.http_url + "/v1/embeddings", json={"input": "x"}, timeout=30)
    assert response.status_code == 401 and response.json()["error"]["message"].startswith("authorization: missing")
    # health stays open, as for gRPC
    assert httpx.get(keyed_server.http_url + "/health", timeout=30).status_code == 200
    assert client.embeddings.create(model="minilm", input="still serving").data


def test_unknown_model_is_404(client) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert info.value.body["code"] == "model_not_found" and info.value.body["param"] == "model"
    assert "minilm" in info.value.body["message"]


def test_models_lists_the_served_model(client) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["minilm"]
    assert client.models.retrieve("minilm").id == "minilm"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("other")


def test_query_instruction_from_a_plain_openai_client(utu_server, tiny_utu: Path) -> None:
    """input_type / prompt_name / instruction / task as extra body fields: the gRPC prefix logic."""
    encoder = Encoder(tiny_utu, device="cpu", max_length=128)
    texts = ["how do plants make food", "what is the capital of france"]
    with openai.OpenAI(base_url=utu_server.http_url + "/v1", api_key="unused", max_retries=0) as c:

        def embed(**extra) -> np.ndarray:
            response = c.embeddings.create(model=str(tiny_utu), input=texts, encoding_format="float", extra_body=extra)
            return _matrix(response)

        query = embed(input_type="query")
        assert np.abs(query - encoder.encode(texts, prompt_name="query")).max() < TOLERANCE
        assert np.abs(embed(prompt_name="query") - query).max() < TOLERANCE
        assert np.abs(embed(input_type="document") - encoder.encode(texts, prompt_name="document")).max() < TOLERANCE
        instructed = embed(instruction="Retrieve passages about biology")
        assert (
            np.abs(instructed - encoder.encode(texts, instruction="Retrieve passages about biology")).max() < TOLERANCE
        )
        assert np.abs(embed(task="T2Retrieval") - encoder.encode(texts, task="T2Retrieval")).max() < TOLERANCE
        plain = embed()
        assert np.abs(plain - encoder.encode(texts)).max() < TOLERANCE
        assert np.abs(plain - query).max() > 1e-3  # the instruction tokens change the vector
