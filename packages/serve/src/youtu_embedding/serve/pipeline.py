"""What one embedding request goes through, shared by both APIs: tokenise on the tokenizer thread,
queue the rows, wait for the inference thread, measure each stage."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import numpy as np

from youtu_embedding.serve.engine import Engine, Tokenized
from youtu_embedding.serve.scheduler import POOLED, Job, Scheduler

T = TypeVar("T")


@dataclass
class Result:
    """Rows of one request plus its accounting."""

    rows: Any  # (n, hidden) float32 pooled vectors, or a list of (tokens, hidden) arrays
    tokenized: Tokenized
    queue_ns: int
    inference_ns: int
    total_ns: int


class Pipeline:
    """Tokenizer thread + scheduler, for the RPC implementations."""

    def __init__(self, engine: Engine, scheduler: Scheduler) -> None:
        self.engine = engine
        self.scheduler = scheduler
        # transformers' fast tokenizers are not safe to call from two threads at once: one worker.
        self.tokenizer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="youtu-serve-tokenizer")

    async def in_tokenizer(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the tokenizer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.tokenizer_pool, functools.partial(fn, *args, **kwargs))

    async def run(
        self,
        texts: list[str],
        prefix: str,
        context: grpc.aio.ServicerContext,
        *,
        truncate: bool,
        direction: str,
        kind: str = POOLED,
        field_name: str = "inputs",
    ) -> Result:
        """Tokenise, queue, infer; raises InvalidArgumentError / JobDropped / BackendError."""
        start = time.perf_counter_ns()
        tokenized = await self.in_tokenizer(
            self.engine.tokenize, texts, prefix, truncate=truncate, direction=direction, field_name=field_name
        )
        tokenized.tokenization_ns = time.perf_counter_ns() - start
        remaining = context.time_remaining() if context is not None else None
        deadline = time.monotonic() + remaining if remaining is not None else None
        job = await self.scheduler.submit(Job(tokenized.ids, tokenized.skips, kind=kind, deadline=deadline))
        rows = job.pooled() if kind == POOLED else job.results
        return Result(
            rows=rows,
            tokenized=tokenized,
            queue_ns=int(job.queue_s * 1e9),
            inference_ns=int(job.inference_s * 1e9),
            total_ns=time.perf_counter_ns() - start,
        )

    async def run_rows(
        self, tokenized: Tokenized, context: grpc.aio.ServicerContext | None, *, kind: str = POOLED
    ) -> Result:
        """Queue and infer rows that are already token ids (token-id inputs); raises JobDropped / BackendError."""
        start = time.perf_counter_ns()
        remaining = context.time_remaining() if context is not None else None
        deadline = time.monotonic() + remaining if remaining is not None else None
        job = await self.scheduler.submit(Job(tokenized.ids, tokenized.skips, kind=kind, deadline=deadline))
        return Result(
            rows=job.pooled() if kind == POOLED else job.results,
            tokenized=tokenized,
            queue_ns=int(job.queue_s * 1e9),
            inference_ns=int(job.inference_s * 1e9),
            total_ns=time.perf_counter_ns() - start,
        )

    def close(self) -> None:
        self.tokenizer_pool.shutdown(wait=False, cancel_futures=True)


def pack(embeddings: np.ndarray, encoding: str, *, ranges: np.ndarray | None = None) -> list[bytes]:
    """Little-endian bytes per row for ``float32``, ``float16``, ``int8`` or ``binary``."""
    from youtu_embedding.core.quantization import quantize_embeddings

    if encoding == "float32":
        data = embeddings.astype("<f4")
    elif encoding == "float16":
        data = embeddings.astype("<f2")
    else:
        data = quantize_embeddings(embeddings, encoding, ranges=ranges)
    return [row.tobytes() for row in data]
