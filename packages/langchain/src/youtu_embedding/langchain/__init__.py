"""LangChain integration: :class:`YoutuEmbeddings`, a ``langchain_core.embeddings.Embeddings``."""

from youtu_embedding.langchain.embeddings import YoutuEmbeddings

__all__ = ["YoutuEmbeddings"]
