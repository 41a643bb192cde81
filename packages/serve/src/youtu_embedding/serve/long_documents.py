"""Long inputs on the wire: ``EmbedRequest.long_inputs = LONG_INPUTS_CHUNK`` (windows combined into
one vector) and ``EmbedRequest.chunking`` (each input answers with its chunks and spans).

The windows, chunkers and combination rules are the core's (:mod:`youtu_embedding.core.long_inputs`),
so a served result equals ``Encoder.encode(long_inputs="chunk")`` / ``Encoder.encode_chunks`` in
process. Windows are rows of at most ``max_input_length`` tokens batched with every other request's
rows; an input may have at most ``max_document_tokens`` tokens in all (prefix and specials included).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import torch

from youtu_embedding.core.chunking import Span, chunk_token_mask, split_document
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.late_chunking import resolve_chunker
from youtu_embedding.core.long_inputs import WindowedText, combine_pooled, late_chunk_vectors, plan_rows, window_texts
from youtu_embedding.core.pooling import get_pooling
from youtu_embedding.serve.engine import Engine
from youtu_embedding.serve.pipeline import Pipeline, deadline_of
from youtu_embedding.serve.scheduler import POOLED, TOKENS, Job


def parse_options(options: Mapping[str, str]) -> dict[str, Any]:
    """Chunker options from the wire: JSON values (``"128"`` -> 128), else the plain string."""
    out: dict[str, Any] = {}
    for key, raw in options.items():
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@dataclass
class LongJob:
    """A tokenised long-input request: the inputs' windows and, when chunking, each input's chunks."""

    items: list[WindowedText]
    spans: list[list[Span]] | None = None
    chunk_tokens: list[list[int]] = field(default_factory=list)
    naive_items: list[WindowedText] | None = None  # naive chunking: the chunks' own windows
    chars: int = 0
    tokenization_ns: int = 0

    @property
    def tokens(self) -> int:
        """Tokens of the whole inputs (what usage reports and limits count)."""
        return sum(i.tokens for i in self.items)


@dataclass
class LongResult:
    """One vector per input ``(n, D)``, or per input the ``(chunks, D)`` vectors; unnormalised."""

    vectors: list[np.ndarray]
    job: LongJob
    queue_ns: int
    inference_ns: int
    total_ns: int


def _renamed(exc: InvalidArgumentError) -> InvalidArgumentError:
    message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
    argument = exc.argument.replace("texts", "inputs").replace("documents", "inputs")
    if argument == "max_length":
        argument, message = "max_input_length", message.replace("max_length=", "max_input_length=")
    if argument == "chunker" or argument.startswith("chunker_options"):
        argument = "chunking." + argument.replace("chunker_options", "options")
    return InvalidArgumentError(argument, message.replace("documents[", "inputs[").replace("texts[", "inputs["))


def tokenize_long(
    engine: Engine,
    texts: list[str],
    prefix: str,
    *,
    overlap: int,
    chunker: str | None = None,
    chunker_options: Mapping[str, Any] | None = None,
    naive: bool = False,
) -> LongJob:
    """Windows of each input (and its chunks); runs on the tokenizer thread."""
    start = time.perf_counter_ns()
    enc = engine.encoder
    try:
        found = resolve_chunker(chunker, chunker_options) if chunker is not None else None
        items = window_texts(
            enc, texts, prefix, engine.max_input_length, overlap=overlap, need_offsets=found is not None
        )
        for i, item in enumerate(items):
            if item.tokens > engine.max_document_tokens:
                raise InvalidArgumentError(
                    f"inputs[{i}]",
                    f"has {item.tokens} tokens, more than max_document_tokens={engine.max_document_tokens}",
                )
        job = LongJob(items, chars=sum(len(prefix) + len(t) for t in texts))
        if found is not None:
            chunker_obj, options = found
            job.spans = [
                split_document(chunker_obj, text, item.offsets or [], options, f"inputs[{i}]")
                for i, (text, item) in enumerate(zip(texts, items, strict=True))
            ]
            job.chunk_tokens = [
                chunk_token_mask(spans, item.offsets or [], f"inputs[{i}]").sum(dim=1).tolist()
                for i, (spans, item) in enumerate(zip(job.spans, items, strict=True))
            ]
            if naive:
                pieces = [t[a:b] for t, spans in zip(texts, job.spans, strict=True) for a, b in spans]
                job.naive_items = window_texts(enc, pieces, prefix, engine.max_input_length, overlap=overlap)
    except InvalidArgumentError as exc:
        raise _renamed(exc) from None
    job.tokenization_ns = time.perf_counter_ns() - start
    return job


def _pooled_per_item(items: list[WindowedText], pooled: np.ndarray) -> np.ndarray:
    out, start = [], 0
    tensor = torch.from_numpy(pooled)
    for item in items:
        out.append(combine_pooled(item, tensor[start : start + len(item.rows)]).numpy())
        start += len(item.rows)
    return np.stack(out)


def _late(engine: Engine, job: LongJob, states: list[np.ndarray]) -> list[np.ndarray]:
    assert job.spans is not None
    pool = get_pooling(engine.encoder.pooling_name)
    out, start = [], 0
    for i, item in enumerate(job.items):
        rows = [torch.from_numpy(s) for s in states[start : start + len(item.rows)]]
        vectors, _ = late_chunk_vectors(item, rows, job.spans[i], pool, f"inputs[{i}]")
        out.append(vectors.numpy())
        start += len(item.rows)
    return out


async def run_long(
    pipeline: Pipeline,
    texts: list[str],
    prefix: str,
    context: grpc.aio.ServicerContext | None,
    *,
    overlap: int,
    chunker: str | None = None,
    chunker_options: Mapping[str, Any] | None = None,
    naive: bool = False,
) -> LongResult:
    """Tokenise into windows, queue the rows with everyone else's, combine or pool the chunks."""
    start = time.perf_counter_ns()
    engine = pipeline.engine
    job: LongJob = await pipeline.in_tokenizer(
        lambda worker: tokenize_long(
            worker,
            texts,
            prefix,
            overlap=overlap,
            chunker=chunker,
            chunker_options=chunker_options,
            naive=naive,
        ),
        chars=sum(len(prefix) + len(t) for t in texts),
    )
    late = chunker is not None and not naive
    run_items = job.naive_items if job.naive_items is not None else job.items
    rows, skips, _ = plan_rows(run_items)
    done = await pipeline.scheduler.submit(
        Job(rows, skips, kind=TOKENS if late else POOLED, deadline=deadline_of(context))
    )
    if late:  # pooling the chunks' spans: CPU work off the event loop
        vectors = await asyncio.to_thread(_late, engine, job, done.results)
    else:
        per_input = _pooled_per_item(run_items, done.pooled())
        if job.spans is None:
            vectors = list(per_input)
        else:
            bounds = np.cumsum([0] + [len(s) for s in job.spans])
            vectors = [per_input[bounds[i] : bounds[i + 1]] for i in range(len(job.spans))]
    return LongResult(
        vectors=vectors,
        job=job,
        queue_ns=int(done.queue_s * 1e9),
        inference_ns=int(done.inference_s * 1e9),
        total_ns=time.perf_counter_ns() - start,
    )
