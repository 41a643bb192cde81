"""Python clients of ``youtu.embedding.v1`` (sync :class:`EmbeddingClient`, asyncio :class:`AsyncEmbeddingClient`).

Calls are retried on ``UNAVAILABLE`` (and on ``CANCELLED`` from a server that shuts down) by gRPC's
own retry machinery (a service-config retry policy: exponential backoff, ``retries`` attempts);
embeddings come back as float32 numpy arrays.

    with EmbeddingClient("127.0.0.1:50051", api_key="...") as client:
        vectors = client.embed(["a cat", "a dog"], prompt_name="query")

Several replicas: give a target that resolves to several addresses (``dns:///youtu-embed-headless:50051``
for a Kubernetes headless Service, or a static list built by :func:`replicas_target`, e.g.
``ipv4:///10.0.0.1:50051,10.0.0.2:50051``). For such targets the channel balances calls
round-robin over the replicas (gRPC's ``round_robin`` policy), watches each replica's
``grpc.health.v1`` status (a replica that says NOT_SERVING, e.g. draining after SIGTERM, gets no
new calls), and a call refused with ``UNAVAILABLE`` (or cancelled by a replica that shuts down) is
retried, on the next replica.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf.json_format import MessageToDict

from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc

SERVICE = "youtu.embedding.v1.EmbeddingService"
ENCODINGS = {
    "float32_list": pb.ENCODING_FLOAT32_LIST,
    "float32": pb.ENCODING_FLOAT32_BYTES,
    "float16": pb.ENCODING_FLOAT16_BYTES,
    "int8": pb.ENCODING_INT8_BYTES,
    "binary": pb.ENCODING_BINARY_BYTES,
}
_DTYPES = {"float32": "<f4", "float16": "<f2", "int8": "i1", "binary": "i1"}


@dataclass
class TlsConfig:
    """Client TLS: the CA that signed the server (None: system roots) and an optional client certificate."""

    ca_file: str | Path | None = None
    cert_file: str | Path | None = None
    key_file: str | Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(p: str | Path | None) -> bytes | None:
            return Path(p).read_bytes() if p is not None else None

        return grpc.ssl_channel_credentials(read(self.ca_file), read(self.key_file), read(self.cert_file))


LOAD_BALANCING = ("auto", "pick_first", "round_robin")
# UNAVAILABLE: the replica is loading, draining or gone (refused, reset, crashed). CANCELLED: gRPC
# servers cancel calls that arrived but were not yet handed to a handler when they shut down
# (grpc/grpc#41785); a call the client cancels itself is never retried. Every method of the
# service is idempotent, so retrying either is safe.
DEFAULT_RETRY_CODES = ("UNAVAILABLE", "CANCELLED")
HEALTH_SERVICE = SERVICE  # the health service name the server reports for youtu.embedding.v1
_MULTI_ADDRESS_SCHEMES = ("dns:", "ipv4:", "ipv6:")


def resolve_load_balancing(target: str, load_balancing: str = "auto") -> str:
    """The gRPC LB policy for ``target``: ``auto`` is ``round_robin`` for a resolver target, else ``pick_first``.

    A resolver target (``dns:///name:port``, ``ipv4:///a:p,b:q``, ``ipv6:///...``) may stand for
    several replicas; a plain ``host:port`` means one server (gRPC's default, ``pick_first``).
    """
    if load_balancing not in LOAD_BALANCING:
        raise ValueError(f"load_balancing: unknown '{load_balancing}' (allowed: {', '.join(LOAD_BALANCING)})")
    if load_balancing != "auto":
        return load_balancing
    return "round_robin" if target.startswith(_MULTI_ADDRESS_SCHEMES) else "pick_first"


def replicas_target(addresses: Sequence[str]) -> str:
    """A gRPC target naming several replicas by IP address: ``ipv4:///a:p,b:q`` (or ``ipv6:///[a]:p,...``).

    gRPC's static address list only takes IP literals; for host names use ``dns:///name:port``
    (one name resolving to every replica, e.g. a Kubernetes headless Service).
    """
    import ipaddress

    if isinstance(addresses, str) or not addresses:
        raise ValueError("addresses: give a non-empty list of 'ip:port' strings")
    families = set()
    for i, address in enumerate(addresses):
        host, sep, port = address.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            ip = ipaddress.ip_address(host)
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"addresses[{i}]: '{address}' is not 'ip:port' (static lists take IP literals; "
                "for host names use a 'dns:///name:port' target)"
            ) from None
        families.add(ip.version)
    if len(families) > 1:
        raise ValueError("addresses: mixes IPv4 and IPv6 (gRPC's static list takes one family)")
    scheme = "ipv4" if families == {4} else "ipv6"
    return f"{scheme}:///" + ",".join(addresses)


def service_config(
    retries: int = 5,
    *,
    load_balancing: str = "pick_first",
    health_check: bool = False,
    initial_backoff: float = 0.1,
    max_backoff: float = 2.0,
    retry_codes: Sequence[str] = DEFAULT_RETRY_CODES,
) -> dict[str, Any]:
    """The gRPC service config: retry policy (every method), LB policy, client health checks.

    ``retries`` is the total number of attempts of a call (gRPC caps it at 5; 1 disables retries);
    ``retry_codes`` the status codes retried (default UNAVAILABLE and CANCELLED, see
    :data:`DEFAULT_RETRY_CODES`).
    With ``health_check`` the channel watches ``grpc.health.v1`` of every backend and only picks
    those that are SERVING (needs a balancing policy such as ``round_robin``; ``pick_first`` ignores it).
    """
    if retries < 1:
        raise ValueError(f"retries: must be >= 1 (total attempts per call), got {retries}")
    if initial_backoff <= 0 or max_backoff < initial_backoff:
        raise ValueError(f"initial_backoff/max_backoff: need 0 < initial ({initial_backoff}) <= max ({max_backoff})")
    allowed = [c.name for c in grpc.StatusCode if c is not grpc.StatusCode.OK]
    bad = [c for c in retry_codes if c not in allowed]
    if bad or (retries > 1 and not retry_codes):
        raise ValueError(f"retry_codes: unknown {bad or 'empty list'} (allowed: gRPC status names such as UNAVAILABLE)")
    method: dict[str, Any] = {"name": [{}]}  # every service and method
    if retries > 1:
        method["retryPolicy"] = {
            "maxAttempts": min(retries, 5),
            "initialBackoff": f"{initial_backoff:g}s",
            "maxBackoff": f"{max_backoff:g}s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": list(retry_codes),
        }
    config: dict[str, Any] = {
        "methodConfig": [method],
        "loadBalancingConfig": [{load_balancing: {}}],
    }
    if health_check:
        config["healthCheckConfig"] = {"serviceName": HEALTH_SERVICE}
    return config


def channel_options(
    retries: int = 5,
    max_message_bytes: int = 64 * 1024 * 1024,
    *,
    load_balancing: str = "pick_first",
    health_check: bool = False,
    initial_backoff: float = 0.1,
    max_backoff: float = 2.0,
    retry_codes: Sequence[str] = DEFAULT_RETRY_CODES,
) -> list[tuple[str, Any]]:
    """Channel options: the :func:`service_config` (retries, balancing, health checks), message size limits."""
    config = service_config(
        retries,
        load_balancing=load_balancing,
        health_check=health_check,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
        retry_codes=retry_codes,
    )
    return [
        ("grpc.enable_retries", 1 if retries > 1 else 0),
        ("grpc.service_config", json.dumps(config)),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


def embed_request(
    texts: Sequence[str],
    *,
    prompt_name: str | None = None,
    instruction: str | None = None,
    template: str | None = None,
    normalize: bool | None = None,
    truncate: bool = False,
    truncation_direction: str = "right",
    dimensions: int | None = None,
    encoding: str = "float32",
) -> pb.EmbedRequest:
    """Build an ``EmbedRequest`` (``encoding``: float32, float16, int8, binary or float32_list)."""
    if isinstance(texts, str):
        texts = [texts]
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding: unknown '{encoding}' (allowed: {', '.join(ENCODINGS)})")
    if truncation_direction not in ("right", "left"):
        raise ValueError(f"truncation_direction: unknown '{truncation_direction}' (allowed: right, left)")
    return pb.EmbedRequest(
        inputs=list(texts),
        prompt_name=prompt_name,
        instruction=instruction,
        template=template,
        normalize=normalize,
        truncate=truncate,
        truncation_direction=pb.TRUNCATION_DIRECTION_LEFT
        if truncation_direction == "left"
        else pb.TRUNCATION_DIRECTION_RIGHT,
        dimensions=dimensions,
        encoding=ENCODINGS[encoding],
    )


def decode_embeddings(response: pb.EmbedResponse) -> np.ndarray:
    """The embeddings of a response as a numpy matrix (float32, float16, or int8 for int8/binary)."""
    if response.encoding == pb.ENCODING_FLOAT32_LIST:
        return np.array([list(e.values) for e in response.embeddings], dtype=np.float32).reshape(
            len(response.embeddings), -1
        )
    name = next(k for k, v in ENCODINGS.items() if v == response.encoding)
    rows = [np.frombuffer(e.packed, dtype=_DTYPES[name]) for e in response.embeddings]
    return np.stack(rows) if rows else np.zeros((0, response.dimensions), dtype=_DTYPES[name])


class _Base:
    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        tls: TlsConfig | None = None,
        retries: int = 5,
        timeout: float | None = 60.0,
        load_balancing: str = "auto",
        health_check: bool | None = None,
        wait_for_ready: bool = False,
        initial_backoff: float = 0.1,
        max_backoff: float = 2.0,
        retry_codes: Sequence[str] = DEFAULT_RETRY_CODES,
    ) -> None:
        """Connect to ``target`` (``host:port``, ``dns:///name:port`` or ``ipv4:///a:p,b:q``).

        ``retries``: attempts per call (gRPC retry policy, at most 5; 1: none) on the status codes
        ``retry_codes`` (UNAVAILABLE, and CANCELLED as servers send it while shutting down).
        ``load_balancing``: ``auto`` (``round_robin`` for ``dns:``/``ipv4:``/``ipv6:`` targets, else
        ``pick_first``), ``round_robin`` or ``pick_first``. ``health_check`` (default: on with
        ``round_robin``): skip replicas whose gRPC health is not SERVING. ``wait_for_ready``: a call
        made while no replica is reachable waits (up to its timeout) instead of failing at once.
        """
        self.target = target
        self.timeout = timeout
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None
        self.load_balancing = resolve_load_balancing(target, load_balancing)
        self.health_check = self.load_balancing == "round_robin" if health_check is None else health_check
        self.wait_for_ready = wait_for_ready
        self._options = channel_options(
            retries,
            load_balancing=self.load_balancing,
            health_check=self.health_check,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            retry_codes=retry_codes,
        )
        self._tls = tls

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"metadata": self.metadata, "timeout": self.timeout if timeout is None else timeout}
        if self.wait_for_ready:
            kw["wait_for_ready"] = True
        return kw


class EmbeddingClient(_Base):
    """Blocking client."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        if self._tls is not None:
            self.channel = grpc.secure_channel(target, self._tls.credentials(), options=self._options)
        else:
            self.channel = grpc.insecure_channel(target, options=self._options)
        self.stub = pb_grpc.EmbeddingServiceStub(self.channel)

    def embed(self, texts: Sequence[str], *, timeout: float | None = None, **options: Any) -> np.ndarray:
        """Embeddings of ``texts`` (rows in input order); options as :func:`embed_request`."""
        return decode_embeddings(self.embed_raw(texts, timeout=timeout, **options))

    def embed_raw(self, texts: Sequence[str], *, timeout: float | None = None, **options: Any) -> pb.EmbedResponse:
        """The full ``EmbedResponse`` (usage and timing included)."""
        return self.stub.Embed(embed_request(texts, **options), **self._kw(timeout))

    def embed_stream(
        self, batches: Iterable[Sequence[str]], *, timeout: float | None = None, **options: Any
    ) -> Iterator[np.ndarray]:
        """One matrix per batch of texts, in order, over one bidirectional stream."""
        requests = (embed_request(b, **options) for b in batches)
        for response in self.stub.EmbedStream(requests, **self._kw(timeout)):
            yield decode_embeddings(response)

    def similarity(
        self, queries: Sequence[str], documents: Sequence[str], *, timeout: float | None = None, **options: Any
    ) -> np.ndarray:
        """(len(queries), len(documents)) similarity matrix (queries get the model's query prompt)."""
        request = pb.SimilarityRequest(queries=list(queries), documents=list(documents), **options)
        response = self.stub.Similarity(request, **self._kw(timeout))
        return np.array([list(r.scores) for r in response.rows], dtype=np.float32)

    def tokenize(self, texts: Sequence[str], *, timeout: float | None = None, **options: Any) -> list[list[dict]]:
        """Tokens of each input (id, text, special, start, stop, pooled)."""
        request = pb.TokenizeRequest(inputs=list(texts), add_special_tokens=True, **options)
        response = self.stub.Tokenize(request, **self._kw(timeout))
        return [[_token(t) for t in item.tokens] for item in response.inputs]

    def info(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Model and limits, as a dict."""
        return MessageToDict(self.stub.Info(pb.InfoRequest(), **self._kw(timeout)), preserving_proto_field_name=True)

    def list_plugins(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Plugins of the server process."""
        response = self.stub.ListPlugins(pb.ListPluginsRequest(), **self._kw(timeout))
        return MessageToDict(response, preserving_proto_field_name=True)

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """``SERVING``, ``NOT_SERVING``... of ``service`` ("" = the whole server)."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self.channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout or self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(self, timeout: float = 120.0) -> None:
        """Block until the health check says SERVING (raises TimeoutError)."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.health(timeout=min(5.0, max(0.1, end - time.monotonic()))) == "SERVING":
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.target} not SERVING after {timeout}s")

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> EmbeddingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEmbeddingClient(_Base):
    """asyncio client (grpc.aio)."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        if self._tls is not None:
            self.channel = grpc.aio.secure_channel(target, self._tls.credentials(), options=self._options)
        else:
            self.channel = grpc.aio.insecure_channel(target, options=self._options)
        self.stub = pb_grpc.EmbeddingServiceStub(self.channel)

    async def embed(self, texts: Sequence[str], *, timeout: float | None = None, **options: Any) -> np.ndarray:
        return decode_embeddings(await self.embed_raw(texts, timeout=timeout, **options))

    async def embed_raw(
        self, texts: Sequence[str], *, timeout: float | None = None, **options: Any
    ) -> pb.EmbedResponse:
        return await self.stub.Embed(embed_request(texts, **options), **self._kw(timeout))

    async def embed_stream(
        self, batches: Iterable[Sequence[str]], *, timeout: float | None = None, **options: Any
    ) -> AsyncIterator[np.ndarray]:
        call = self.stub.EmbedStream((embed_request(b, **options) for b in batches), **self._kw(timeout))
        async for response in call:
            yield decode_embeddings(response)

    async def similarity(
        self, queries: Sequence[str], documents: Sequence[str], *, timeout: float | None = None, **options: Any
    ) -> np.ndarray:
        request = pb.SimilarityRequest(queries=list(queries), documents=list(documents), **options)
        response = await self.stub.Similarity(request, **self._kw(timeout))
        return np.array([list(r.scores) for r in response.rows], dtype=np.float32)

    async def info(self, *, timeout: float | None = None) -> dict[str, Any]:
        response = await self.stub.Info(pb.InfoRequest(), **self._kw(timeout))
        return MessageToDict(response, preserving_proto_field_name=True)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncEmbeddingClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _token(t: pb.Token) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id, "text": t.text, "special": t.special, "pooled": t.pooled}
    if t.HasField("start"):
        out["start"], out["stop"] = t.start, t.stop
    return out
