"""The HTTP front door: uvicorn serving the Starlette app on the gRPC server's event loop.

uvicorn runs through its public ``startup`` / ``main_loop`` / ``shutdown`` steps instead of
``serve()``, so that it installs no signal handlers of its own: the process's SIGTERM handling
(``youtu_embedding.serve.server``) stops gRPC and HTTP together.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import ssl

import uvicorn

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve.config import ServeSettings
from youtu_embedding.serve.http.app import build_app
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.rpc import Guard
from youtu_embedding.serve.tei_service import TeiServices
from youtu_embedding.serve.youtu_service import EmbeddingService


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn + the app, started and stopped by :class:`EmbeddingServer`."""

    def __init__(
        self,
        settings: ServeSettings,
        guard: Guard,
        metrics: ServeMetrics,
        youtu: EmbeddingService,
        tei: TeiServices,
    ) -> None:
        self.settings = settings
        self.app = build_app(settings, guard, metrics, youtu, tei)
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._main: asyncio.Future[None] | None = None

    def _config(self) -> uvicorn.Config:
        s = self.settings
        tls: dict[str, object] = {}
        if s.tls_cert_file is not None:
            tls = {"ssl_certfile": str(s.tls_cert_file), "ssl_keyfile": str(s.tls_key_file)}
            if s.tls_client_ca_file is not None:
                tls.update({"ssl_ca_certs": str(s.tls_client_ca_file), "ssl_cert_reqs": ssl.CERT_REQUIRED})
        return uvicorn.Config(
            self.app,
            http="httptools" if importlib.util.find_spec("httptools") else "h11",
            lifespan="off",
            log_config=None,  # our logging configuration stays
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=int(max(1, s.grace_period_s)),
            **tls,  # type: ignore[arg-type]
        )

    async def start(self) -> int:
        """Bind ``http_port`` and start accepting; returns the bound port."""
        config = self._config()
        config.load()
        try:
            self._socket = _bind(self.settings.host, self.settings.http_port)
        except OSError as exc:
            raise InvalidArgumentError(
                "http_port",
                f"cannot listen on {self.settings.host}:{self.settings.http_port} ({exc.strerror or exc}); "
                "choose another port, or 0 for no HTTP server",
            ) from None
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[self._socket])
        self._server = server
        self._main = asyncio.ensure_future(server.main_loop())
        self.port = int(self._socket.getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the grace period), close connections."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._main is not None:
            await self._main
        await self._server.shutdown(sockets=[self._socket] if self._socket is not None else None)
        if self._socket is not None:
            self._socket.close()
