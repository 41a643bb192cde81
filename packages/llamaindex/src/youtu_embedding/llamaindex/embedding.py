"""``YoutuEmbedding``: LlamaIndex ``BaseEmbedding`` over :class:`youtu_embedding.core.Encoder`.

LlamaIndex embeds queries through ``_get_query_embedding`` and nodes through
``_get_text_embedding(s)``: queries get the model's ``query`` prompt (or ``instruction`` /
``task``), texts the ``document`` prompt (for symmetric tasks the task's instruction too).
Instruction tokens are attended to but excluded from pooling, as in the core.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr, SecretStr, model_validator

from youtu_embedding.core.spec import EncoderSpec

DEFAULT_MODEL = "Youtu-RAG/Youtu-Embedding-V1"


class YoutuEmbedding(BaseEmbedding, EncoderSpec):
    """LlamaIndex embedding model backed by the Youtu-Embedding core encoder.

    The constructor takes every :class:`~youtu_embedding.core.spec.EncoderSpec` field (``model``,
    ``device``, ``dtype``, ``attention``, ``pooling``, ``max_length``, ``batch_size``, ``runtime``,
    ``quantization``...) plus the prompt options below; ``model_name`` (LlamaIndex's name of the
    field) is accepted for ``model``.

    Example:
        .. code-block:: python

            from llama_index.core import Settings, VectorStoreIndex
            from youtu_embedding.llamaindex import YoutuEmbedding

            Settings.embed_model = YoutuEmbedding(model="Youtu-RAG/Youtu-Embedding-V1")
            index = VectorStoreIndex(nodes)
            index.as_retriever(similarity_top_k=3).retrieve("What's the weather like?")

    The model loads on first use; ``encoder`` shares an already loaded
    :class:`~youtu_embedding.core.Encoder`; ``target="host:50051"`` embeds on a ``youtu-embed
    serve`` server instead (same prompts, same vectors).
    """

    model: str = Field(default=DEFAULT_MODEL, description="Model directory, Hugging Face id or alias.")
    instruction: str | None = Field(default=None, description="Query-side instruction (rendered by `template`).")
    task: str | None = Field(default=None, description="A task of `template`'s table, e.g. T2Retrieval.")
    template: str = "youtu"
    target: str | None = Field(
        default=None,
        description="A `youtu-embed serve` gRPC target (host:port): embed there instead of loading the model.",
    )
    api_key: SecretStr | None = Field(default=None, description="The server's API key (remote mode).")

    _encoder: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, encoder: Any = None, **kwargs: Any) -> None:
        if encoder is not None:
            kwargs.setdefault("model", str(encoder.loaded.model_id))
        super().__init__(**kwargs)
        self._encoder = encoder

    @model_validator(mode="before")
    @classmethod
    def _model_and_model_name(cls, data: Any) -> Any:
        """``model_name`` (LlamaIndex's field) and ``model`` (the spec's) name the same model."""
        if isinstance(data, dict):
            if "model" not in data and "model_name" in data:
                data = {**data, "model": data["model_name"]}
            data = {**data, "model_name": data.get("model", DEFAULT_MODEL)}
        return data

    @classmethod
    def class_name(cls) -> str:
        return "YoutuEmbedding"

    @property
    def encoder(self) -> Any:
        """The core :class:`~youtu_embedding.core.Encoder` (loaded on first use)."""
        with self._lock:
            if self._encoder is None and self.target is not None:
                self._encoder = _remote_encoder(self.target, self.api_key)
            if self._encoder is None:
                self._encoder = self.build()
            return self._encoder

    def _query_kwargs(self) -> dict[str, Any]:
        if self.task is not None:  # the core (or the server) puts the instruction on the side(s) the task needs
            return {"task": self.task, "template": self.template}
        if self.instruction is not None:
            return {"instruction": self.instruction, "template": self.template}
        return {}

    def _text_kwargs(self) -> dict[str, Any]:
        if self.task is not None:
            return {"task": self.task, "template": self.template}
        return {}

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.encoder.encode_queries([query], **self._query_kwargs())[0].tolist()

    def get_query_embedding_batch(self, queries: list[str]) -> list[Embedding]:
        """Embed many queries in one batched call (LlamaIndex itself embeds queries one at a time).

        Pass the vectors to a retriever with ``QueryBundle(query_str, embedding=vector)``.
        """
        if not queries:
            return []
        return self.encoder.encode_queries(list(queries), **self._query_kwargs()).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return self.encoder.encode_documents(list(texts), **self._text_kwargs()).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


def _remote_encoder(target: str, api_key: SecretStr | None) -> Any:
    """A served model (``youtu_embedding.serve.RemoteEncoder``); serve is an optional dependency."""
    try:
        from youtu_embedding.serve import RemoteEncoder
    except ImportError as exc:
        raise ImportError(
            "target: remote mode needs youtu-embedding-serve: pip install 'youtu-embedding-llamaindex[serve]'"
        ) from exc
    return RemoteEncoder(target, api_key=api_key.get_secret_value() if api_key is not None else None)
