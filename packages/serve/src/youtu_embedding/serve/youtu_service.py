"""Our API: ``youtu.embedding.v1.EmbeddingService``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import grpc
import numpy as np

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve.config import ServeSettings
from youtu_embedding.serve.engine import LEFT, RIGHT, Engine
from youtu_embedding.serve.long_documents import parse_options, run_long
from youtu_embedding.serve.pipeline import Pipeline, Result, pack
from youtu_embedding.serve.rpc import Guard, generic_handler

SERVICE = "youtu.embedding.v1.EmbeddingService"
API = "youtu"
_ENCODINGS = {
    pb.ENCODING_FLOAT32_LIST: None,
    pb.ENCODING_FLOAT32_BYTES: "float32",
    pb.ENCODING_FLOAT16_BYTES: "float16",
    pb.ENCODING_INT8_BYTES: "int8",
    pb.ENCODING_BINARY_BYTES: "binary",
}


def package_version() -> str:
    try:
        return version("youtu-embedding-serve")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _truncate_of(request: pb.EmbedRequest) -> bool:
    """``long_inputs`` TRUNCATE/ERROR override ``truncate``; DEFAULT follows it."""
    if request.long_inputs not in pb.LongInputs.values():
        raise InvalidArgumentError("long_inputs", f"unknown value {request.long_inputs}", pb.LongInputs.keys())
    if request.long_inputs == pb.LONG_INPUTS_TRUNCATE:
        return True
    if request.long_inputs == pb.LONG_INPUTS_ERROR:
        return False
    return request.truncate


def _usage(result: Result) -> pb.Usage:
    tokens = result.tokenized.tokens
    return pb.Usage(prompt_tokens=tokens, total_tokens=tokens, compute_chars=result.tokenized.chars)


def _timing(result: Result) -> pb.Timing:
    return pb.Timing(
        total_time_ns=result.total_ns,
        tokenization_time_ns=result.tokenized.tokenization_ns,
        queue_time_ns=result.queue_ns,
        inference_time_ns=result.inference_ns,
    )


def _check_ranges(values: Any, dimensions: int) -> np.ndarray:
    """int8 calibration ranges as a (2, dimensions) array: finite, and min <= max in every dimension."""
    ranges = np.asarray(values, dtype=np.float32).reshape(2, dimensions)
    bad = np.flatnonzero(~np.isfinite(ranges).all(axis=0))
    if bad.size:
        d = int(bad[0])
        raise InvalidArgumentError(
            "int8_ranges",
            f"dimension {d} has a non-finite bound (min {ranges[0, d]}, max {ranges[1, d]}); send finite numbers",
        )
    inverted = np.flatnonzero(ranges[0] > ranges[1])
    if inverted.size:
        d = int(inverted[0])
        raise InvalidArgumentError(
            "int8_ranges",
            f"dimension {d} has min {ranges[0, d]} > max {ranges[1, d]}; the first {dimensions} values are the "
            f"minima, the next {dimensions} the maxima",
        )
    return ranges


def _chars(request: Any) -> int:
    """Characters of a request's texts, counted in the tokenisation backlog while a stream waits."""
    return sum(len(t) for t in request.inputs)


class EmbeddingService:
    """Implements every RPC of ``EmbeddingService`` over a :class:`Pipeline`."""

    def __init__(self, settings: ServeSettings, guard: Guard) -> None:
        self.settings = settings
        self.guard = guard
        self.pipeline: Pipeline | None = None  # set once the model is loaded

    @property
    def _p(self) -> Pipeline:
        assert self.pipeline is not None  # guard.check_ready() ran first
        return self.pipeline

    # -- Embed ----------------------------------------------------------------------------------------
    async def _embed(self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext) -> pb.EmbedResponse:
        engine = self._p.engine
        inputs = list(request.inputs)
        engine.check_inputs(inputs, "inputs", self.settings.max_client_batch_size)
        if request.encoding not in _ENCODINGS:
            raise InvalidArgumentError("encoding", f"unknown encoding {request.encoding}", pb.Encoding.keys())
        if request.truncation_direction not in (pb.TRUNCATION_DIRECTION_RIGHT, pb.TRUNCATION_DIRECTION_LEFT):
            raise InvalidArgumentError("truncation_direction", f"unknown value {request.truncation_direction}")
        encoding = _ENCODINGS[request.encoding]
        prefix = engine.resolve_prefix(
            prompt_name=_opt(request, "prompt_name"),
            instruction=_opt(request, "instruction"),
            template=_opt(request, "template"),
        )
        dimensions = engine.check_dimensions(_opt(request, "dimensions"))
        ranges = None
        if encoding == "int8":
            if request.int8_ranges:
                if len(request.int8_ranges) != 2 * dimensions:
                    raise InvalidArgumentError(
                        "int8_ranges", f"needs 2 x dimensions = {2 * dimensions} values, got {len(request.int8_ranges)}"
                    )
                ranges = _check_ranges(request.int8_ranges, dimensions)
            elif len(inputs) < 2:
                raise InvalidArgumentError(
                    "int8_ranges", "int8 of a single input needs calibration ranges (2 x dimensions values)"
                )
        elif request.int8_ranges:
            raise InvalidArgumentError("int8_ranges", "only applies to ENCODING_INT8_BYTES")
        direction = LEFT if request.truncation_direction == pb.TRUNCATION_DIRECTION_LEFT else RIGHT
        truncate = _truncate_of(request)
        if request.HasField("chunking") or request.long_inputs == pb.LONG_INPUTS_CHUNK:
            return await self._embed_long(request, context, inputs, prefix, dimensions, encoding, ranges)
        result = await self._p.run(inputs, prefix, context, truncate=truncate, direction=direction)
        emb = engine.finish(result.rows, dimensions=dimensions, normalize=_opt(request, "normalize"))
        if encoding is None:
            embeddings = [pb.Embedding(values=row) for row in emb]
        else:
            embeddings = [pb.Embedding(packed=data) for data in pack(emb, encoding, ranges=ranges)]
        return pb.EmbedResponse(
            embeddings=embeddings,
            dimensions=dimensions,
            encoding=request.encoding,
            usage=_usage(result),
            timing=_timing(result),
            model=engine.encoder.loaded.model_id,
        )

    async def _embed_long(
        self,
        request: pb.EmbedRequest,
        context: grpc.aio.ServicerContext,
        inputs: list[str],
        prefix: str,
        dimensions: int,
        encoding: str | None,
        ranges: np.ndarray | None,
    ) -> pb.EmbedResponse:
        """``long_inputs = LONG_INPUTS_CHUNK`` or ``chunking``: windows of whole inputs (serve.long_documents)."""
        engine = self._p.engine
        chunking = request.chunking if request.HasField("chunking") else None
        if chunking is not None and request.long_inputs not in (pb.LONG_INPUTS_DEFAULT, pb.LONG_INPUTS_CHUNK):
            raise InvalidArgumentError("long_inputs", "chunking windows whole inputs; leave it unset or CHUNK")
        if chunking is not None and not chunking.chunker:
            raise InvalidArgumentError("chunking.chunker", "is empty; name a chunker (ListPlugins.chunkers)")
        result = await run_long(
            self._p,
            inputs,
            prefix,
            context,
            overlap=request.overlap,
            chunker=chunking.chunker if chunking is not None else None,
            chunker_options=parse_options(chunking.options) if chunking is not None else None,
            naive=bool(chunking.naive) if chunking is not None else False,
        )
        normalize = _opt(request, "normalize")

        def encoded(vectors: np.ndarray) -> list[pb.Embedding]:
            emb = engine.finish(vectors, dimensions=dimensions, normalize=normalize)
            if encoding is None:
                return [pb.Embedding(values=row) for row in emb]
            return [pb.Embedding(packed=data) for data in pack(emb, encoding, ranges=ranges)]

        job = result.job
        response = pb.EmbedResponse(
            dimensions=dimensions,
            encoding=request.encoding,
            usage=pb.Usage(prompt_tokens=job.tokens, total_tokens=job.tokens, compute_chars=job.chars),
            timing=pb.Timing(
                total_time_ns=result.total_ns,
                tokenization_time_ns=job.tokenization_ns,
                queue_time_ns=result.queue_ns,
                inference_time_ns=result.inference_ns,
            ),
            model=engine.encoder.loaded.model_id,
        )
        if job.spans is None:
            response.embeddings.extend(encoded(np.stack(result.vectors)))
            return response
        for text, spans, tokens, vectors in zip(inputs, job.spans, job.chunk_tokens, result.vectors, strict=True):
            response.chunked.append(
                pb.ChunkedInput(
                    chunks=[
                        pb.Chunk(embedding=e, start=a, end=b, text=text[a:b], tokens=n)
                        for e, (a, b), n in zip(encoded(vectors), spans, tokens, strict=True)
                    ]
                )
            )
        return response

    async def Embed(self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext) -> pb.EmbedResponse:
        return await self._embed(request, context)

    async def EmbedStream(
        self, requests: AsyncIterator[pb.EmbedRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.EmbedResponse]:
        async for response in self.guard.ordered(
            requests,
            lambda r: self._embed(r, context),
            self.settings.max_stream_pending,
            backlog=self._p.backlog,
            chars=_chars,
        ):
            yield response

    # -- Similarity -----------------------------------------------------------------------------------
    async def Similarity(
        self, request: pb.SimilarityRequest, context: grpc.aio.ServicerContext
    ) -> pb.SimilarityResponse:
        engine = self._p.engine
        queries, documents = list(request.queries), list(request.documents)
        limit = self.settings.max_client_batch_size
        engine.check_inputs(queries, "queries", limit)
        engine.check_inputs(documents, "documents", limit)
        prompts = engine.encoder.prompts
        q_name = _opt(request, "query_prompt_name")
        q_instruction = _opt(request, "query_instruction")
        if q_name is None and q_instruction is None and "query" in prompts:
            q_name = "query"
        d_name = _opt(request, "document_prompt_name")
        if d_name is None:
            d_name = next((n for n in ("document", "passage") if n in prompts), None)
        try:
            q_prefix = engine.resolve_prefix(prompt_name=q_name, instruction=q_instruction)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(
                "query_" + exc.argument.replace("/", "/query_"), str(exc).split(": ", 1)[1]
            ) from None
        try:
            d_prefix = engine.resolve_prefix(prompt_name=d_name)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError("document_prompt_name", str(exc).split(": ", 1)[1]) from None
        dimensions = engine.check_dimensions(_opt(request, "dimensions"))
        q = await self._p.run(
            queries, q_prefix, context, truncate=request.truncate, direction=RIGHT, field_name="queries"
        )
        d = await self._p.run(
            documents, d_prefix, context, truncate=request.truncate, direction=RIGHT, field_name="documents"
        )
        qe = engine.finish(q.rows, dimensions=dimensions, normalize=None)
        de = engine.finish(d.rows, dimensions=dimensions, normalize=None)
        scores = np.asarray(engine.encoder.similarity(qe, de))
        tokens = q.tokenized.tokens + d.tokenized.tokens
        return pb.SimilarityResponse(
            rows=[pb.SimilarityRow(scores=row) for row in scores],
            function=engine.encoder.similarity_fn_name,
            usage=pb.Usage(
                prompt_tokens=tokens, total_tokens=tokens, compute_chars=q.tokenized.chars + d.tokenized.chars
            ),
            timing=pb.Timing(
                total_time_ns=q.total_ns + d.total_ns,
                tokenization_time_ns=q.tokenized.tokenization_ns + d.tokenized.tokenization_ns,
                queue_time_ns=q.queue_ns + d.queue_ns,
                inference_time_ns=q.inference_ns + d.inference_ns,
            ),
        )

    # -- Tokenize / Info / ListPlugins ----------------------------------------------------------------
    async def Tokenize(self, request: pb.TokenizeRequest, context: grpc.aio.ServicerContext) -> pb.TokenizeResponse:
        engine = self._p.engine
        inputs = list(request.inputs)
        engine.check_inputs(inputs, "inputs", self.settings.max_client_batch_size)
        prefix = engine.resolve_prefix(
            prompt_name=_opt(request, "prompt_name"), instruction=_opt(request, "instruction")
        )

        def run(worker: Engine) -> list[Any]:
            return [
                worker.tokens(t, prefix, add_special_tokens=request.add_special_tokens, truncate=True) for t in inputs
            ]

        tokenized = await self._p.in_tokenizer(run, chars=sum(len(prefix) + len(t) for t in inputs))
        return pb.TokenizeResponse(
            inputs=[
                pb.TokenizedInput(
                    tokens=[
                        pb.Token(id=t.id, text=t.text, special=t.special, start=t.start, stop=t.stop, pooled=t.pooled)
                        for t in item.tokens
                    ]
                )
                for item in tokenized
            ]
        )

    async def Info(self, request: pb.InfoRequest, context: grpc.aio.ServicerContext) -> pb.InfoResponse:
        engine = self._p.engine
        info = engine.info()
        s = self.settings
        return pb.InfoResponse(
            model_id=info["model_id"],
            architecture=info["architecture"],
            dimension=info["dimension"],
            max_input_length=engine.max_input_length,
            dtype=info["dtype"],
            backend=info["backend"],
            device=info["device"],
            pooling=info["pooling"],
            normalize=info["normalize"],
            prompts=info["prompts"],
            default_prompt_name=info["default_prompt_name"],
            similarity_function=info["similarity_fn_name"],
            attention=info["attention"],
            version=package_version(),
            limits=pb.Limits(
                max_concurrent_requests=s.max_concurrent_requests,
                max_batch_tokens=s.max_batch_tokens,
                max_batch_requests=s.max_batch_requests,
                max_client_batch_size=s.max_client_batch_size,
                max_input_length=engine.max_input_length,
                max_message_bytes=s.max_message_bytes,
                tokenization_workers=self._p.tokenizers.workers,
                max_document_tokens=engine.max_document_tokens,
            ),
        )

    async def ListPlugins(
        self, request: pb.ListPluginsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPluginsResponse:
        from youtu_embedding.core.chunking import available_chunkers
        from youtu_embedding.core.plugins import get_registry

        registry = get_registry()
        return pb.ListPluginsResponse(
            plugins=[
                pb.Plugin(name=p.name, distribution=p.distribution, version=p.version, hooks=p.hooks, builtin=p.builtin)
                for p in registry.plugins()
            ],
            failures=[
                pb.PluginFailure(name=f.name, distribution=f.distribution, message=f.message())
                for f in registry.failures
            ],
            pooling_strategies=sorted(registry.collect("register_pooling_strategies")),
            instruction_templates=sorted(registry.collect("register_instruction_templates")),
            chunkers=available_chunkers(),
        )

    def handler(self) -> grpc.GenericRpcHandler:
        g = self.guard
        return generic_handler(
            SERVICE,
            pb,
            {
                "Embed": g.unary(API, "Embed", self.Embed, admit=True),
                "EmbedStream": g.stream(API, "EmbedStream", self.EmbedStream),
                "Similarity": g.unary(API, "Similarity", self.Similarity, admit=True),
                "Tokenize": g.unary(API, "Tokenize", self.Tokenize, admit=True),
                "Info": g.unary(API, "Info", self.Info, admit=False),
                "ListPlugins": g.unary(API, "ListPlugins", self.ListPlugins, admit=False),
            },
        )
