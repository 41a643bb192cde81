"""Remote mode: ``YoutuEmbedding(target=...)`` against a real ``youtu-embed serve`` equals in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.llamaindex import YoutuEmbedding

serve_testing = pytest.importorskip("youtu_embedding.serve.testing", reason="remote mode needs youtu-embedding-serve")

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def server(tiny_utu: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc = serve_testing.ServerProcess(tiny_utu, tmp_path_factory.mktemp("logs"), "--max-client-batch-size", "4")
    try:
        proc.wait_serving()
        yield proc.target
    finally:
        assert proc.terminate() == 0, proc.log()[-2000:]


@pytest.fixture(scope="module")
def core(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", dtype="float32")


@pytest.mark.parametrize("options", [{}, {"task": "T2Retrieval"}, {"instruction": "Find similar news"}])
def test_remote_equals_in_process(server: str, core: Encoder, stsb_sentences: list[str], options: dict) -> None:
    texts = stsb_sentences[:9]
    local = YoutuEmbedding(encoder=core, **options)
    remote = YoutuEmbedding(target=server, **options)  # the one argument that switches to the served model
    np.testing.assert_allclose(
        remote.get_text_embedding_batch(texts), local.get_text_embedding_batch(texts), atol=TOLERANCE
    )
    np.testing.assert_allclose(
        remote.get_query_embedding(texts[0]), local.get_query_embedding(texts[0]), atol=TOLERANCE
    )
    np.testing.assert_allclose(
        remote.get_query_embedding_batch(texts[:5]), local.get_query_embedding_batch(texts[:5]), atol=TOLERANCE
    )
    got = asyncio.run(remote.aget_text_embedding(texts[1]))
    np.testing.assert_allclose(got, local.get_text_embedding(texts[1]), atol=TOLERANCE)
