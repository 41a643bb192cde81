"""sentence-transformers compatibility for Youtu-Embedding.

``from youtu_embedding.st import SentenceTransformer`` is a drop-in replacement for
``from sentence_transformers import SentenceTransformer``: the object *is* a
``sentence_transformers.SentenceTransformer``, loads `utu` checkpoints natively (no remote code),
resolves the core's aliases offline through the Hub cache, and pools exactly like the core.
"""

from youtu_embedding.st.export import export_model
from youtu_embedding.st.model import SentenceTransformer
from youtu_embedding.st.modules import Pooling, Transformer
from youtu_embedding.st.mteb_support import local_sts_task, mteb_prompts

__all__ = ["Pooling", "SentenceTransformer", "Transformer", "export_model", "local_sts_task", "mteb_prompts"]
