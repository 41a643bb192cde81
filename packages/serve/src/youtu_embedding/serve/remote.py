""":class:`RemoteEncoder`: the query / document part of :class:`~youtu_embedding.core.Encoder`'s API
over a served model (gRPC), so that an application or an adapter (LangChain, LlamaIndex) switches
from an in-process model to a served one by one argument.

The server applies the same prefix logic as the core: queries get the model's ``query`` prompt
(or an instruction / a task's instruction), documents its ``document`` / ``passage`` prompt;
instruction tokens are excluded from pooling on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from youtu_embedding.serve.client import EmbeddingClient, TlsConfig


class RemoteEncoder:
    """Embeds through ``youtu-embed serve`` at ``target`` (``host:port``, ``dns:///...``, ``ipv4:///...``).

    ``truncate`` (default true, as ``Encoder.encode``) cuts over-long inputs; ``normalize`` None
    keeps the model's setting. Batches larger than the server's ``max_client_batch_size`` are sent
    as several messages of one stream.
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        tls: TlsConfig | None = None,
        timeout: float | None = 60.0,
        truncate: bool = True,
        normalize: bool | None = None,
        **client_options: Any,
    ) -> None:
        self.target = target
        self.client = EmbeddingClient(target, api_key=api_key, tls=tls, timeout=timeout, **client_options)
        self.truncate = truncate
        self.normalize = normalize
        self._info: dict[str, Any] | None = None

    @property
    def info(self) -> dict[str, Any]:
        """The server's ``Info`` (fetched once)."""
        if self._info is None:
            self._info = self.client.info()
        return self._info

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self.info.get("prompts", {}))

    @property
    def dimension(self) -> int:
        return int(self.info["dimension"])

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_name: str | None = None,
        instruction: str | None = None,
        template: str | None = None,
        task: str | None = None,
        query: bool = True,
    ) -> np.ndarray:
        """Float32 ``(n, dim)`` embeddings; ``task``: a task of ``template`` (``query``: which side)."""
        if task is not None:
            from youtu_embedding.core.templates import get_template

            tmpl = get_template(template or "youtu")
            entry = tmpl.task(task)
            # documents of an asymmetric task get the template's document prefix (empty for youtu)
            instruction = entry.instruction if query or entry.prompt_documents else None
            template = tmpl.name
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        options: dict[str, Any] = {
            "prompt_name": prompt_name,
            "instruction": instruction,
            "template": template if instruction is not None else None,
            "truncate": self.truncate,
            "normalize": self.normalize,
        }
        size = int(self.info.get("limits", {}).get("max_client_batch_size", 256))
        if len(texts) <= size:
            return self.client.embed(texts, **options)
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        return np.concatenate(list(self.client.embed_stream(chunks, **options)))

    def encode_queries(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Queries: the model's ``query`` prompt unless ``instruction`` / ``task`` / ``prompt_name`` is given."""
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "instruction", "task")):
            kwargs["prompt_name"] = "query" if "query" in self.prompts else None
        return self.encode(texts, query=True, **kwargs)

    def encode_documents(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Documents: the model's ``document`` (or ``passage``) prompt unless one is given."""
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "instruction", "task")):
            kwargs["prompt_name"] = next((n for n in ("document", "passage") if n in self.prompts), None)
        return self.encode(texts, query=False, **kwargs)

    def close(self) -> None:
        self.client.close()
