"""sentence-transformers compatibility for Youtu-Embedding.

``from youtu_embedding.st import SentenceTransformer`` is a drop-in replacement for
``from sentence_transformers import SentenceTransformer``: the object *is* a
``sentence_transformers.SentenceTransformer``, loads `utu` checkpoints natively (no remote code),
resolves the core's aliases offline through the Hub cache, and pools exactly like the core.

Public names are imported on first use (lazy module attributes), so that the CLI's plugin
module of this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding.st.export import export_model
    from youtu_embedding.st.model import SentenceTransformer
    from youtu_embedding.st.modules import Pooling, Transformer
    from youtu_embedding.st.mteb_support import local_sts_task, mteb_prompts

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "Pooling": "youtu_embedding.st.modules",
        "SentenceTransformer": "youtu_embedding.st.model",
        "Transformer": "youtu_embedding.st.modules",
        "export_model": "youtu_embedding.st.export",
        "local_sts_task": "youtu_embedding.st.mteb_support",
        "mteb_prompts": "youtu_embedding.st.mteb_support",
    },
)

__all__ = [
    "Pooling",
    "SentenceTransformer",
    "Transformer",
    "export_model",
    "local_sts_task",
    "mteb_prompts",
]
