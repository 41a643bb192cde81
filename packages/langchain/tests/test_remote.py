"""Remote mode: ``YoutuEmbeddings(target=...)`` against a real ``youtu-embed serve`` equals in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.langchain import YoutuEmbeddings

serve_testing = pytest.importorskip("youtu_embedding.serve.testing", reason="remote mode needs youtu-embedding-serve")

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def server(tiny_utu: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # a small client batch limit: the adapter must split larger batches itself
    proc = serve_testing.ServerProcess(tiny_utu, tmp_path_factory.mktemp("logs"), "--max-client-batch-size", "4")
    try:
        proc.wait_serving()
        yield proc.target
    finally:
        assert proc.terminate() == 0, proc.log()[-2000:]


@pytest.fixture(scope="module")
def core(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", dtype="float32")


def test_remote_equals_in_process(server: str, core: Encoder, stsb_sentences: list[str]) -> None:
    docs = stsb_sentences[:10]
    local = YoutuEmbeddings(encoder=core)
    remote = YoutuEmbeddings(target=server)  # the one argument that switches to the served model
    np.testing.assert_allclose(remote.embed_documents(docs), local.embed_documents(docs), atol=TOLERANCE)
    np.testing.assert_allclose(remote.embed_query(docs[0]), local.embed_query(docs[0]), atol=TOLERANCE)
    assert remote.embed_documents([]) == []
    got = asyncio.run(remote.aembed_documents(docs[:3]))
    np.testing.assert_allclose(got, local.embed_documents(docs[:3]), atol=TOLERANCE)


@pytest.mark.parametrize("options", [{"task": "T2Retrieval"}, {"task": "STSB"}, {"instruction": "Find similar news"}])
def test_remote_tasks_and_instructions(server: str, core: Encoder, stsb_sentences: list[str], options: dict) -> None:
    texts = stsb_sentences[:5]
    local = YoutuEmbeddings(encoder=core, **options)
    remote = YoutuEmbeddings(target=server, **options)
    np.testing.assert_allclose(remote.embed_documents(texts), local.embed_documents(texts), atol=TOLERANCE)
    np.testing.assert_allclose(remote.embed_query(texts[0]), local.embed_query(texts[0]), atol=TOLERANCE)
