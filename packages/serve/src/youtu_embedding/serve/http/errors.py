"""HTTP refusals: one error kind per outcome, rendered as OpenAI's or TEI's error body and status.

A handler raises :class:`HttpError` (or lets the shared request path raise a ``ServiceError`` /
``InvalidArgumentError``, mapped by :func:`from_service_error`); each API renders it in its own shape:

* OpenAI: ``{"error": {"message", "type", "param", "code"}}``;
* TEI: ``{"error", "error_type"}`` with TEI's ``ErrorType`` names (``Validation``, ``Empty``,
  ``Overloaded``, ``Backend``, ``Unhealthy``) and status codes (413, 422, 424, 429, 503).
"""

from __future__ import annotations

from typing import Any

import grpc
import orjson
from starlette.responses import Response

# Error kinds, and the gRPC status the same outcome gets on the gRPC front door.
INVALID = "invalid"  # a value the request path rejects (INVALID_ARGUMENT)
SCHEMA = "schema"  # a body that is not JSON of the route's schema
EMPTY = "empty"  # an empty batch
TOO_LARGE = "too_large"  # more inputs than max_client_batch_size, or a body over max_message_bytes
UNAUTHENTICATED = "unauthenticated"
NOT_FOUND = "not_found"  # unknown model or route
METHOD = "method"  # a route called with the wrong HTTP method
OVERLOADED = "overloaded"  # max_concurrent_requests
UNAVAILABLE = "unavailable"  # loading, warming up, shutting down
BACKEND = "backend"  # the model failed on a batch
TIMEOUT = "timeout"  # dropped in the queue past its deadline
CANCELLED = "cancelled"
UNIMPLEMENTED = "unimplemented"
INTERNAL = "internal"

_FROM_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: INVALID,
    grpc.StatusCode.UNAUTHENTICATED: UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: OVERLOADED,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.FAILED_PRECONDITION: BACKEND,
    grpc.StatusCode.DEADLINE_EXCEEDED: TIMEOUT,
    grpc.StatusCode.CANCELLED: CANCELLED,
    grpc.StatusCode.UNIMPLEMENTED: UNIMPLEMENTED,
}

# The metric label (youtu_serve_request_failures_total{reason}) of each kind: the gRPC names, lower case.
REASONS = {
    INVALID: "invalid_argument",
    SCHEMA: "invalid_argument",
    EMPTY: "invalid_argument",
    TOO_LARGE: "resource_exhausted",
    UNAUTHENTICATED: "unauthenticated",
    NOT_FOUND: "not_found",
    METHOD: "unimplemented",
    OVERLOADED: "resource_exhausted",
    UNAVAILABLE: "unavailable",
    BACKEND: "failed_precondition",
    TIMEOUT: "deadline_exceeded",
    CANCELLED: "cancelled",
    UNIMPLEMENTED: "unimplemented",
    INTERNAL: "internal",
}

# kind -> (status, type, code) of OpenAI's error object
_OPENAI = {
    INVALID: (400, "invalid_request_error", None),
    SCHEMA: (422, "invalid_request_error", None),
    EMPTY: (400, "invalid_request_error", None),
    TOO_LARGE: (413, "invalid_request_error", "request_too_large"),
    UNAUTHENTICATED: (401, "invalid_request_error", "invalid_api_key"),
    NOT_FOUND: (404, "invalid_request_error", "not_found"),
    METHOD: (405, "invalid_request_error", "method_not_allowed"),
    OVERLOADED: (429, "rate_limit_error", "rate_limit_exceeded"),
    UNAVAILABLE: (503, "server_error", "service_unavailable"),
    BACKEND: (500, "server_error", "backend_error"),
    TIMEOUT: (504, "server_error", "timeout"),
    CANCELLED: (499, "invalid_request_error", "cancelled"),
    UNIMPLEMENTED: (501, "invalid_request_error", "not_implemented"),
    INTERNAL: (500, "server_error", None),
}

# kind -> (status, error_type) of TEI's ErrorResponse. TEI answers 401 and 404 with no body; we add one
# (error_type "Unauthorized" / "NotFound") so that the refusal says why.
_TEI = {
    INVALID: (422, "Validation"),
    SCHEMA: (422, "Validation"),
    EMPTY: (400, "Empty"),
    TOO_LARGE: (413, "Validation"),
    UNAUTHENTICATED: (401, "Unauthorized"),
    NOT_FOUND: (404, "NotFound"),
    METHOD: (405, "NotFound"),
    OVERLOADED: (429, "Overloaded"),
    UNAVAILABLE: (503, "Unhealthy"),
    BACKEND: (424, "Backend"),
    TIMEOUT: (504, "Backend"),
    CANCELLED: (499, "Backend"),
    UNIMPLEMENTED: (501, "Backend"),
    INTERNAL: (500, "Backend"),
}


class HttpError(Exception):
    """A refusal: its kind, a message that starts with the field or limit at fault, and that field."""

    def __init__(self, kind: str, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code

    @property
    def reason(self) -> str:
        return REASONS[self.kind]


def from_service_error(code: grpc.StatusCode, message: str, renames: dict[str, str] | None = None) -> HttpError:
    """The HTTP refusal for a status of the shared request path; ``renames`` maps gRPC field names to the route's."""
    param = message.split(":", 1)[0] if ":" in message else None
    if param is not None and (" " in param or param in ("server", "model", "request", "internal error")):
        param = None
    if param is not None and renames:
        for old, new in renames.items():
            if param == old or param.startswith((old + "[", old + "/")):
                renamed = new + param[len(old) :]
                message = renamed + message[len(param) :]
                param = renamed
                break
    kind = _FROM_GRPC.get(code, INTERNAL)
    return HttpError(kind, message, param if kind == INVALID else None)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _auth_headers(error: HttpError) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if error.kind == UNAUTHENTICATED else None


def openai_error(error: HttpError) -> Response:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    status, kind, code = _OPENAI[error.kind]
    body = {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code or code}}
    return _json(status, body, _auth_headers(error))


def tei_error(error: HttpError) -> Response:
    """TEI's error body: ``{"error", "error_type"}``."""
    status, error_type = _TEI[error.kind]
    return _json(status, {"error": error.message, "error_type": error_type}, _auth_headers(error))
