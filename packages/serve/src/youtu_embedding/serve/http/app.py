"""The Starlette application: every OpenAI and TEI route on the shared request path."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from youtu_embedding.serve.config import ServeSettings
from youtu_embedding.serve.http.endpoint import endpoint
from youtu_embedding.serve.http.errors import METHOD, NOT_FOUND, HttpError, openai_error, tei_error
from youtu_embedding.serve.http.openai_api import OpenAIRoutes
from youtu_embedding.serve.http.tei_api import TeiRoutes
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.rpc import Guard
from youtu_embedding.serve.tei_service import TeiServices
from youtu_embedding.serve.youtu_service import EmbeddingService


def served_names(settings: ServeSettings) -> list[str]:
    """Model names a request may give: ``served_model_name`` (listed first), else ``model`` as configured."""
    names = [settings.served_model_name] if settings.served_model_name else []
    return [*names, str(settings.model)]


def build_app(
    settings: ServeSettings, guard: Guard, metrics: ServeMetrics, youtu: EmbeddingService, tei: TeiServices
) -> Starlette:
    names = served_names(settings)
    openai = OpenAIRoutes(youtu, names, settings.max_client_batch_size)
    tei_routes = TeiRoutes(youtu, tei, guard, metrics, names[0], settings.max_client_batch_size)
    o, t = openai.endpoints(), tei_routes.endpoints()
    limit = settings.max_message_bytes

    def route(path: str, spec_name: str, methods: list[str], specs: dict) -> Route:  # type: ignore[type-arg]
        return Route(path, endpoint(guard, limit, specs[spec_name]), methods=methods, name=f"{path}:{spec_name}")

    routes = [
        route("/v1/embeddings", "embeddings", ["POST"], o),
        route("/embeddings", "embeddings", ["POST"], o),
        route("/v1/models", "models", ["GET"], o),
        route("/v1/models/{model:path}", "model", ["GET"], o),
        route("/embed", "embed", ["POST"], t),
        route("/", "embed", ["POST"], t),  # TEI routes POST / to embed for embedding models
        route("/embed_all", "embed_all", ["POST"], t),
        route("/tokenize", "tokenize", ["POST"], t),
        route("/decode", "decode", ["POST"], t),
        route("/info", "info", ["GET"], t),
        route("/health", "health", ["GET"], t),
        route("/", "health", ["GET"], t),
        route("/metrics", "metrics", ["GET"], t),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if exc.status_code == 405:
            error = HttpError(METHOD, f"request: {request.method} is not allowed on {path}")
        else:
            error = HttpError(NOT_FOUND, f"request: no route {request.method} {path}")
        return openai_error(error) if path.startswith("/v1/") else tei_error(error)

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
