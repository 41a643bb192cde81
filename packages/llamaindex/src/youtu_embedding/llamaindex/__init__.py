"""LlamaIndex integration: :class:`YoutuEmbedding`, a ``llama_index.core`` ``BaseEmbedding``."""

from youtu_embedding.llamaindex.embedding import YoutuEmbedding

__all__ = ["YoutuEmbedding"]
