"""Every bad input of the gRPC list (test_bad_input.py) over HTTP: the right status and error body of
each API, a message naming the field or limit, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

LONG = "word " * 300  # over all-MiniLM-L6-v2's 256 tokens

# (gRPC EmbedRequest fields, OpenAI body, OpenAI status, TEI /embed body or None where TEI has no such field,
#  TEI status, the field the message starts with)
CASES = [
    ({"inputs": []}, {"input": []}, 400, {"inputs": []}, 400, "input"),
    ({"inputs": ["ok", ""]}, {"input": ["ok", ""]}, 400, {"inputs": ["ok", ""]}, 422, "input[1]"),
    ({"inputs": ["x"] * 65}, {"input": ["x"] * 65}, 413, {"inputs": ["x"] * 65}, 413, "input"),
    (
        {"inputs": ["fine", LONG], "truncate": False},
        {"input": ["fine", LONG], "truncate": False},
        400,
        {"inputs": ["fine", LONG], "truncate": False},
        422,
        "input[1]",
    ),
    (
        {"prompt_name": "nope"},
        {"input": ["x"], "prompt_name": "nope"},
        400,
        {"inputs": "x", "prompt_name": "nope"},
        422,
        "prompt_name",
    ),
    (
        {"prompt_name": "a", "instruction": "b"},
        {"input": ["x"], "prompt_name": "a", "instruction": "b"},
        400,
        None,
        0,
        "prompt_name/instruction",
    ),
    ({"dimensions": 0}, {"input": ["x"], "dimensions": 0}, 400, {"inputs": "x", "dimensions": 0}, 422, "dimensions"),
    (
        {"dimensions": 385},
        {"input": ["x"], "dimensions": 385},
        400,
        {"inputs": "x", "dimensions": 385},
        422,
        "dimensions",
    ),
    ({"encoding": 99}, {"input": ["x"], "encoding_format": "float16"}, 422, None, 0, "encoding_format"),
    (
        {"truncation_direction": 7},
        {"input": ["x"], "truncation_direction": "middle"},
        422,
        {"inputs": "x", "truncation_direction": "Middle"},
        422,
        "truncation_direction",
    ),
    ({"inputs": [["no"]]}, {"input": [["no"]]}, 422, {"inputs": [["no"]]}, 422, "input"),
    ({"inputs": [[1, 10**9]]}, {"input": [[1, 10**9]]}, 400, {"inputs": [[1, 10**9]]}, 422, "input[0][1]"),
]
# int8_ranges has no HTTP counterpart (the HTTP APIs send float32 only).


@pytest.fixture(scope="module")
def http(keyed_server, http_api_key: str):
    headers = {"Authorization": f"Bearer {http_api_key}"}
    with httpx.Client(base_url=keyed_server.http_url, headers=headers, timeout=60) as client:
        yield client


def _still_serving(http: httpx.Client) -> None:
    response = http.post("/v1/embeddings", json={"input": "still here", "model": "minilm"})
    assert response.status_code == 200 and len(response.json()["data"][0]["embedding"]) == 384
    assert http.post("/embed", json={"inputs": "still here"}).status_code == 200


def _openai_error(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"].startswith(field + ":"), error
    assert error["type"] == "invalid_request_error"
    assert error["param"] == field


def _tei_error(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_type"}
    tei_field = field.replace("input", "inputs", 1) if field.startswith("input") else field
    assert body["error"].startswith(tei_field + ":"), body
    assert body["error_type"] == {400: "Empty", 413: "Validation", 422: "Validation"}[status]


@pytest.mark.parametrize(("grpc_fields", "openai_body", "openai_status", "tei_body", "tei_status", "field"), CASES)
def test_bad_input_gets_the_status_and_names_the_field(
    http, grpc_fields, openai_body, openai_status, tei_body, tei_status, field
) -> None:
    _openai_error(http.post("/v1/embeddings", json={"model": "minilm", **openai_body}), openai_status, field)
    if tei_body is not None:
        _tei_error(http.post("/embed", json=tei_body), tei_status, field)
    _still_serving(http)


def test_limits_are_named(http) -> None:
    message = http.post("/v1/embeddings", json={"input": ["x"] * 65}).json()["error"]["message"]
    assert "max_client_batch_size=64" in message
    message = http.post("/v1/embeddings", json={"input": LONG, "truncate": False}).json()["error"]["message"]
    assert "max_input_length=256" in message
    assert "384" in http.post("/embed", json={"inputs": "x", "dimensions": 999}).json()["error"]


def test_malformed_bodies(http) -> None:
    for payload in (b"\xff\xff\xff\xff", b'{"input": "\xff\xfe"}', b'{"input": '):
        for path in ("/v1/embeddings", "/embed"):
            response = http.post(path, content=payload, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, response.text
            message = response.json()["error"]["message"] if path.startswith("/v1") else response.json()["error"]
            assert message.startswith("request: the body is not valid JSON"), message
    missing = http.post("/v1/embeddings", json={"model": "minilm"})
    assert missing.status_code == 422 and missing.json()["error"]["message"] == "input: is required"
    _still_serving(http)


def test_64_megabyte_body_is_413(http) -> None:
    body = b'{"input": ["' + b"a" * (64 << 20) + b'"]}'
    for path in ("/v1/embeddings", "/embed"):
        response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert "max_message_bytes=16777216" in response.text
    _still_serving(http)


def test_other_routes_validate_too(http) -> None:
    response = http.post("/tokenize", json={"inputs": "a", "prompt_name": "nope"})
    assert response.status_code == 422 and response.json()["error"].startswith("prompt_name:")
    response = http.post("/decode", json={"ids": [1, -5]})
    assert response.status_code == 422 and response.json()["error"].startswith("ids")
    response = http.post("/decode", json={"ids": [10**7]})
    assert response.status_code == 422 and response.json()["error"].startswith("ids[0]:")
    response = http.post("/embed_all", json={"inputs": []})
    assert response.status_code == 400 and response.json() == {
        "error": "inputs: is empty; send at least one input",
        "error_type": "Empty",
    }
    response = http.get("/embed")
    assert response.status_code == 405
    response = http.get("/v1/nothing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    _still_serving(http)
