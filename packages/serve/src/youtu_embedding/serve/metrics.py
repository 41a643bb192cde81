"""Prometheus metrics of the service, on their own registry (served on a separate port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKEN_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class ServeMetrics:
    """Every metric the server exports (names prefixed ``youtu_serve_``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "youtu_serve_requests", "RPCs received, by API and method.", ["api", "method"], registry=r
        )
        self.failures = Counter(
            "youtu_serve_request_failures",
            "RPCs that ended in an error, by API, method and reason (the gRPC status, lower case).",
            ["api", "method", "reason"],
            registry=r,
        )
        self.in_flight = Gauge("youtu_serve_requests_in_flight", "Admitted requests not finished yet.", registry=r)
        self.queue_size = Gauge("youtu_serve_queue_size", "Input rows waiting for the inference thread.", registry=r)
        self.dropped = Counter(
            "youtu_serve_dropped_jobs", "Requests dropped before inference, by reason.", ["reason"], registry=r
        )
        self.batch_size = Histogram(
            "youtu_serve_batch_size", "Rows per inference batch.", buckets=_SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "youtu_serve_batch_tokens", "Padded tokens per inference batch.", buckets=_TOKEN_BUCKETS, registry=r
        )
        self.queue_duration = Histogram(
            "youtu_serve_queue_duration_seconds",
            "Time from queueing to the first batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_duration = Histogram(
            "youtu_serve_inference_duration_seconds", "Forward time per batch.", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.request_duration = Histogram(
            "youtu_serve_request_duration_seconds",
            "Total time per RPC, by API and method.",
            ["api", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_workers = Gauge(
            "youtu_serve_inference_workers", "Inference workers running batches in parallel.", registry=r
        )
        self.worker_batches = Counter(
            "youtu_serve_worker_batches", "Inference batches run, by worker.", ["worker"], registry=r
        )
        self.ready = Gauge("youtu_serve_ready", "1 once the model is loaded and warm.", registry=r)
