"""Plumbing shared by both APIs: method handlers built from service descriptors, authentication,
admission control, error mapping to gRPC status codes, metrics, and ordered bidirectional streams.

Every RPC of our services goes through :class:`Guard`; health and reflection are registered
separately and stay open. Unary methods are served as client-streaming handlers (the same bytes on
the wire): gRPC refuses a message over ``max_message_bytes`` before a unary handler would run, so
that refusal could not be counted; a client-streaming handler runs and sees no message.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.pipeline import Backlog, Overloaded, stream_reservation
from youtu_embedding.serve.scheduler import BackendError, JobDropped

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An RPC outcome other than OK: a gRPC status code and a message naming the field at fault."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Malformed:
    """Stands in for a request message whose bytes could not be parsed."""

    type_name: str
    error: str


def _safe_deserializer(cls: Any) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except (DecodeError, ValueError, TypeError) as exc:
            return Malformed(cls.DESCRIPTOR.full_name, str(exc) or type(exc).__name__)

    return deserialize


def check_message(message: Any) -> Any:
    """Raise INVALID_ARGUMENT for a request that was not a valid protobuf message."""
    if isinstance(message, Malformed):
        raise ServiceError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"request: malformed bytes, not a valid {message.type_name} message ({message.error})",
        )
    return message


def to_service_error(exc: BaseException) -> ServiceError | None:
    """Map an exception to a status (None: not ours to map)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, InvalidArgumentError):
        return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, Overloaded):
        return ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    if isinstance(exc, JobDropped):
        code = {
            "deadline_exceeded": grpc.StatusCode.DEADLINE_EXCEEDED,
            "cancelled": grpc.StatusCode.CANCELLED,
        }.get(exc.reason, grpc.StatusCode.UNAVAILABLE)
        return ServiceError(code, str(exc))
    if isinstance(exc, BackendError):
        return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, f"backend failure: {exc}")
    return None


class Guard:
    """Authentication, readiness, admission control, error mapping and metrics around each RPC."""

    def __init__(
        self,
        metrics: ServeMetrics,
        *,
        api_key: str | None,
        max_concurrent_requests: int,
        max_message_bytes: int | None = None,
    ) -> None:
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes
        self._expected = f"Bearer {api_key}".encode() if api_key else None
        self.max_concurrent_requests = max_concurrent_requests
        self.in_flight = 0
        self.ready = False
        self.shutting_down = False

    # -- checks ---------------------------------------------------------------------------------
    def check_auth(self, context: grpc.aio.ServicerContext) -> None:
        if self._expected is None:
            return
        values = [v for k, v in (context.invocation_metadata() or ()) if k == "authorization"]
        self.check_authorization(values[0] if values else None, "metadata")

    def check_authorization(self, value: str | bytes | None, carrier: str = "metadata") -> None:
        """Check one ``authorization`` value (gRPC metadata or an HTTP header) against the API key."""
        if self._expected is None:
            return
        if value is None:
            raise ServiceError(
                grpc.StatusCode.UNAUTHENTICATED,
                f"authorization: missing; send 'authorization: Bearer <api key>' {carrier}",
            )
        value = value.encode() if isinstance(value, str) else value
        if not hmac.compare_digest(value, self._expected):
            raise ServiceError(grpc.StatusCode.UNAUTHENTICATED, "authorization: invalid API key")

    def check_ready(self) -> None:
        if self.shutting_down:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "server: shutting down")
        if not self.ready:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "model: not ready yet (loading or warming up); retry later")

    @contextmanager
    def admit(self) -> Any:
        """Count one RPC in flight (a stream counts once); beyond ``max_concurrent_requests``:
        RESOURCE_EXHAUSTED at once."""
        if self.in_flight >= self.max_concurrent_requests:
            raise ServiceError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"max_concurrent_requests: {self.max_concurrent_requests} requests already in flight; retry later",
            )
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.set(self.in_flight)

    # -- wrappers -------------------------------------------------------------------------------
    def _fail(self, api: str, method: str, exc: BaseException) -> ServiceError:
        error = to_service_error(exc)
        if error is None:
            logger.exception("unexpected error in %s/%s", api, method, exc_info=exc)
            error = ServiceError(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        self.metrics.failures.labels(api=api, method=method, reason=error.code.name.lower()).inc()
        level = logging.WARNING if error.code == grpc.StatusCode.INTERNAL else logging.DEBUG
        logger.log(
            level, "rpc failed", extra={"api": api, "method": method, "code": error.code.name, "detail": error.message}
        )
        return error

    def unary(
        self, api: str, method: str, fn: Callable[[Any, Any], Awaitable[Any]], *, admit: bool, need_ready: bool = True
    ) -> Callable[[AsyncIterator[Any], grpc.aio.ServicerContext], Awaitable[Any]]:
        """A unary method's handler, in client-streaming form (see the module docstring)."""

        async def handler(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            self.metrics.requests.labels(api=api, method=method).inc()
            try:
                request = await self._one_message(requests, context)
                self.check_auth(context)
                check_message(request)
                if need_ready:
                    self.check_ready()
                if admit:
                    with self.admit():
                        response = await fn(request, context)
                else:
                    response = await fn(request, context)
            except asyncio.CancelledError:
                self.metrics.failures.labels(api=api, method=method, reason="cancelled").inc()
                raise
            except Exception as exc:  # mapped to a status below
                error = self._fail(api, method, exc)
                await context.abort(error.code, error.message)
            self.metrics.request_duration.labels(api=api, method=method).observe(time.perf_counter() - start)
            return response

        return handler

    async def _one_message(self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
        """The single request message of a unary call."""
        request: Any = None
        async for message in requests:
            if request is not None:
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, "request: a unary method takes one message")
            request = message
        if request is None:
            if context.cancelled():
                raise asyncio.CancelledError()
            # gRPC refused the message as too large (its status has reached the client already).
            raise ServiceError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"request: no message received; messages over max_message_bytes={self.max_message_bytes} are refused",
            )
        return request

    def stream(
        self, api: str, method: str, fn: Callable[[AsyncIterator[Any], Any], AsyncIterator[Any]]
    ) -> Callable[[AsyncIterator[Any], grpc.aio.ServicerContext], AsyncIterator[Any]]:
        async def handler(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            self.metrics.requests.labels(api=api, method=method).inc()
            try:
                self.check_auth(context)
                self.check_ready()
                with self.admit():
                    async for response in fn(requests, context):
                        yield response
            except asyncio.CancelledError:
                self.metrics.failures.labels(api=api, method=method, reason="cancelled").inc()
                raise
            except Exception as exc:
                error = self._fail(api, method, exc)
                await context.abort(error.code, error.message)
            self.metrics.request_duration.labels(api=api, method=method).observe(time.perf_counter() - start)

        return handler

    def stream_unary(
        self, api: str, method: str, fn: Callable[[AsyncIterator[Any], Any], Awaitable[Any]]
    ) -> Callable[[AsyncIterator[Any], grpc.aio.ServicerContext], Awaitable[Any]]:
        async def handler(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            self.metrics.requests.labels(api=api, method=method).inc()
            try:
                self.check_auth(context)
                self.check_ready()
                return await fn(requests, context)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = self._fail(api, method, exc)
                await context.abort(error.code, error.message)

        return handler

    async def ordered(
        self,
        requests: AsyncIterator[Any],
        process: Callable[[Any], Awaitable[Any]],
        window: int,
        *,
        backlog: Backlog | None = None,
        chars: Callable[[Any], int] | None = None,
    ) -> AsyncIterator[Any]:
        """Process stream messages concurrently, answer in order.

        The stream was admitted as one RPC; its messages are not refused for load, they are read
        more slowly: reading pauses while ``window`` messages are unanswered, and while the next
        message's ``chars(message)`` characters do not fit in the tokenisation ``backlog``.
        Closing or cancelling the stream cancels the outstanding work (queued jobs are then
        dropped before inference).
        """
        pending: asyncio.Queue[asyncio.Task[Any] | None] = asyncio.Queue(maxsize=window)

        async def one(message: Any) -> Any:
            try:
                check_message(message)
                return await process(message)
            finally:
                reservation = stream_reservation.get()
                if reservation is not None:
                    reservation.release()

        async def reader() -> None:
            try:
                async for message in requests:
                    reservation = None
                    if backlog is not None and chars is not None and not isinstance(message, Malformed):
                        reservation = await backlog.wait(chars(message))
                    token = stream_reservation.set(reservation)
                    try:
                        task = asyncio.ensure_future(one(message))  # the task copies the reservation
                    finally:
                        stream_reservation.reset(token)
                    await pending.put(task)
            finally:
                await pending.put(None)

        read_task = asyncio.ensure_future(reader())
        try:
            while True:
                task = await pending.get()
                if task is None:
                    break
                yield await task
            await read_task
        finally:
            read_task.cancel()
            while not pending.empty():
                task = pending.get_nowait()
                if task is not None:
                    task.cancel()


def generic_handler(
    service_full_name: str,
    pb2: ModuleType,
    methods: dict[str, Callable[..., Any]],
) -> grpc.GenericRpcHandler:
    """A generic handler for one service: request bytes that do not parse reach the handler as ``Malformed``."""
    service = pb2.DESCRIPTOR.services_by_name[service_full_name.rsplit(".", 1)[1]]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        fn = methods[method.name]
        request_cls = getattr(pb2, method.input_type.name)
        response_cls = getattr(pb2, method.output_type.name)
        kwargs = {
            "request_deserializer": _safe_deserializer(request_cls),
            "response_serializer": response_cls.SerializeToString,
        }
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(fn, **kwargs)
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(fn, **kwargs)
        else:  # unary methods too (Guard.unary handlers take the request stream)
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(fn, **kwargs)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def unimplemented(message: str) -> Callable[..., Any]:
    """A handler that answers UNIMPLEMENTED with ``message`` (any RPC kind)."""

    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    return handler
