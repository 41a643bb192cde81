"""Embedding service of youtu-embedding: gRPC (``youtu.embedding.v1`` plus TEI's ``tei.v1``) and HTTP
(OpenAI- and TEI-compatible REST) on one request path.

Run it with ``youtu-embed serve --model M --port P [--http-port H]``; call it with
:class:`EmbeddingClient` / :class:`AsyncEmbeddingClient` / :class:`RemoteEncoder`, ``youtu-embed
client ...``, or any OpenAI / TEI HTTP client. See docs/serve.md.

Public names are imported on first use (lazy module attributes), so that the CLI's plugin
module of this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding.serve.client import AsyncEmbeddingClient, EmbeddingClient, TlsConfig
    from youtu_embedding.serve.config import ServeSettings, load_settings
    from youtu_embedding.serve.remote import RemoteEncoder

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "AsyncEmbeddingClient": "youtu_embedding.serve.client",
        "EmbeddingClient": "youtu_embedding.serve.client",
        "RemoteEncoder": "youtu_embedding.serve.remote",
        "ServeSettings": "youtu_embedding.serve.config",
        "TlsConfig": "youtu_embedding.serve.client",
        "load_settings": "youtu_embedding.serve.config",
    },
)

__all__ = [
    "AsyncEmbeddingClient",
    "EmbeddingClient",
    "RemoteEncoder",
    "ServeSettings",
    "TlsConfig",
    "load_settings",
]
