"""The HTTP side of the shared request path: every route runs through :func:`endpoint`.

Order as for an RPC (see :class:`youtu_embedding.serve.rpc.Guard`): API key, body (bounded by
``max_message_bytes``, parsed and validated by pydantic), readiness, admission
(``max_concurrent_requests``), then the handler, which calls the same service code as gRPC. A
client that disconnects before its answer cancels the handler, so its queued rows are dropped
before inference, as a cancelled RPC's are. Metrics and logs are the gRPC ones, with ``api``
``openai`` or ``tei_http``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from youtu_embedding.serve.http.errors import CANCELLED, SCHEMA, TOO_LARGE, HttpError, from_service_error
from youtu_embedding.serve.rpc import Guard

logger = logging.getLogger("youtu_embedding.serve.http")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class Body(BaseModel):
    """A request body: strict JSON types, unknown fields ignored (as OpenAI and TEI do)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    # field -> what it accepts, for the message when a value matches none of a union's shapes
    shapes: ClassVar[dict[str, str]] = {}


class CallContext:
    """Stands in for the gRPC servicer context on the shared request path: HTTP requests carry no deadline."""

    def time_remaining(self) -> float | None:
        return None

    def invocation_metadata(self) -> tuple[()]:
        return ()


CONTEXT = CallContext()


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON via orjson (numpy arrays serialised natively)."""
    return Response(
        orjson.dumps(content, option=_NUMPY), status_code=status, media_type="application/json", headers=headers
    )


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def schema_error(exc: ValidationError, body_cls: type[Body], renames: dict[str, str]) -> HttpError:
    """The first validation error as ``field: message`` (the route's field names)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    if err["type"] == "json_invalid" or not loc:
        return HttpError(SCHEMA, f"request: the body is not valid JSON ({err['msg']})", None)
    top = str(loc[0])
    name = renames.get(top, top)
    where = _where((name, *loc[1:]))
    if err["type"] == "missing":
        return HttpError(SCHEMA, f"{where}: is required", where)
    if top in body_cls.shapes:
        return HttpError(SCHEMA, f"{name}: must be {body_cls.shapes[top]}", name)
    return HttpError(SCHEMA, f"{where}: {err['msg'][:1].lower()}{err['msg'][1:]}", where)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(TOO_LARGE, f"request: body of {declared} bytes, more than max_message_bytes={limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(TOO_LARGE, f"request: body over max_message_bytes={limit}")
        chunks.append(chunk)
    return b"".join(chunks)


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


@dataclass
class Endpoint:
    """One route's place on the request path."""

    api: str  # metric label: openai / tei_http
    method: str  # metric label: the route's name
    handler: Callable[..., Awaitable[Any]]  # (body) or () -> JSON-able content or a Response
    render: Callable[[HttpError], Response]  # the API's error shape
    body: type[Body] | None = None
    renames: dict[str, str] | None = None  # gRPC field name -> the route's, in messages from the shared path
    auth: bool = True
    ready: bool = True
    admit: bool = True
    path_params: bool = False  # the handler takes the route's path parameters as keyword arguments


def endpoint(guard: Guard, max_body_bytes: int, spec: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette route function running ``spec`` through auth, limits, readiness and admission."""
    metrics = guard.metrics
    renames = spec.renames or {}
    requests = metrics.requests.labels(api=spec.api, method=spec.method)
    duration = metrics.request_duration.labels(api=spec.api, method=spec.method)

    async def route(request: Request) -> Response:
        async def run(body: Any) -> Any:
            kwargs = request.path_params if spec.path_params else {}
            return await (spec.handler(body, **kwargs) if spec.body is not None else spec.handler(**kwargs))

        start = time.perf_counter()
        requests.inc()
        try:
            if spec.auth:
                guard.check_authorization(request.headers.get("authorization"), "header")
            body = None
            if spec.body is not None:
                raw = await read_body(request, max_body_bytes)
                try:
                    body = spec.body.model_validate_json(raw)
                except ValidationError as exc:
                    raise schema_error(exc, spec.body, renames) from None
            if spec.ready:
                guard.check_ready()
            if spec.admit:
                with guard.admit():
                    content = await _unless_gone(request, run(body))
            else:
                content = await run(body)
        except HttpError as error:
            metrics.failures.labels(api=spec.api, method=spec.method, reason=error.reason).inc()
            logger.debug(
                "request failed",
                extra={"api": spec.api, "method": spec.method, "code": error.kind, "detail": error.message},
            )
            return spec.render(error)
        except Exception as exc:  # the shared path's errors, mapped as for gRPC
            failed = guard._fail(spec.api, spec.method, exc)
            return spec.render(from_service_error(failed.code, failed.message, renames))
        duration.observe(time.perf_counter() - start)
        return content if isinstance(content, Response) else json_response(content)

    return route


async def _unless_gone(request: Request, work: Awaitable[Any]) -> Any:
    """Await ``work``; if the client disconnects first, cancel it (queued rows are dropped) and refuse."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_until_disconnect(request))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise HttpError(CANCELLED, "request: the client disconnected before the answer")
