"""Cross-request dynamic batching: one queue for every client, one inference thread.

Handlers (on the asyncio loop) put a :class:`Job` (the token rows of one request) on a thread-safe
queue and await its future. The inference thread takes *everything* queued at that moment (a
round), drops jobs that were cancelled or whose deadline passed, sorts the rows by length and cuts
them into batches of at most ``max_batch_requests`` rows and ``max_batch_tokens`` padded tokens
(:func:`youtu_embedding.serve.batching.plan_min_padding`: the cuts that minimise padded
tokens plus a per-batch cost), runs them, and
hands each job its rows back through ``loop.call_soon_threadsafe``. Jobs that arrive during a round
wait for the next one, so tokenisation on the loop's executor overlaps with inference.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from youtu_embedding.serve.batching import plan_min_padding
from youtu_embedding.serve.engine import Engine
from youtu_embedding.serve.memory import trim
from youtu_embedding.serve.metrics import ServeMetrics

logger = logging.getLogger(__name__)

POOLED, TOKENS = "pooled", "tokens"
TRIM_INTERVAL_S = 5.0


class JobDropped(Exception):
    """A job was dropped before inference (``reason``: deadline_exceeded, cancelled, shutdown)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BackendError(Exception):
    """The model failed on a batch."""


@dataclass(eq=False)
class Job:
    """The rows of one request, and where their results go."""

    ids: list[list[int]]
    skips: list[int]
    kind: str = POOLED
    deadline: float | None = None  # time.monotonic() seconds
    cancelled: bool = False
    enqueued: float = 0.0
    started: float | None = None
    inference_s: float = 0.0
    results: list[Any] = field(default_factory=list)
    remaining: int = 0
    failed: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Job] | None = None

    @property
    def queue_s(self) -> float:
        return (self.started or self.enqueued) - self.enqueued

    def pooled(self) -> np.ndarray:
        """The pooled rows in input order, (n, hidden)."""
        return np.stack(self.results)


class Scheduler:
    """The shared queue and the inference thread."""

    def __init__(
        self,
        engine: Engine,
        metrics: ServeMetrics,
        *,
        max_batch_tokens: int,
        max_batch_requests: int,
        batch_overhead_tokens: int = 128,
    ) -> None:
        self.engine = engine
        self.batch_overhead = batch_overhead_tokens
        self.metrics = metrics
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_requests = max_batch_requests
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="youtu-serve-inference", daemon=True)
        self._stopped = False
        self._last_trim = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the round in progress, fail what is still queued, end the thread."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)
            self._thread.join(timeout)

    # -- loop side --------------------------------------------------------------------------------
    async def submit(self, job: Job) -> Job:
        """Queue a job and wait for its rows; cancelling the awaiting task drops the job if not started."""
        if self._stopped:
            raise JobDropped("shutdown", "the server is shutting down")
        loop = asyncio.get_running_loop()
        job.loop, job.future = loop, loop.create_future()
        job.enqueued = time.monotonic()
        job.results = [None] * len(job.ids)
        job.remaining = len(job.ids)
        with self._lock:
            self._queued_rows += len(job.ids)
            self.metrics.queue_size.set(self._queued_rows)
        self._queue.put(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            job.cancelled = True
            raise

    # -- inference thread ---------------------------------------------------------------------------
    def _take_round(self) -> list[Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs = [first]
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this round
                break
            jobs.append(job)
        with self._lock:
            self._queued_rows -= sum(len(j.ids) for j in jobs)
            self.metrics.queue_size.set(self._queued_rows)
        return jobs

    def _alive(self, job: Job, now: float) -> bool:
        if job.failed:
            return False
        if job.deadline is not None and now >= job.deadline:
            self._fail(job, JobDropped("deadline_exceeded", "the deadline expired while the request was queued"))
            return False
        if job.cancelled or (job.future is not None and job.future.cancelled()):
            self._fail(job, JobDropped("cancelled", "the request was cancelled before inference"))
            return False
        return True

    def _fail(self, job: Job, exc: Exception) -> None:
        job.failed = True
        if isinstance(exc, JobDropped):
            self.metrics.dropped.labels(reason=exc.reason).inc()
        self._resolve(job, exc)

    @staticmethod
    def _resolve(job: Job, exc: Exception | None) -> None:
        def settle() -> None:
            if job.future is None or job.future.done():
                return
            if exc is None:
                job.future.set_result(job)
            else:
                job.future.set_exception(exc)

        if job.loop is not None and not job.loop.is_closed():
            job.loop.call_soon_threadsafe(settle)

    def _run(self) -> None:
        while True:
            jobs = self._take_round()
            if jobs is None:
                break
            try:
                self._run_round(jobs)
            except Exception:  # pragma: no cover - _run_round reports per batch; keep the thread alive
                logger.exception("inference round failed")
            if self._queue.empty() and time.monotonic() - self._last_trim > TRIM_INTERVAL_S:
                trim()  # idle: hand freed heap pages back so RSS stays flat
                self._last_trim = time.monotonic()
        # fail anything left behind by a stop
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._fail(job, JobDropped("shutdown", "the server is shutting down"))

    def _run_round(self, jobs: list[Job]) -> None:
        now = time.monotonic()
        live = [j for j in jobs if self._alive(j, now)]
        for kind, forward in ((POOLED, self._forward_pooled), (TOKENS, self._forward_tokens)):
            rows = [(job, i) for job in live if job.kind == kind for i in range(len(job.ids))]
            if not rows:
                continue
            lengths = [len(job.ids[i]) for job, i in rows]
            for batch in plan_min_padding(lengths, self.max_batch_requests, self.max_batch_tokens, self.batch_overhead):
                now = time.monotonic()
                items = [rows[b] for b in batch if self._alive(rows[b][0], now)]
                if items:
                    self._run_batch(items, forward)

    def _forward_pooled(self, items: list[tuple[Job, int]]) -> list[Any]:
        out = self.engine.forward_pooled([j.ids[i] for j, i in items], [j.skips[i] for j, i in items])
        return list(out)

    def _forward_tokens(self, items: list[tuple[Job, int]]) -> list[Any]:
        return self.engine.forward_tokens([j.ids[i] for j, i in items])

    def _run_batch(self, items: list[tuple[Job, int]], forward: Callable[[list[tuple[Job, int]]], list[Any]]) -> None:
        start = time.monotonic()
        for job, _ in items:
            if job.started is None:
                job.started = start
                self.metrics.queue_duration.observe(start - job.enqueued)
        longest = max(len(j.ids[i]) for j, i in items)
        try:
            outputs = forward(items)
        except Exception as exc:
            logger.exception("inference failed on a batch of %d rows", len(items))
            for job in {id(j): j for j, _ in items}.values():
                self._fail(job, BackendError(f"inference failed: {type(exc).__name__}: {exc}"))
            return
        elapsed = time.monotonic() - start
        self.metrics.batch_size.observe(len(items))
        self.metrics.batch_tokens.observe(len(items) * longest)
        self.metrics.inference_duration.observe(elapsed)
        seen: set[int] = set()
        for (job, i), out in zip(items, outputs, strict=True):
            if id(job) not in seen:
                job.inference_s += elapsed
                seen.add(id(job))
            job.results[i] = out
            job.remaining -= 1
            if job.remaining == 0 and not job.failed:
                self._resolve(job, None)
