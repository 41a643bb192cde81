"""The model actor of the Ray Data pipeline: reads, embeds and writes whole partitions.

Each actor of the pool loads one :class:`~youtu_embedding.core.Encoder` (on its GPU, or on the CPU
with ``num_threads`` torch threads) and is called by ``Dataset.map_batches`` with batches of
partition descriptors. For each partition it reads the rows, embeds them with the core's
token-budget batching (texts sorted by length, batches capped by ``max_batch_tokens`` padded
tokens) and writes the output file atomically with its completion marker. Bad input in a partition
is returned as an ``error`` value (not raised), so that the driver can report it on one line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from youtu_embedding.bulk.output import write_partition
from youtu_embedding.bulk.partitions import Partition, read_partition

#: Columns of the rows that the actors return to the driver.
RESULT_COLUMNS = ("index", "rows", "skipped_empty", "seconds", "error")


class PartitionEmbedder:
    """Callable class for ``map_batches``: one encoder per actor, one output file per partition."""

    def __init__(
        self,
        *,
        output_dir: str,
        encoder_kwargs: dict[str, Any],
        encode_kwargs: dict[str, Any],
        text_column: str,
        id_column: str | None,
        skip_empty: bool,
        embedding_format: str,
        metadata: dict[str, str],
        chunk_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from transformers.utils import logging as transformers_logging

        from youtu_embedding.core import Encoder

        transformers_logging.disable_progress_bar()  # one "Loading weights" bar per actor is noise
        self.encoder = Encoder(**encoder_kwargs)
        self.output_dir = Path(output_dir)
        self.encode_kwargs = encode_kwargs
        self.text_column, self.id_column, self.skip_empty = text_column, id_column, skip_empty
        self.embedding_format, self.metadata = embedding_format, metadata
        self.chunk_kwargs = chunk_kwargs  # set: one output row per chunk (Encoder.encode_chunks)

    def embed_partition(self, partition: Partition) -> dict[str, Any]:
        """Read, embed and write one partition; returns its result row."""
        start = time.perf_counter()
        rows = read_partition(
            partition, text_column=self.text_column, id_column=self.id_column, skip_empty=self.skip_empty
        )
        ids, texts, chunks = rows.ids, rows.texts, None
        if self.chunk_kwargs is not None:
            ids, texts, embeddings, chunks = self._chunk_rows(rows.ids, rows.texts)
        else:
            embeddings = self.encoder.encode(rows.texts, show_progress=False, **self.encode_kwargs)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
            raise RuntimeError(f"encoder returned shape {embeddings.shape} for {len(texts)} texts")
        seconds = time.perf_counter() - start
        write_partition(
            self.output_dir,
            partition.name,
            ids,
            texts,
            embeddings,
            embedding_format=self.embedding_format,
            metadata=self.metadata,
            seconds=seconds,
            chunks=chunks,
        )
        return {
            "index": partition.index,
            "rows": len(rows.ids),
            "skipped_empty": rows.skipped_empty,
            "seconds": seconds,
            "error": "",
        }

    def _chunk_rows(self, ids: list[str], texts: list[str]) -> tuple[list[str], list[str], Any, dict[str, list[int]]]:
        """One row per chunk: document id, chunk text, embedding, and chunk index / span columns."""
        import numpy as np

        docs = self.encoder.encode_chunks(texts, show_progress=False, **self.encode_kwargs, **(self.chunk_kwargs or {}))
        out_ids = [doc_id for doc_id, doc in zip(ids, docs, strict=True) for _ in doc.spans]
        out_texts = [t for doc in docs for t in doc.texts]
        columns = {
            "chunk": [k for doc in docs for k in range(len(doc))],
            "start": [a for doc in docs for a, _ in doc.spans],
            "end": [b for doc in docs for _, b in doc.spans],
        }
        dim = self.encode_kwargs.get("truncate_dim") or self.encoder.dimension
        embeddings = np.concatenate([doc.embeddings for doc in docs]) if docs else np.empty((0, dim), np.float32)
        return out_ids, out_texts, embeddings, columns

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """Process a batch of partition descriptors (column ``partition``: JSON strings)."""
        from youtu_embedding.core.errors import YoutuEmbeddingError

        out: dict[str, list[Any]] = {column: [] for column in RESULT_COLUMNS}
        for text in batch["partition"]:
            partition = Partition.from_json(str(text))
            try:
                result = self.embed_partition(partition)
            except (YoutuEmbeddingError, ValueError, OSError) as exc:
                result = {
                    "index": partition.index,
                    "rows": 0,
                    "skipped_empty": 0,
                    "seconds": 0.0,
                    "error": " ".join(str(exc).split()) or type(exc).__name__,
                }
            for column in RESULT_COLUMNS:
                out[column].append(result[column])
        return out
