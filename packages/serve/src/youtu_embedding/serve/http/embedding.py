"""Pooled embeddings for the HTTP routes, through the same code as the gRPC ``Embed`` RPC.

Texts go to :meth:`EmbeddingService.Embed` as a ``youtu.embedding.v1.EmbedRequest`` (same
validation, prefix logic, scheduler, limits and post-processing as gRPC); token-id inputs, which
the proto has no field for, are framed by :func:`youtu_embedding.serve.token_input.token_rows`
and queued on the same scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve.engine import LEFT
from youtu_embedding.serve.http.endpoint import CONTEXT
from youtu_embedding.serve.pipeline import Pipeline
from youtu_embedding.serve.token_input import token_rows
from youtu_embedding.serve.youtu_service import EmbeddingService

Item = str | list[int]
_LONG_INPUTS = {
    None: pb.LONG_INPUTS_DEFAULT,
    "truncate": pb.LONG_INPUTS_TRUNCATE,
    "error": pb.LONG_INPUTS_ERROR,
    "chunk": pb.LONG_INPUTS_CHUNK,
}


@dataclass
class PrefixFields:
    """The prefix fields of a ``youtu.embedding.v1.EmbedRequest``."""

    prompt_name: str | None = None
    instruction: str | None = None
    template: str | None = None


@dataclass
class Embedded:
    rows: np.ndarray  # (n, dimensions) float32, input order
    tokens: int  # tokens fed to the model, prefix and special tokens included


def check_items(items: list[Item], field_name: str) -> None:
    """Reject empty texts and empty token lists, naming ``field[i]`` (before any work is queued)."""
    for i, item in enumerate(items):
        if isinstance(item, str) and not item.strip():
            name = f"{field_name}[{i}]" if len(items) > 1 else field_name
            raise InvalidArgumentError(name, "is empty or whitespace only; empty texts have no tokens to embed")
        if isinstance(item, list) and not item:
            raise InvalidArgumentError(f"{field_name}[{i}]", "is empty; send at least one token id")


def _renumbered(exc: InvalidArgumentError, field_name: str, positions: list[int]) -> InvalidArgumentError:
    """An error about ``inputs[k]`` of a sub-request, renamed to ``field[positions[k]]`` of the whole."""
    argument = exc.argument
    for sub in ("inputs", field_name):
        if argument.startswith(sub + "["):
            index, rest = argument[len(sub) + 1 :].split("]", 1)
            if index.isdigit():
                message = str(exc).split(": ", 1)[1]
                return InvalidArgumentError(f"{field_name}[{positions[int(index)]}]{rest}", message)
    return exc


async def embed_items(
    service: EmbeddingService,
    items: list[Item],
    *,
    prefix: PrefixFields,
    truncate: bool,
    direction: str,
    dimensions: int | None,
    normalize: bool | None,
    field_name: str,
    long_inputs: str | None = None,
    overlap: int = 0,
) -> Embedded:
    """Embeddings of texts and/or token-id lists in input order (``normalize`` None: the model's setting).

    ``long_inputs`` (``truncate`` / ``error`` / ``chunk``) and ``overlap``: the gRPC fields of the
    same names, for text inputs (``chunk``: windows combined into one vector, docs/long-documents.md).
    """
    pipeline = service.pipeline
    assert pipeline is not None  # the endpoint checked readiness
    engine = pipeline.engine
    dims = engine.check_dimensions(dimensions)
    check_items(items, field_name)
    texts = [i for i, item in enumerate(items) if isinstance(item, str)]
    ids = [i for i, item in enumerate(items) if not isinstance(item, str)]
    if long_inputs not in _LONG_INPUTS:
        raise InvalidArgumentError("long_inputs", f"unknown mode {long_inputs!r}", [k for k in _LONG_INPUTS if k])
    if long_inputs == "chunk" and ids:
        raise InvalidArgumentError("long_inputs", "'chunk' applies to text inputs, not token ids")
    if overlap and long_inputs != "chunk":
        raise InvalidArgumentError("overlap", "applies with long_inputs='chunk'")
    rows = np.empty((len(items), dims), dtype=np.float32)
    tokens = 0
    if texts:
        request = pb.EmbedRequest(
            inputs=[items[i] for i in texts],  # type: ignore[misc]
            prompt_name=prefix.prompt_name,
            instruction=prefix.instruction,
            template=prefix.template,
            normalize=normalize,
            truncate=truncate,
            truncation_direction=pb.TRUNCATION_DIRECTION_LEFT if direction == LEFT else pb.TRUNCATION_DIRECTION_RIGHT,
            dimensions=dimensions,
            encoding=pb.ENCODING_FLOAT32_BYTES,
            long_inputs=_LONG_INPUTS[long_inputs],
            overlap=overlap,
        )
        try:
            response = await service.Embed(request, CONTEXT)  # type: ignore[arg-type]
        except InvalidArgumentError as exc:
            raise _renumbered(exc, field_name, texts) from None
        packed = b"".join(e.packed for e in response.embeddings)
        rows[texts] = np.frombuffer(packed, dtype="<f4").reshape(len(texts), dims)
        tokens += response.usage.prompt_tokens
    if ids:
        token_ids: list[list[int]] = [items[i] for i in ids]  # type: ignore[misc]
        try:
            rows[ids], used = await _embed_ids(pipeline, token_ids, prefix, truncate, direction, dims, normalize)
        except InvalidArgumentError as exc:
            raise _renumbered(exc, field_name, ids) from None
        tokens += used
    return Embedded(rows, tokens)


async def _embed_ids(
    pipeline: Pipeline,
    rows: list[list[int]],
    prefix: PrefixFields,
    truncate: bool,
    direction: str,
    dimensions: int,
    normalize: bool | None,
) -> tuple[np.ndarray, int]:
    engine = pipeline.engine
    text_prefix = engine.resolve_prefix(
        prompt_name=prefix.prompt_name, instruction=prefix.instruction, template=prefix.template
    )
    tokenized = token_rows(engine, rows, text_prefix, truncate=truncate, direction=direction, field_name="inputs")
    result = await pipeline.run_rows(tokenized, CONTEXT)  # type: ignore[arg-type]
    return engine.finish(result.rows, dimensions=dimensions, normalize=normalize), tokenized.tokens
