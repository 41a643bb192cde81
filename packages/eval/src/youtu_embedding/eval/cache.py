"""The embeddings cache of evaluations: the core's :mod:`youtu_embedding.core.embedding_cache`.

Reruns of an evaluation, or tasks sharing texts, skip the model entirely. Kept as this module's
names for the eval package's users.
"""

from youtu_embedding.core.embedding_cache import EmbeddingCache, model_fingerprint

__all__ = ["EmbeddingCache", "model_fingerprint"]
