"""gRPC embedding service of youtu-embedding: ``youtu.embedding.v1`` plus TEI's ``tei.v1`` on one port.

Run it with ``youtu-embed serve --model M --port P``; call it with :class:`EmbeddingClient` /
:class:`AsyncEmbeddingClient` or ``youtu-embed client ...``. See docs/serve.md.
"""

from __future__ import annotations

from youtu_embedding.serve.client import AsyncEmbeddingClient, EmbeddingClient, TlsConfig
from youtu_embedding.serve.config import ServeSettings, load_settings

__all__ = ["AsyncEmbeddingClient", "EmbeddingClient", "ServeSettings", "TlsConfig", "load_settings"]
