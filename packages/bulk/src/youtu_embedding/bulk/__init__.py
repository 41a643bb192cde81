"""Bulk embedding of partitioned Parquet/JSONL corpora on Ray Data (resumable).

Use :func:`embed_to_parquet` from Python, or ``youtu-embed batch`` from the command line.
"""

from youtu_embedding.bulk.output import decode_embeddings
from youtu_embedding.bulk.partitions import Partition, plan_partitions
from youtu_embedding.bulk.runner import ActorPlan, BulkJobError, BulkResult, embed_to_parquet

__all__ = [
    "ActorPlan",
    "BulkJobError",
    "BulkResult",
    "Partition",
    "decode_embeddings",
    "embed_to_parquet",
    "plan_partitions",
]
