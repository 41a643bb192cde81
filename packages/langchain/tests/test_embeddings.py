"""YoutuEmbeddings against the core: prompts per side, tasks, async, bad input."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import ValidationError

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.templates import get_template
from youtu_embedding.langchain import YoutuEmbeddings


@pytest.fixture(scope="module")
def core(tiny_utu) -> Encoder:
    return Encoder(tiny_utu, device="cpu", dtype="float32")


def test_query_and_document_prompts_match_core(core, stsb_sentences) -> None:
    emb = YoutuEmbeddings(encoder=core)
    docs = stsb_sentences[:8]
    np.testing.assert_allclose(emb.embed_documents(docs), core.encode_documents(docs), atol=1e-6)
    np.testing.assert_allclose(emb.embed_query(docs[0]), core.encode_queries([docs[0]])[0], atol=1e-6)
    assert not np.allclose(emb.embed_query(docs[0]), emb.embed_documents([docs[0]])[0], atol=1e-4)


def test_task_prompts_query_only_or_both_sides(core, stsb_sentences) -> None:
    youtu = get_template("youtu")
    texts = stsb_sentences[:4]
    retrieval = YoutuEmbeddings(encoder=core, task="T2Retrieval")
    np.testing.assert_allclose(
        retrieval.embed_query(texts[0]), core.encode([texts[0]], task="T2Retrieval")[0], atol=1e-6
    )
    np.testing.assert_allclose(retrieval.embed_documents(texts), core.encode(texts), atol=1e-6)
    sts = YoutuEmbeddings(encoder=core, task="STSB")
    expected = core.encode(texts, prompt=youtu.render(youtu.task("STSB").instruction))
    np.testing.assert_allclose(sts.embed_documents(texts), expected, atol=1e-6)


def test_async_variants_equal_sync(core, stsb_sentences) -> None:
    emb = YoutuEmbeddings(encoder=core)

    async def both() -> tuple[list[float], list[list[float]]]:
        return await asyncio.gather(emb.aembed_query("a cat"), emb.aembed_documents(stsb_sentences[:3]))

    q, d = asyncio.run(both())
    np.testing.assert_allclose(q, emb.embed_query("a cat"), atol=1e-6)
    np.testing.assert_allclose(d, emb.embed_documents(stsb_sentences[:3]), atol=1e-6)


def test_bad_input_is_named(core) -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        YoutuEmbeddings(model="all-MiniLM-L6-v2", batch_size=0)
    with pytest.raises(ValidationError, match="unknown_option"):
        YoutuEmbeddings(model="all-MiniLM-L6-v2", unknown_option=1)
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\]"):
        YoutuEmbeddings(encoder=core).embed_documents(["fine", "  "])
    assert YoutuEmbeddings(encoder=core).embed_documents([]) == []
