"""The server process: gRPC (both APIs, health, reflection), HTTP (OpenAI and TEI REST on the same
request path), metrics, model loading, shutdown.

Start-up order: the ports open first with every service NOT_SERVING (probes answer at once,
RPCs get UNAVAILABLE, HTTP 503), then the model loads and warms up on a worker thread, then health turns
SERVING. On SIGTERM/SIGINT health turns NOT_SERVING, new RPCs and HTTP requests are refused, in-flight ones
get ``grace_period_s`` to finish, the inference thread stops and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from youtu_embedding.serve.config import ServeSettings
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.rpc import Guard
from youtu_embedding.serve.tei_service import SERVICES as TEI_SERVICES
from youtu_embedding.serve.tei_service import TeiServices
from youtu_embedding.serve.youtu_service import SERVICE as YOUTU_SERVICE
from youtu_embedding.serve.youtu_service import EmbeddingService

logger = logging.getLogger("youtu_embedding.serve")
SERVED = (YOUTU_SERVICE, *TEI_SERVICES)


def _read(path: Path | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


class HealthServicer(health.aio.HealthServicer):
    """grpc.health.v1 with ``List`` (every service and its status) besides ``Check`` and ``Watch``."""

    def __init__(self) -> None:
        super().__init__()
        self._statuses: dict[str, Any] = {"": health_pb2.HealthCheckResponse.SERVING}

    async def set(self, service: str, status: Any) -> None:
        self._statuses[service] = status
        await super().set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        for service in self._statuses:
            self._statuses[service] = health_pb2.HealthCheckResponse.NOT_SERVING
        await super().enter_graceful_shutdown()

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=s) for name, s in self._statuses.items()}
        )


def reflection_pool() -> descriptor_pool.DescriptorPool:
    """The descriptors reflection serves: our protos (kept out of protobuf's default pool, see
    ``codegen``) plus health and reflection."""
    from grpc_reflection.v1alpha import reflection_pb2

    from youtu_embedding.serve._generated import embedding_pb2, tei_pb2

    pool = descriptor_pool.DescriptorPool()
    for module in (health_pb2, reflection_pb2, embedding_pb2, tei_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    return pool


def server_credentials(settings: ServeSettings) -> grpc.ServerCredentials | None:
    """TLS credentials from the configured PEM files (client certificates required when a CA is given)."""
    if settings.tls_cert_file is None:
        return None
    key, cert = _read(settings.tls_key_file), _read(settings.tls_cert_file)
    ca = _read(settings.tls_client_ca_file)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


class EmbeddingServer:
    """Owns the grpc.aio server, the health servicer, the metrics server, and the model pipeline."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.metrics = ServeMetrics()
        self.guard = Guard(
            self.metrics,
            api_key=settings.resolved_api_key(),
            max_concurrent_requests=settings.max_concurrent_requests,
            max_message_bytes=settings.max_message_bytes,
        )
        self.youtu = EmbeddingService(settings, self.guard)
        self.tei = TeiServices(settings, self.guard)
        self.health = HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port: int | None = None
        self.http: Any = None  # the HTTP front door (youtu_embedding.serve.http.server.HttpServer)
        self.http_port: int | None = None
        self.scheduler: Any = None
        self.pipeline: Any = None
        self._metrics_server: Any = None

    async def start(self) -> int:
        """Open the port (NOT_SERVING) and the metrics endpoint; returns the bound gRPC port."""
        s = self.settings
        options = [
            ("grpc.max_receive_message_length", s.max_message_bytes),
            ("grpc.max_send_message_length", s.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.aio.server(options=options, maximum_concurrent_rpcs=None)
        server.add_generic_rpc_handlers([self.youtu.handler(), *self.tei.handlers()])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        for name in ("", *SERVED):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        reflection.enable_server_reflection(
            (*SERVED, "tei.v1.Predict", "tei.v1.Rerank", health.SERVICE_NAME, reflection.SERVICE_NAME),
            server,
            pool=reflection_pool(),
        )
        address = f"{s.host}:{s.port}"
        creds = server_credentials(s)
        self.port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
        await server.start()
        self.server = server
        if s.http_port:
            from youtu_embedding.serve.http.server import HttpServer

            self.http = HttpServer(s, self.guard, self.metrics, self.youtu, self.tei)
            self.http_port = await self.http.start()
        if s.metrics_port is not None:
            from prometheus_client import start_http_server

            self._metrics_server = start_http_server(
                s.metrics_port, addr=s.metrics_host or s.host, registry=self.metrics.registry
            )
        logger.info(
            "listening",
            extra={
                "address": f"{s.host}:{self.port}",
                "http_port": self.http_port,
                "tls": creds is not None,
                "metrics_port": s.metrics_port,
            },
        )
        return self.port

    def _load(self) -> None:
        """Load the model, start the inference thread, warm up (runs on a worker thread)."""
        import torch

        from youtu_embedding.serve.engine import Engine
        from youtu_embedding.serve.pipeline import Pipeline
        from youtu_embedding.serve.scheduler import Scheduler, worker_layout

        s = self.settings
        start = time.perf_counter()
        if s.tune_allocator:
            from youtu_embedding.serve.memory import tune_allocator

            tune_allocator()
        encoder = s.build()  # ServeSettings is an EncoderSpec: every encoder option is a config key
        workers, threads = worker_layout(encoder.device.type, s.inference_workers, s.num_threads)
        if threads is not None:
            torch.set_num_threads(threads)
        engine = Engine(encoder, max_input_length=s.max_input_length, max_document_tokens=s.max_document_tokens)
        seconds_per_token = None
        if s.warmup:
            seconds_per_token = engine.warmup(
                max_batch_tokens=s.max_batch_tokens, max_batch_requests=s.max_batch_requests
            )
        self.scheduler = Scheduler(
            engine,
            self.metrics,
            max_batch_tokens=s.max_batch_tokens,
            max_batch_requests=s.max_batch_requests,
            batch_overhead_tokens=s.batch_overhead_tokens,
            workers=workers,
            batch_time_slice_s=s.batch_time_slice_s,
            seconds_per_token=seconds_per_token,
        )
        self.scheduler.start()
        self.pipeline = Pipeline(
            engine,
            self.scheduler,
            tokenization_workers=s.resolved_tokenization_workers(),
            max_backlog_chars=s.max_tokenization_backlog,
        )
        logger.info(
            "model ready",
            extra={
                "model": encoder.loaded.model_id,
                "dimension": engine.dimension,
                "runtime": encoder.runtime.name,
                "quantization": s.quantization,
                "inference_workers": workers,
                "threads_per_worker": torch.get_num_threads(),
                "tokenization_workers": self.pipeline.tokenizers.workers,
                "load_s": time.perf_counter() - start,
            },
        )

    async def load(self) -> None:
        """Load and warm the model off the event loop, then report SERVING."""
        await asyncio.to_thread(self._load)
        self.youtu.pipeline = self.tei.pipeline = self.pipeline
        self.guard.ready = True
        self.metrics.ready.set(1)
        for name in ("", *SERVED):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, refuse new RPCs, let in-flight ones finish within the grace period."""
        grace = self.settings.grace_period_s if grace is None else grace
        self.guard.shutting_down = True
        self.metrics.ready.set(0)
        await self.health.enter_graceful_shutdown()
        logger.info("shutting down", extra={"grace_period_s": grace, "in_flight": self.guard.in_flight})
        stopping = [self.server.stop(grace)] if self.server is not None else []
        if self.http is not None:
            stopping.append(self.http.stop())
        await asyncio.gather(*stopping)
        if self.scheduler is not None:
            await asyncio.to_thread(self.scheduler.stop, 10.0)
        if self.pipeline is not None:
            self.pipeline.close()
        if self._metrics_server is not None:
            self._metrics_server[0].shutdown()
        logger.info("stopped")


async def serve(settings: ServeSettings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code (0 on a graceful stop)."""
    server = EmbeddingServer(settings)
    try:
        await server.start()
    except BaseException:  # e.g. a port in use: close what did open, then report
        await server.stop(0)
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    load = asyncio.ensure_future(server.load())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({load, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if load.done() and load.exception() is not None:
        logger.error("model failed to load", exc_info=load.exception())
        await server.stop(0)
        raise load.exception()  # type: ignore[misc]
    await stopper
    await server.stop()
    return 0


def run(settings: ServeSettings) -> int:
    """Blocking entry point of ``youtu-embed serve``."""
    return asyncio.run(serve(settings))
