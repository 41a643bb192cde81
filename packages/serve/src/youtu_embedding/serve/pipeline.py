"""What one embedding request goes through, shared by every front door (gRPC and HTTP): admission
against the tokenisation backlog, tokenisation on a pool of tokenizer threads, the scheduler's
queue, the inference workers, and the time each stage took."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from youtu_embedding.serve.engine import Engine, Tokenized
from youtu_embedding.serve.scheduler import POOLED, Job, Scheduler

T = TypeVar("T")


class Overloaded(Exception):
    """A request refused at once because a server limit is reached (RESOURCE_EXHAUSTED / HTTP 429)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(f"{limit}: {message}")
        self.limit = limit


@dataclass
class Result:
    """Rows of one request plus its accounting."""

    rows: Any  # (n, hidden) float32 pooled vectors, or a list of (tokens, hidden) arrays
    tokenized: Tokenized
    queue_ns: int
    inference_ns: int
    total_ns: int


class Reservation:
    """Characters of one request counted in the backlog until its tokenisation ends (released once)."""

    def __init__(self, backlog: Backlog, chars: int) -> None:
        self.backlog, self.chars = backlog, chars

    def release(self) -> None:
        if self.chars:
            self.backlog._release(self.chars)
            self.chars = 0


class Backlog:
    """Characters of text admitted for tokenisation and not tokenised yet, bounded by ``limit``.

    A request that does not fit is refused at once (:meth:`admit`, the unary path), or waits
    (:meth:`wait`, stream messages: the stream is not read while it waits). A request alone in an
    empty backlog always fits, so the largest message gRPC accepts can still be served. Lives on
    the event loop (not thread-safe).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, chars: int) -> bool:
        return self.used == 0 or self.used + chars <= self.limit

    def admit(self, chars: int) -> Reservation:
        """Reserve ``chars`` now, or raise :class:`Overloaded` naming the limit."""
        if not self._fits(chars):
            raise Overloaded(
                "max_tokenization_backlog",
                f"{self.used} characters already wait for tokenisation; this request's {chars} would pass "
                f"max_tokenization_backlog={self.limit}; retry later",
            )
        self.used += chars
        return Reservation(self, chars)

    async def wait(self, chars: int) -> Reservation:
        """Reserve ``chars``, waiting (first come, first served) until they fit."""
        if not self._waiters and self._fits(chars):
            self.used += chars
            return Reservation(self, chars)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (chars, future)
        self._waiters.append(entry)
        try:
            await future
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
            elif future.done() and not future.cancelled():
                self._release(chars)  # granted, but the waiter went away
            raise
        return Reservation(self, chars)

    def _release(self, chars: int) -> None:
        self.used -= chars
        while self._waiters and self._fits(self._waiters[0][0]):
            chars, future = self._waiters.popleft()
            if not future.done():
                self.used += chars
                future.set_result(None)


#: The reservation a stream reader made for the message a task is processing (see ``Guard.ordered``).
stream_reservation: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar(
    "youtu_serve_stream_reservation", default=None
)


class TokenizerPool:
    """``workers`` tokenizer threads, each with its own copy of the engine's tokenizer.

    transformers' fast tokenizers set truncation state on the shared Rust object per call, so one
    object must not be used by two threads at once; the Rust tokenizer releases the GIL, so
    threads with one copy each tokenise in parallel and never block the event loop.
    """

    def __init__(self, engine: Engine, workers: int) -> None:
        self.workers = workers
        self._engines = [engine] + [engine.worker_copy() for _ in range(workers - 1)]
        self._local = threading.local()
        self._next = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="youtu-serve-tokenizer", initializer=self._bind
        )

    def _bind(self) -> None:
        with self._lock:
            self._local.engine = self._engines[self._next]
            self._next += 1

    def _call(self, fn: Callable[[Engine], T]) -> T:
        return fn(self._local.engine)

    async def run(self, fn: Callable[[Engine], T]) -> T:
        """``fn(engine)`` on a tokenizer thread, with that thread's engine."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._call, fn))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Pipeline:
    """Tokenisation backlog + tokenizer pool + scheduler, for the front doors."""

    def __init__(
        self, engine: Engine, scheduler: Scheduler, *, tokenization_workers: int = 1, max_backlog_chars: int = 1 << 26
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.backlog = Backlog(max_backlog_chars)
        self.tokenizers = TokenizerPool(engine, tokenization_workers)

    async def in_tokenizer(self, fn: Callable[[Engine], T], *, chars: int) -> T:
        """Run ``fn(engine)`` on a tokenizer thread once ``chars`` characters are admitted to the backlog.

        Outside a stream an over-full backlog refuses at once (:class:`Overloaded`); a stream
        message was admitted by its stream's reader, which waited instead.
        """
        reservation = stream_reservation.get() or self.backlog.admit(chars)
        try:
            return await self.tokenizers.run(fn)
        finally:
            reservation.release()

    async def run(
        self,
        texts: list[str],
        prefix: str,
        context: Any,
        *,
        truncate: bool,
        direction: str,
        kind: str = POOLED,
        field_name: str = "inputs",
    ) -> Result:
        """Tokenise, queue, infer; ``context`` (a gRPC context, or None) gives the deadline.

        Raises InvalidArgumentError / Overloaded / JobDropped / BackendError.
        """
        start = time.perf_counter_ns()
        chars = sum(len(prefix) + len(t) for t in texts)
        tokenized = await self.in_tokenizer(
            lambda worker: worker.tokenize(
                texts, prefix, truncate=truncate, direction=direction, field_name=field_name
            ),
            chars=chars,
        )
        tokenized.tokenization_ns = time.perf_counter_ns() - start
        job = await self.scheduler.submit(Job(tokenized.ids, tokenized.skips, kind=kind, deadline=deadline_of(context)))
        rows = job.pooled() if kind == POOLED else job.results
        return Result(
            rows=rows,
            tokenized=tokenized,
            queue_ns=int(job.queue_s * 1e9),
            inference_ns=int(job.inference_s * 1e9),
            total_ns=time.perf_counter_ns() - start,
        )

    async def run_rows(self, tokenized: Tokenized, context: Any, *, kind: str = POOLED) -> Result:
        """Queue and infer rows that are already token ids (token-id inputs); raises JobDropped / BackendError."""
        start = time.perf_counter_ns()
        job = await self.scheduler.submit(Job(tokenized.ids, tokenized.skips, kind=kind, deadline=deadline_of(context)))
        return Result(
            rows=job.pooled() if kind == POOLED else job.results,
            tokenized=tokenized,
            queue_ns=int(job.queue_s * 1e9),
            inference_ns=int(job.inference_s * 1e9),
            total_ns=time.perf_counter_ns() - start,
        )

    def close(self) -> None:
        self.tokenizers.close()


def deadline_of(context: Any) -> float | None:
    """The ``time.monotonic()`` deadline of a gRPC call (None: no deadline)."""
    remaining = context.time_remaining() if context is not None else None
    return time.monotonic() + remaining if remaining is not None else None


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
