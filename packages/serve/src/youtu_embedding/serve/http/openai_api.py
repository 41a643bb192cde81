"""OpenAI's embeddings API: ``POST /v1/embeddings`` (also ``/embeddings``), ``GET /v1/models``.

Request: ``input`` (a string, a list of strings, a list of token ids or a list of token-id lists),
``model``, ``encoding_format`` (``float`` or ``base64``: little-endian float32), ``dimensions``,
``user`` (ignored). Extra body fields reach the Youtu instruction handling: ``input_type``
(``query`` / ``document``: the model's query / document prompt), ``prompt_name``,
``instruction`` (+ ``template``), ``task`` (an instruction of the template's task table);
``truncate`` (default true), ``truncation_direction``, ``normalize``; ``long_inputs``
(``truncate`` / ``error`` / ``chunk``: an input over max_input_length embedded in windows combined
into one vector) and ``overlap`` (tokens shared by consecutive windows).
"""

from __future__ import annotations

import base64
import time
from typing import Literal

from pydantic import Field

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.templates import get_template
from youtu_embedding.serve.engine import LEFT, RIGHT
from youtu_embedding.serve.http.embedding import PrefixFields, embed_items
from youtu_embedding.serve.http.endpoint import Body, Endpoint
from youtu_embedding.serve.http.errors import EMPTY, NOT_FOUND, TOO_LARGE, HttpError, openai_error
from youtu_embedding.serve.youtu_service import EmbeddingService

API = "openai"
RENAMES = {"inputs": "input"}


class EmbeddingsBody(Body):
    """``POST /v1/embeddings``."""

    shapes = {"input": "a string, a list of strings, a list of token ids or a list of token-id lists"}

    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: Literal["float", "base64"] | None = "float"  # null: float
    dimensions: int | None = None
    user: str | None = None
    # extensions: Youtu instruction handling and the gRPC API's options
    input_type: Literal["query", "document"] | None = None
    prompt_name: str | None = None
    instruction: str | None = None
    template: str | None = None
    task: str | None = None
    truncate: bool = True
    truncation_direction: Literal["right", "left", "Right", "Left"] = "right"
    normalize: bool | None = None
    long_inputs: Literal["truncate", "error", "chunk"] | None = None
    overlap: int = Field(0, ge=0)


def prefix_fields(body: EmbeddingsBody, prompts: dict[str, str], template: str) -> PrefixFields:
    """The gRPC prefix fields for the request's ``input_type`` / ``prompt_name`` / ``instruction`` / ``task``.

    ``input_type`` picks the model's ``query`` prompt, or its ``document`` / ``passage`` prompt, when it
    has one (no prefix otherwise, as ``Similarity`` does); with ``task`` it picks the side of the task.
    """
    given = [k for k in ("prompt_name", "instruction", "task") if getattr(body, k) is not None]
    if len(given) > 1:
        raise InvalidArgumentError("/".join(given), "give at most one of prompt_name, instruction, task")
    if body.input_type is not None and body.prompt_name is not None:
        raise InvalidArgumentError("input_type/prompt_name", "give one of input_type, prompt_name")
    if body.input_type is not None and body.instruction is not None:
        raise InvalidArgumentError("input_type/instruction", "an instruction applies to queries; drop input_type")
    if body.task is not None:
        tmpl = get_template(body.template or template)
        task = tmpl.task(body.task)
        if body.input_type == "document" and not task.prompt_documents:
            return PrefixFields()  # documents of an asymmetric task get no instruction
        return PrefixFields(instruction=task.instruction, template=tmpl.name)
    if body.input_type == "query":
        return PrefixFields(prompt_name="query" if "query" in prompts else None)
    if body.input_type == "document":
        return PrefixFields(prompt_name=next((n for n in ("document", "passage") if n in prompts), None))
    return PrefixFields(prompt_name=body.prompt_name, instruction=body.instruction, template=body.template)


class OpenAIRoutes:
    """The OpenAI-compatible routes over the gRPC ``EmbeddingService`` code."""

    def __init__(self, service: EmbeddingService, served_names: list[str], max_client_batch_size: int) -> None:
        self.service = service
        self.names = served_names  # the first is the name /v1/models lists
        self.max_client_batch_size = max_client_batch_size
        self.created = int(time.time())

    def _check_model(self, model: str | None) -> str:
        if model is None:
            return self.names[0]
        if model not in self.names:
            raise HttpError(
                NOT_FOUND,
                f"model: '{model}' is not served here; this server serves '{self.names[0]}'",
                "model",
                "model_not_found",
            )
        return model

    async def embeddings(self, body: EmbeddingsBody) -> dict[str, object]:
        model = self._check_model(body.model)
        items = [body.input] if isinstance(body.input, str) else body.input
        if items and isinstance(items[0], int):
            items = [items]  # one list of token ids
        if not items:
            raise HttpError(EMPTY, "input: is empty; send at least one input", "input")
        if len(items) > self.max_client_batch_size:
            raise HttpError(
                TOO_LARGE,
                f"input: has {len(items)} inputs, more than max_client_batch_size={self.max_client_batch_size}",
                "input",
            )
        engine = self.service.pipeline.engine  # type: ignore[union-attr]
        encoder = engine.encoder
        result = await embed_items(
            self.service,
            items,  # type: ignore[arg-type]
            prefix=prefix_fields(body, encoder.prompts, encoder.template),
            truncate=body.truncate,
            direction=LEFT if body.truncation_direction.lower() == LEFT else RIGHT,
            dimensions=body.dimensions,
            normalize=body.normalize,
            field_name="input",
            long_inputs=body.long_inputs,
            overlap=body.overlap,
        )
        if body.encoding_format == "base64":
            vectors: list[object] = [base64.b64encode(row.astype("<f4").tobytes()).decode() for row in result.rows]
        else:
            vectors = list(result.rows)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "model": model,
            "usage": {"prompt_tokens": result.tokens, "total_tokens": result.tokens},
        }

    def _model(self) -> dict[str, object]:
        return {"id": self.names[0], "object": "model", "created": self.created, "owned_by": "youtu-embedding"}

    async def models(self) -> dict[str, object]:
        return {"object": "list", "data": [self._model()]}

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "embeddings": Endpoint(API, "embeddings", self.embeddings, openai_error, EmbeddingsBody, RENAMES),
            "models": Endpoint(API, "models", self.models, openai_error, ready=False, admit=False),
            "model": Endpoint(API, "model", self.model, openai_error, ready=False, admit=False, path_params=True),
        }

    async def model(self, model: str) -> dict[str, object]:
        self._check_model(model)
        return self._model()
