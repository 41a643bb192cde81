"""Bulk embedding of partitioned Parquet/JSONL corpora on Ray Data (resumable).

Use :func:`embed_to_parquet` from Python, or ``youtu-embed batch`` from the command line.

Public names are imported on first use (lazy module attributes), so that the CLI's plugin
module of this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding.bulk.output import decode_embeddings
    from youtu_embedding.bulk.partitions import Partition, plan_partitions
    from youtu_embedding.bulk.runner import ActorPlan, BulkJobError, BulkResult, embed_to_parquet

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "ActorPlan": "youtu_embedding.bulk.runner",
        "BulkJobError": "youtu_embedding.bulk.runner",
        "BulkResult": "youtu_embedding.bulk.runner",
        "Partition": "youtu_embedding.bulk.partitions",
        "decode_embeddings": "youtu_embedding.bulk.output",
        "embed_to_parquet": "youtu_embedding.bulk.runner",
        "plan_partitions": "youtu_embedding.bulk.partitions",
    },
)

__all__ = [
    "ActorPlan",
    "BulkJobError",
    "BulkResult",
    "Partition",
    "decode_embeddings",
    "embed_to_parquet",
    "plan_partitions",
]
