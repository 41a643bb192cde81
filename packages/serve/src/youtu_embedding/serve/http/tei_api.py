"""TEI's HTTP API as its OpenAPI document defines it: ``POST /embed`` (and ``POST /``),
``/embed_all``, ``/tokenize``, ``/decode``; ``GET /info``, ``/health``, ``/metrics``.

Bodies, responses, error bodies (``{"error", "error_type"}``) and statuses are TEI's (400 empty
batch, 413 batch over ``max_client_batch_size`` or body over ``max_message_bytes``, 422
validation, 424 inference failure, 429 overloaded, 503 unhealthy). The work runs through the same
code as the gRPC services: ``/embed`` through ``youtu.embedding.v1`` ``Embed`` (TEI semantics:
``normalize`` defaults to true, ``truncate`` to false), the other routes through ``tei.v1``.
``/health`` and ``/metrics`` need no API key, as in TEI. Token-id inputs are accepted by
``/embed``; ``/embed_all`` and ``/tokenize`` take text.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.responses import Response

from youtu_embedding.serve._generated import tei_pb2 as tpb
from youtu_embedding.serve.engine import LEFT, RIGHT
from youtu_embedding.serve.http.embedding import PrefixFields, embed_items
from youtu_embedding.serve.http.endpoint import CONTEXT, Body, Endpoint, json_response
from youtu_embedding.serve.http.errors import EMPTY, TOO_LARGE, HttpError, tei_error
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.rpc import Guard
from youtu_embedding.serve.tei_service import TeiServices
from youtu_embedding.serve.youtu_service import EmbeddingService

API = "tei_http"
Direction = Literal["Left", "Right", "left", "right"]
TokenId = Annotated[int, Field(ge=0)]


class EmbedBody(Body):
    shapes = {"inputs": "a string, a list of token ids, or a list of strings and token-id lists"}

    inputs: str | list[TokenId] | list[str | list[TokenId]]
    normalize: bool = True
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: str | None = None
    dimensions: int | None = None


class EmbedAllBody(Body):
    shapes = {"inputs": "a string or a list of strings (this route takes text, not token ids)"}

    inputs: str | list[str]
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: str | None = None


class TokenizeBody(Body):
    shapes = {"inputs": "a string or a list of strings"}

    inputs: str | list[str]
    add_special_tokens: bool = True
    prompt_name: str | None = None


class DecodeBody(Body):
    shapes = {"ids": "a list of token ids (integers >= 0) or a list of such lists"}

    ids: list[TokenId] | list[list[TokenId]]
    skip_special_tokens: bool = True


def _direction(value: str) -> int:
    return tpb.TRUNCATION_DIRECTION_LEFT if value.lower() == LEFT else tpb.TRUNCATION_DIRECTION_RIGHT


class TeiRoutes:
    """The TEI-compatible routes over the gRPC services' code."""

    def __init__(
        self,
        youtu: EmbeddingService,
        tei: TeiServices,
        guard: Guard,
        metrics: ServeMetrics,
        served_name: str,
        max_client_batch_size: int,
    ) -> None:
        self.youtu, self.tei, self.guard, self.metrics = youtu, tei, guard, metrics
        self.served_name = served_name
        self.max_client_batch_size = max_client_batch_size

    def _batch(self, items: list[Any], field_name: str) -> list[Any]:
        if not items:
            raise HttpError(EMPTY, f"{field_name}: is empty; send at least one input", field_name)
        if len(items) > self.max_client_batch_size:
            raise HttpError(
                TOO_LARGE,
                f"{field_name}: has {len(items)} inputs, more than max_client_batch_size={self.max_client_batch_size}",
                field_name,
            )
        return items

    async def embed(self, body: EmbedBody) -> Any:
        inputs = body.inputs
        single = isinstance(inputs, str) or (bool(inputs) and isinstance(inputs[0], int))
        items = self._batch([inputs] if single else list(inputs), "inputs")  # type: ignore[list-item]
        result = await embed_items(
            self.youtu,
            items,
            prefix=PrefixFields(prompt_name=body.prompt_name),
            truncate=bool(body.truncate),
            direction=LEFT if body.truncation_direction.lower() == LEFT else RIGHT,
            dimensions=body.dimensions,
            normalize=body.normalize,
            field_name="inputs",
        )
        return result.rows

    async def embed_all(self, body: EmbedAllBody) -> Any:
        texts = self._batch([body.inputs] if isinstance(body.inputs, str) else body.inputs, "inputs")
        requests = [
            tpb.EmbedAllRequest(
                inputs=text,
                truncate=bool(body.truncate),
                truncation_direction=_direction(body.truncation_direction),  # type: ignore[arg-type]
                prompt_name=body.prompt_name,
            )
            for text in texts
        ]
        responses = await asyncio.gather(*(self.tei._embed_all(r, CONTEXT) for r in requests))  # type: ignore[arg-type]
        return [[list(token.embeddings) for token in r.token_embeddings] for r in responses]

    async def tokenize(self, body: TokenizeBody) -> Any:
        texts = self._batch([body.inputs] if isinstance(body.inputs, str) else body.inputs, "inputs")
        requests = [
            tpb.EncodeRequest(inputs=text, add_special_tokens=body.add_special_tokens, prompt_name=body.prompt_name)
            for text in texts
        ]
        responses = await asyncio.gather(*(self.tei._tokenize(r, CONTEXT) for r in requests))  # type: ignore[arg-type]
        return [
            [
                {
                    "id": t.id,
                    "text": t.text,
                    "special": t.special,
                    "start": t.start if t.HasField("start") else None,
                    "stop": t.stop if t.HasField("stop") else None,
                }
                for t in r.tokens
            ]
            for r in responses
        ]

    async def decode(self, body: DecodeBody) -> Any:
        ids = body.ids
        rows = self._batch([ids] if ids and isinstance(ids[0], int) else list(ids), "ids")  # type: ignore[list-item]
        requests = [tpb.DecodeRequest(ids=row, skip_special_tokens=body.skip_special_tokens) for row in rows]
        responses = await asyncio.gather(*(self.tei._decode(r, CONTEXT) for r in requests))  # type: ignore[arg-type]
        return [r.text for r in responses]

    async def info(self) -> Any:
        info = await self.tei._info(tpb.InfoRequest(), CONTEXT)  # type: ignore[arg-type]
        engine = self.youtu.pipeline.engine  # type: ignore[union-attr]
        return {
            "model_id": info.model_id,
            "model_sha": None,
            "model_dtype": info.model_dtype,
            "served_model_name": self.served_name,
            "model_type": {"embedding": {"pooling": engine.info()["pooling"]}},
            "max_concurrent_requests": info.max_concurrent_requests,
            "max_input_length": info.max_input_length,
            "max_batch_tokens": info.max_batch_tokens,
            "max_batch_requests": info.max_batch_requests,
            "max_client_batch_size": info.max_client_batch_size,
            "auto_truncate": False,
            "tokenization_workers": info.tokenization_workers,
            "version": info.version,
            "sha": None,
            "docker_label": None,
        }

    async def health(self) -> Response:
        if self.guard.ready and not self.guard.shutting_down:
            return Response(status_code=200)
        return json_response({"error": "unhealthy", "error_type": "Unhealthy"}, status=503)

    async def prometheus(self) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "embed": Endpoint(API, "embed", self.embed, tei_error, EmbedBody),
            "embed_all": Endpoint(API, "embed_all", self.embed_all, tei_error, EmbedAllBody),
            "tokenize": Endpoint(API, "tokenize", self.tokenize, tei_error, TokenizeBody),
            "decode": Endpoint(API, "decode", self.decode, tei_error, DecodeBody),
            "info": Endpoint(API, "info", self.info, tei_error, admit=False),
            "health": Endpoint(API, "health", self.health, tei_error, auth=False, ready=False, admit=False),
            "metrics": Endpoint(API, "metrics", self.prometheus, tei_error, auth=False, ready=False, admit=False),
        }
