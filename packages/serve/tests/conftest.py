"""Fixtures of the serve tests: servers in subprocesses on 127.0.0.1, real texts."""

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403, I001

from collections.abc import Iterator
from pathlib import Path

import pytest

from youtu_embedding.core.testing import read_jsonl
from youtu_embedding.serve.testing import ServerProcess


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def minilm_server(minilm_path: Path, server_logs: Path) -> Iterator[ServerProcess]:
    """all-MiniLM-L6-v2 served with default limits (metrics on)."""
    server = ServerProcess("all-MiniLM-L6-v2", server_logs, "--max-client-batch-size", "64")
    try:
        server.wait_serving()
        yield server
    finally:
        code = server.terminate()
        assert code == 0, server.log()[-2000:]


@pytest.fixture(scope="session")
def utu_server(tiny_utu: Path, server_logs: Path) -> Iterator[ServerProcess]:
    """The tiny `utu` checkpoint served with default limits."""
    server = ServerProcess(tiny_utu, server_logs, "--max-input-length", "128")
    try:
        server.wait_serving()
        yield server
    finally:
        code = server.terminate()
        assert code == 0, server.log()[-2000:]


@pytest.fixture(scope="session")
def mixed_texts(data_dir: Path) -> list[str]:
    """Real texts of mixed lengths: STS-B sentences, XQuAD questions and paragraphs, interleaved."""
    sts = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")
    corpus = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")
    queries = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "queries.jsonl")
    texts = [r["sentence1"] for r in sts[:256]] + [r["text"] for r in corpus[:128]] + [r["text"] for r in queries[:128]]
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: (i * 7919) % len(texts))]


HTTP_API_KEY = "http-test-key"


@pytest.fixture(scope="session")
def http_api_key() -> str:
    """The API key of ``keyed_server``."""
    return HTTP_API_KEY


@pytest.fixture(scope="session")
def keyed_server(minilm_path: Path, server_logs: Path) -> Iterator[ServerProcess]:
    """all-MiniLM-L6-v2 with an API key, for the HTTP tests (limits as ``minilm_server``)."""
    server = ServerProcess(
        "all-MiniLM-L6-v2",
        server_logs,
        "--max-client-batch-size",
        "64",
        "--served-model-name",
        "minilm",
        env={"YOUTU_SERVE_API_KEY": HTTP_API_KEY},
    )
    try:
        server.wait_serving()
        yield server
    finally:
        code = server.terminate()
        assert code == 0, server.log()[-2000:]
