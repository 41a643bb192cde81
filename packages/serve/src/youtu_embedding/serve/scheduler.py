"""Cross-request dynamic batching: one queue for every client, a pool of inference workers.

Handlers (on the asyncio loop) add a :class:`Job` (the token rows of one request) to the queue and
await its future. Jobs queued since the last pick become a *plan*: cancelled jobs and jobs whose
deadline passed are dropped, the rows are sorted by length and cut into batches of at most
``max_batch_requests`` rows and a padded-token budget
(:func:`youtu_embedding.serve.batching.plan_min_padding`: the cuts that minimise padded tokens plus
a per-batch cost); when that gives fewer batches than there are workers, the largest batches are
halved so that no worker idles. Results go back to each job through ``loop.call_soon_threadsafe``.

Two rules keep one large request from stalling the others:

* **Time slices.** The token budget of a batch is ``max_batch_tokens``, or less: what the workers
  measurably run in ``batch_time_slice_s`` (seconds per padded token, a moving average over the
  batches run so far, first measured by the warm-up). A new request waits for about one slice, not
  for a 64-row batch of 256-token rows that takes seconds on one CPU thread.
* **Round robin over plans.** Workers take one batch from each unfinished plan in turn, so a
  one-text request planned behind a 256-input request runs after at most one of its batches, and
  two large requests share the workers evenly. New jobs join the newest plan instead (sharing
  its batches, less padding) while that plan is still small: at most ``2 x max_batch_requests``
  rows and one slice of work per worker.

Several workers with few intra-op threads each (default on CPU: 2 workers) keep the cores busy
without OpenMP barriers: one thread preempted by the event loop or a client delays only its own
batch instead of stalling every thread of a parallel region.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from youtu_embedding.core.batching import split_batches
from youtu_embedding.serve.batching import plan_min_padding
from youtu_embedding.serve.engine import Engine
from youtu_embedding.serve.memory import trim
from youtu_embedding.serve.metrics import ServeMetrics

logger = logging.getLogger(__name__)

POOLED, TOKENS = "pooled", "tokens"
TRIM_INTERVAL_S = 5.0
MIN_SLICE_TOKENS = 256  # time-sliced batches never shrink below this many padded tokens
RATE_SMOOTHING = 0.2  # weight of the newest batch in the seconds-per-token moving average


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def worker_layout(device_type: str, workers: int | None, threads: int | None) -> tuple[int, int | None]:
    """Inference workers and torch intra-op threads per worker (None: leave torch's setting).

    On CPU the default is 2 workers (1 where only one core is available) sharing the cores evenly; on a
    GPU, 1 worker and torch's thread setting.
    """
    cores = available_cores()
    if workers is None:
        workers = min(2, cores) if device_type == "cpu" else 1
    if threads is None and device_type == "cpu":
        threads = max(1, cores // workers)
    return workers, threads


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


Batch = tuple[str, list[tuple["Job", int]]]  # (kind, [(job, row index)])


class Scheduler:
    """The shared queue and the inference workers."""

    def __init__(
        self,
        engine: Engine,
        metrics: ServeMetrics,
        *,
        max_batch_tokens: int,
        max_batch_requests: int,
        batch_overhead_tokens: int = 128,
        workers: int = 1,
        batch_time_slice_s: float = 0.0,
        seconds_per_token: float | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.engine = engine
        self.batch_overhead = batch_overhead_tokens
        self.metrics = metrics
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_requests = max_batch_requests
        self.replan_rows = 2 * max_batch_requests
        self.batch_time_slice_s = batch_time_slice_s
        self.seconds_per_token = seconds_per_token  # moving average over batches run (None: not measured yet)
        self._cond = threading.Condition()
        self._incoming: list[Job] = []  # submitted, not yet planned
        self._plans: deque[deque[Batch]] = deque()  # unfinished plans, served round robin
        self._newest: deque[Batch] | None = None  # the plan new jobs may join while it is small
        self._queued_rows = 0
        self._results_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(str(i),), name=f"youtu-serve-inference-{i}", daemon=True)
            for i in range(workers)
        ]
        metrics.inference_workers.set(workers)
        self._stopped = False
        self._last_trim = 0.0

    @property
    def workers(self) -> int:
        return len(self._threads)

    def batch_token_budget(self) -> int:
        """Padded tokens per batch: ``max_batch_tokens``, or what one worker runs in one time slice."""
        if not self.batch_time_slice_s or not self.seconds_per_token:
            return self.max_batch_tokens
        sliced = int(self.batch_time_slice_s / self.seconds_per_token)
        return max(MIN_SLICE_TOKENS, min(self.max_batch_tokens, sliced))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the planned batches, fail what is still queued, end the workers."""
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        with self._cond:
            left, self._incoming = self._incoming, []
            left_batches = [batch for plan in self._plans for batch in plan]
            self._plans.clear()
            self._newest = None
        for job in [*left, *(job for _, items in left_batches for job, _ in items)]:
            self._fail(job, JobDropped("shutdown", "the server is shutting down"))

    # -- loop side --------------------------------------------------------------------------------
    async def submit(self, job: Job) -> Job:
        """Queue a job and wait for its rows; cancelling the awaiting task drops the job if not started."""
        loop = asyncio.get_running_loop()
        job.loop, job.future = loop, loop.create_future()
        job.enqueued = time.monotonic()
        job.results = [None] * len(job.ids)
        job.remaining = len(job.ids)
        with self._cond:
            if self._stopped:
                raise JobDropped("shutdown", "the server is shutting down")
            self._incoming.append(job)
            self._queued_rows += len(job.ids)
            self.metrics.queue_size.set(self._queued_rows)
            self._cond.notify()
        try:
            return await job.future
        except asyncio.CancelledError:
            job.cancelled = True
            raise

    # -- inference workers ---------------------------------------------------------------------------
    def _next_batch(self) -> Batch | None:
        """The next batch: one from each unfinished plan in turn (see the module docstring)."""
        with self._cond:
            while True:
                if self._incoming and not self._stopped:
                    jobs, self._incoming = self._incoming, []
                    self._queued_rows -= sum(len(j.ids) for j in jobs)
                    self.metrics.queue_size.set(self._queued_rows)
                    self._add_plan(jobs)
                while self._plans and not self._plans[0]:
                    self._plans.popleft()
                if self._plans:
                    plan = self._plans.popleft()
                    batch = plan.popleft()
                    if plan:
                        self._plans.append(plan)
                    return batch
                if self._stopped:
                    return None
                self._cond.wait()

    def _add_plan(self, jobs: list[Job]) -> None:
        """Plan ``jobs`` into the newest plan while it is small, else into a plan of their own."""
        newest = self._newest
        if newest is not None and any(plan is newest for plan in self._plans) and self._small(newest):
            carried = [row for _, items in newest for row in items]
            newest.clear()
            newest.extend(self._plan(jobs, carried))
            return
        plan = deque(self._plan(jobs))
        if plan:
            self._plans.append(plan)
            self._newest = plan

    def _small(self, plan: deque[Batch]) -> bool:
        """Whether new rows may join ``plan``: few rows, and about one slice of work per worker."""
        rows = sum(len(items) for _, items in plan)
        if rows > self.replan_rows:
            return False
        if not self.batch_time_slice_s or not self.seconds_per_token:
            return True
        tokens = sum(len(items) * max(len(job.ids[i]) for job, i in items) for _, items in plan)
        return tokens * self.seconds_per_token <= self.batch_time_slice_s * self.workers

    def _plan(self, jobs: list[Job], carried: list[tuple[Job, int]] | None = None) -> list[Batch]:
        """Batches of the new jobs' rows and the ``carried`` rows of unstarted batches, oldest first."""
        now = time.monotonic()
        live = [j for j in jobs if self._alive(j, now)]
        carried = carried or []
        budget = self.batch_token_budget()
        batches = []
        for kind in (POOLED, TOKENS):
            rows = [row for row in carried if row[0].kind == kind]
            rows += [(job, i) for job in live if job.kind == kind for i in range(len(job.ids))]
            if not rows:
                continue
            lengths = [len(job.ids[i]) for job, i in rows]
            for batch in plan_min_padding(lengths, self.max_batch_requests, budget, self.batch_overhead):
                batches.append((kind, [rows[b] for b in batch]))
        self._spread(batches)
        batches.sort(key=lambda batch: min(job.enqueued for job, _ in batch[1]))
        return batches

    def _spread(self, batches: list[Batch]) -> None:
        """Split the largest batches until every worker has one (when there are rows enough).

        With few rows queued (light load, the end of a burst) one batch would keep one worker busy
        while the others idle; halves of a length-sorted batch pad no more than the whole did. A
        batch's kind is its jobs' kind, so the halves keep it.
        """
        split = split_batches([items for _, items in batches], self.workers)
        batches[:] = [(items[0][0].kind, items) for items in split]

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
        with self._results_lock:
            if job.failed:
                return
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

    def _run(self, worker: str) -> None:
        forwards = {POOLED: self._forward_pooled, TOKENS: self._forward_tokens}
        batches = self.metrics.worker_batches.labels(worker=worker)
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            kind, items = batch
            now = time.monotonic()
            items = [item for item in items if self._alive(item[0], now)]
            try:
                if items:
                    self._run_batch(items, forwards[kind])
                    batches.inc()
            except Exception:  # pragma: no cover - _run_batch reports per batch; keep the worker alive
                logger.exception("inference batch failed")
            self._maybe_trim()

    def _observe_rate(self, elapsed: float, padded_tokens: int) -> None:
        """Fold one batch's seconds per padded token into the moving average the time slices use."""
        if padded_tokens < MIN_SLICE_TOKENS:  # tiny batches are dominated by fixed per-call costs
            return
        rate = elapsed / padded_tokens
        with self._cond:
            old = self.seconds_per_token
            self.seconds_per_token = rate if old is None else old + RATE_SMOOTHING * (rate - old)

    def _maybe_trim(self) -> None:
        """When idle, hand freed heap pages back so RSS stays flat."""
        with self._cond:
            idle = not self._plans and not self._incoming
            due = time.monotonic() - self._last_trim > TRIM_INTERVAL_S
            if idle and due:
                self._last_trim = time.monotonic()
        if idle and due:
            trim()

    def _forward_pooled(self, items: list[tuple[Job, int]]) -> list[Any]:
        out = self.engine.forward_pooled([j.ids[i] for j, i in items], [j.skips[i] for j, i in items])
        return list(out)

    def _forward_tokens(self, items: list[tuple[Job, int]]) -> list[Any]:
        return self.engine.forward_tokens([j.ids[i] for j, i in items])

    def _run_batch(self, items: list[tuple[Job, int]], forward: Callable[[list[tuple[Job, int]]], list[Any]]) -> None:
        start = time.monotonic()
        with self._results_lock:
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
        self._observe_rate(elapsed, len(items) * longest)
        self.metrics.batch_size.observe(len(items))
        self.metrics.batch_tokens.observe(len(items) * longest)
        self.metrics.inference_duration.observe(elapsed)
        finished: list[Job] = []
        with self._results_lock:
            seen: set[int] = set()
            for (job, i), out in zip(items, outputs, strict=True):
                if id(job) not in seen:
                    job.inference_s += elapsed
                    seen.add(id(job))
                job.results[i] = out
                job.remaining -= 1
                if job.remaining == 0 and not job.failed:
                    finished.append(job)
        for job in finished:
            self._resolve(job, None)
