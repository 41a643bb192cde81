"""``YoutuEmbeddings``: LangChain ``Embeddings`` over :class:`youtu_embedding.core.Encoder`.

Queries get the model's ``query`` prompt (Youtu-Embedding: the release's retrieval instruction),
documents the ``document`` prompt (empty for Youtu-Embedding); instruction tokens are attended to
but excluded from pooling, as in the core. ``instruction`` or ``task`` replace the query prompt
(``task``: a C-MTEB task name of the template; symmetric tasks prompt documents too).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from youtu_embedding.core.spec import EncoderSpec

#: Environment variable giving the default model.
MODEL_ENV = "YOUTU_EMBEDDING_MODEL"
DEFAULT_MODEL = "Youtu-RAG/Youtu-Embedding-V1"


def _default_model() -> str:
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


class YoutuEmbeddings(EncoderSpec, Embeddings):
    """LangChain embeddings backed by the Youtu-Embedding core encoder.

    The constructor takes every :class:`~youtu_embedding.core.spec.EncoderSpec` field (``model``,
    ``device``, ``dtype``, ``attention``, ``pooling``, ``max_length``, ``batch_size``, ``runtime``,
    ``quantization``...) plus the prompt options below.

    Example:
        .. code-block:: python

            from youtu_embedding.langchain import YoutuEmbeddings

            embeddings = YoutuEmbeddings(model="Youtu-RAG/Youtu-Embedding-V1")
            vector = embeddings.embed_query("What's the weather like?")

    The model loads on first use (constructing the object is cheap). ``encoder`` may be given
    instead of ``model`` to share an already loaded :class:`~youtu_embedding.core.Encoder`;
    ``target="host:50051"`` embeds on a ``youtu-embed serve`` server instead (same prompts, same
    vectors).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    model: str = Field(default_factory=_default_model)
    """Model directory, Hugging Face id or alias (default: $YOUTU_EMBEDDING_MODEL, else Youtu-Embedding)."""
    instruction: str | None = None
    """Query-side instruction, rendered by ``template`` (default: the model's query prompt)."""
    task: str | None = None
    """A task name of ``template``'s table (e.g. ``T2Retrieval``); symmetric tasks prompt documents too."""
    template: str = "youtu"
    encoder: Any = Field(default=None, exclude=True)
    """An already loaded :class:`~youtu_embedding.core.Encoder` (then ``model`` is informative only)."""
    target: str | None = None
    """A ``youtu-embed serve`` gRPC target (``host:port``): embed on that server instead of loading
    ``model`` (needs ``youtu-embedding-langchain[serve]``)."""
    api_key: SecretStr | None = None
    """The server's API key (remote mode)."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _get_encoder(self) -> Any:
        with self._lock:
            if self.encoder is None and self.target is not None:
                self.encoder = _remote_encoder(self.target, self.api_key, self.normalize)
            if self.encoder is None:
                self.encoder = self.build()
            return self.encoder

    def _query_kwargs(self) -> dict[str, Any]:
        if self.task is not None:  # the core (or the server) puts the instruction on the side(s) the task needs
            return {"task": self.task, "template": self.template}
        if self.instruction is not None:
            return {"instruction": self.instruction, "template": self.template}
        return {}

    def _document_kwargs(self) -> dict[str, Any]:
        if self.task is not None:
            return {"task": self.task, "template": self.template}
        return {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (the model's document prompt; empty texts are rejected)."""
        texts = list(texts)
        if not texts:
            return []
        encoder = self._get_encoder()
        return encoder.encode_documents(texts, **self._document_kwargs()).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (the model's query prompt, or ``instruction`` / ``task``)."""
        encoder = self._get_encoder()
        return encoder.encode_queries([text], **self._query_kwargs())[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (runs in the default executor; the event loop stays free)."""
        return await run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (runs in the default executor)."""
        return await run_in_executor(None, self.embed_query, text)


def _remote_encoder(target: str, api_key: SecretStr | None, normalize: bool | None) -> Any:
    """A served model (``youtu_embedding.serve.RemoteEncoder``); serve is an optional dependency."""
    try:
        from youtu_embedding.serve import RemoteEncoder
    except ImportError as exc:
        raise ImportError(
            "target: remote mode needs youtu-embedding-serve: pip install 'youtu-embedding-langchain[serve]'"
        ) from exc
    key = api_key.get_secret_value() if api_key is not None else None
    return RemoteEncoder(target, api_key=key, normalize=normalize)
