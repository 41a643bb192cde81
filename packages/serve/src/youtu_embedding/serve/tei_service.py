"""The ``tei.v1`` services of text-embeddings-inference, with TEI's semantics (see docs/serve.md).

* ``normalize`` absent means true; ``truncate`` false rejects an over-long input (INVALID_ARGUMENT).
* ``prompt_name`` must be one of the model's prompts; ``dimensions`` 1..model dimension.
* Streams answer each message in order; closing a stream cancels outstanding work.
* Sparse embeddings, classification (Predict) and reranking are not served: UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve._generated import tei_pb2 as pb
from youtu_embedding.serve.config import ServeSettings
from youtu_embedding.serve.engine import LEFT, RIGHT
from youtu_embedding.serve.pipeline import Pipeline, Result
from youtu_embedding.serve.rpc import Guard, generic_handler, unimplemented
from youtu_embedding.serve.scheduler import TOKENS
from youtu_embedding.serve.youtu_service import package_version

SERVICES = ("tei.v1.Info", "tei.v1.Embed", "tei.v1.Tokenize")
API = "tei"
_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _metadata(result: Result) -> pb.Metadata:
    return pb.Metadata(
        compute_chars=result.tokenized.chars,
        compute_tokens=result.tokenized.tokens,
        total_time_ns=result.total_ns,
        tokenization_time_ns=result.tokenized.tokenization_ns,
        queue_time_ns=result.queue_ns,
        inference_time_ns=result.inference_ns,
    )


def _chars(request: Any) -> int:
    """Backlog cost of a stream message: characters of its input (token ids for Decode)."""
    return len(request.ids) if isinstance(request, pb.DecodeRequest) else len(request.inputs)


class TeiServices:
    """``tei.v1.Info``, ``tei.v1.Embed``, ``tei.v1.Tokenize`` (+ UNIMPLEMENTED ``Predict``/``Rerank``)."""

    def __init__(self, settings: ServeSettings, guard: Guard) -> None:
        self.settings = settings
        self.guard = guard
        self.pipeline: Pipeline | None = None

    @property
    def _p(self) -> Pipeline:
        assert self.pipeline is not None
        return self.pipeline

    def _input(self, request: Any) -> tuple[list[str], str, str]:
        engine = self._p.engine
        texts = [request.inputs]
        engine.check_inputs(texts, "inputs")
        prefix = engine.resolve_prefix(prompt_name=_opt(request, "prompt_name"))
        if request.truncation_direction not in (pb.TRUNCATION_DIRECTION_RIGHT, pb.TRUNCATION_DIRECTION_LEFT):
            raise InvalidArgumentError("truncation_direction", f"unknown value {request.truncation_direction}")
        direction = LEFT if request.truncation_direction == pb.TRUNCATION_DIRECTION_LEFT else RIGHT
        return texts, prefix, direction

    # -- Embed ----------------------------------------------------------------------------------------
    async def _embed(self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext) -> pb.EmbedResponse:
        engine = self._p.engine
        texts, prefix, direction = self._input(request)
        dimensions = engine.check_dimensions(_opt(request, "dimensions"))
        normalize = True if not request.HasField("normalize") else request.normalize
        result = await self._p.run(texts, prefix, context, truncate=request.truncate, direction=direction)
        emb = engine.finish(result.rows, dimensions=dimensions, normalize=normalize)
        return pb.EmbedResponse(embeddings=emb[0], metadata=_metadata(result))

    async def _embed_all(self, request: pb.EmbedAllRequest, context: grpc.aio.ServicerContext) -> pb.EmbedAllResponse:
        texts, prefix, direction = self._input(request)
        result = await self._p.run(texts, prefix, context, truncate=request.truncate, direction=direction, kind=TOKENS)
        tokens = result.rows[0]
        return pb.EmbedAllResponse(
            token_embeddings=[pb.TokenEmbedding(embeddings=row) for row in tokens], metadata=_metadata(result)
        )

    def _streamed(
        self, fn: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
    ) -> Callable[[AsyncIterator[Any], grpc.aio.ServicerContext], AsyncIterator[Any]]:
        async def stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async for response in self.guard.ordered(
                requests,
                lambda r: fn(r, context),
                self.settings.max_stream_pending,
                backlog=self._p.backlog,
                chars=_chars,
            ):
                yield response

        return stream

    # -- Tokenize / Decode ----------------------------------------------------------------------------
    async def _tokenize(self, request: pb.EncodeRequest, context: grpc.aio.ServicerContext) -> pb.EncodeResponse:
        engine = self._p.engine
        engine.check_inputs([request.inputs], "inputs")
        prefix = engine.resolve_prefix(prompt_name=_opt(request, "prompt_name"))
        result = await self._p.in_tokenizer(
            lambda worker: worker.tokens(
                request.inputs, prefix, add_special_tokens=request.add_special_tokens, truncate=False
            ),
            chars=len(prefix) + len(request.inputs),
        )
        return pb.EncodeResponse(
            tokens=[
                pb.SimpleToken(id=t.id, text=t.text, special=t.special, start=t.start, stop=t.stop)
                for t in result.tokens
            ]
        )

    async def _decode(self, request: pb.DecodeRequest, context: grpc.aio.ServicerContext) -> pb.DecodeResponse:
        ids = list(request.ids)
        limit = self._p.engine.max_input_length
        if len(ids) > limit:
            raise InvalidArgumentError("ids", f"has {len(ids)} token ids, more than max_input_length={limit}")
        text = await self._p.in_tokenizer(
            lambda worker: worker.decode(ids, skip_special_tokens=request.skip_special_tokens), chars=len(ids)
        )
        return pb.DecodeResponse(text=text)

    # -- Info -------------------------------------------------------------------------------------------
    async def _info(self, request: pb.InfoRequest, context: grpc.aio.ServicerContext) -> pb.InfoResponse:
        engine = self._p.engine
        info = engine.info()
        s = self.settings
        return pb.InfoResponse(
            version=package_version(),
            model_id=info["model_id"],
            model_dtype=_DTYPES.get(info["dtype"], info["dtype"]),
            model_type=pb.MODEL_TYPE_EMBEDDING,
            max_concurrent_requests=s.max_concurrent_requests,
            max_input_length=engine.max_input_length,
            max_batch_tokens=s.max_batch_tokens,
            max_batch_requests=s.max_batch_requests,
            max_client_batch_size=s.max_client_batch_size,
            tokenization_workers=self._p.tokenizers.workers,
        )

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        g = self.guard
        sparse = unimplemented(
            "tei.v1.Embed/EmbedSparse: this server serves a dense embedding model; sparse embeddings are not available"
        )
        predict = unimplemented("tei.v1.Predict: this server serves an embedding model, not a classifier")
        rerank = unimplemented("tei.v1.Rerank: this server serves an embedding model, not a reranker")
        return [
            generic_handler("tei.v1.Info", pb, {"Info": g.unary(API, "Info", self._info, admit=False)}),
            generic_handler(
                "tei.v1.Embed",
                pb,
                {
                    "Embed": g.unary(API, "Embed", self._embed, admit=True),
                    "EmbedStream": g.stream(API, "EmbedStream", self._streamed(self._embed)),
                    "EmbedSparse": sparse,
                    "EmbedSparseStream": sparse,
                    "EmbedAll": g.unary(API, "EmbedAll", self._embed_all, admit=True),
                    "EmbedAllStream": g.stream(API, "EmbedAllStream", self._streamed(self._embed_all)),
                },
            ),
            generic_handler(
                "tei.v1.Tokenize",
                pb,
                {
                    "Tokenize": g.unary(API, "Tokenize", self._tokenize, admit=True),
                    "TokenizeStream": g.stream(API, "TokenizeStream", self._streamed(self._tokenize)),
                    "Decode": g.unary(API, "Decode", self._decode, admit=True),
                    "DecodeStream": g.stream(API, "DecodeStream", self._streamed(self._decode)),
                },
            ),
            generic_handler(
                "tei.v1.Predict",
                pb,
                {name: predict for name in ("Predict", "PredictPair", "PredictStream", "PredictPairStream")},
            ),
            generic_handler("tei.v1.Rerank", pb, {"Rerank": rerank, "RerankStream": rerank}),
        ]
