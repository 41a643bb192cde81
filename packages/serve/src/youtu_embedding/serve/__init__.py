"""Embedding service of youtu-embedding: gRPC (``youtu.embedding.v1`` plus TEI's ``tei.v1``) and HTTP
(OpenAI- and TEI-compatible REST) on one request path.

Run it with ``youtu-embed serve --model M --port P [--http-port H]``; call it with
:class:`EmbeddingClient` / :class:`AsyncEmbeddingClient` / :class:`RemoteEncoder`, ``youtu-embed
client ...``, or any OpenAI / TEI HTTP client. See docs/serve.md.
"""

from __future__ import annotations

from youtu_embedding.serve.client import AsyncEmbeddingClient, EmbeddingClient, TlsConfig
from youtu_embedding.serve.config import ServeSettings, load_settings
from youtu_embedding.serve.remote import RemoteEncoder

__all__ = ["AsyncEmbeddingClient", "EmbeddingClient", "RemoteEncoder", "ServeSettings", "TlsConfig", "load_settings"]
