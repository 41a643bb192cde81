"""A chunked bulk job on local Ray: one output row per chunk (document id, chunk index, span), equal
to ``Encoder.encode_chunks`` in process; a long-inputs job equals ``encode(long_inputs="chunk")``;
bad chunker options fail on the driver, naming the field."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from youtu_embedding.bulk import decode_embeddings, embed_to_parquet
from youtu_embedding.bulk.testing import write_jsonl
from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.testing import read_jsonl


@pytest.fixture(scope="module")
def documents(data_dir: Path) -> list[dict[str, str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for row in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl"):
        grouped[row["title"]].append(row["text"])
    return [{"id": title, "text": "\n\n".join(p)} for title, p in list(grouped.items())[:6]]


@pytest.mark.timeout(600)
def test_chunked_and_long_input_jobs(ray_local: None, tmp_path: Path, documents, minilm_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "docs.jsonl", documents)
    texts = [d["text"] for d in documents]
    encoder = Encoder("all-MiniLM-L6-v2", device="cpu")

    out = tmp_path / "chunks"
    embed_to_parquet(
        tmp_path / "in", out, "all-MiniLM-L6-v2", device="cpu", num_actors=1, rows_per_partition=4,
        chunker="sentences", chunker_options={"per_chunk": 3}, overlap=16, progress=False,
    )  # fmt: skip
    table = pq.read_table(out).sort_by([("id", "ascending"), ("chunk", "ascending")])
    assert table.column_names == ["id", "text", "chunk", "start", "end", "embedding"]
    expected = encoder.encode_chunks(texts, chunker="sentences", chunker_options={"per_chunk": 3}, overlap=16)
    rows = table.to_pylist()
    by_doc = {d["id"]: (d["text"], e) for d, e in zip(documents, expected, strict=True)}
    got = decode_embeddings(table.column("embedding"))
    assert len(rows) == sum(len(e) for e in expected)
    for row, vector in zip(rows, got, strict=True):
        text, chunks = by_doc[row["id"]]
        k = row["chunk"]
        assert (row["start"], row["end"]) == chunks.spans[k]
        assert text[row["start"] : row["end"]] == row["text"] == chunks.texts[k]
        np.testing.assert_allclose(vector, chunks.embeddings[k], atol=1e-5)

    out = tmp_path / "windows"
    embed_to_parquet(
        tmp_path / "in", out, "all-MiniLM-L6-v2", device="cpu", num_actors=1, long_inputs="chunk", progress=False
    )
    table = pq.read_table(out)
    order = [texts.index(t) for t in table.column("text").to_pylist()]
    np.testing.assert_allclose(
        decode_embeddings(table.column("embedding")), encoder.encode(texts, long_inputs="chunk")[order], atol=1e-5
    )


def test_bad_chunking_options_fail_before_ray(tmp_path: Path, documents) -> None:
    write_jsonl(tmp_path / "in" / "docs.jsonl", documents[:1])
    cases = [
        ({"chunker": "nope"}, "chunker"),
        ({"chunker": "tokens", "chunker_options": {"size": -1}}, "chunker_options.size"),
        ({"chunker": "tokens", "chunker_options": {"sizes": 3}}, "chunker_options.sizes"),
        ({"chunker": "tokens", "long_inputs": "chunk"}, "long_inputs"),
        ({"long_inputs": "split"}, "long_inputs"),
        ({"late": False}, "chunker"),
        ({"long_inputs": "chunk", "overlap": -2}, "overlap"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidArgumentError) as err:
            embed_to_parquet(tmp_path / "in", tmp_path / "out", "all-MiniLM-L6-v2", progress=False, **kwargs)
        assert err.value.argument == field, kwargs
    assert not (tmp_path / "out").exists()
