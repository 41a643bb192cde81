"""``youtu-embed serve`` and ``youtu-embed client ...`` (registered by name by :mod:`youtu_embedding.serve.plugin`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from youtu_embedding.core.cli.options import encoder_options

TargetOption = Annotated[str, typer.Option("--target", "-t", help="host:port of the server.")]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="YOUTU_API_KEY", help="API key (sent as 'authorization: Bearer').")
]
CaOption = Annotated[Path | None, typer.Option("--tls-ca", help="PEM CA of the server certificate (enables TLS).")]
CertOption = Annotated[Path | None, typer.Option("--tls-cert", help="PEM client certificate (mutual TLS).")]
KeyOption = Annotated[Path | None, typer.Option("--tls-key", help="PEM key of the client certificate.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds per call.")]


@encoder_options(only_given=True)
def serve(
    spec_options: dict[str, Any],
    port: Annotated[int | None, typer.Option("--port", help="gRPC port (default 50051; 0: any).")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Require 'authorization: Bearer <key>' (or YOUTU_SERVE_API_KEY).")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics here.")] = None,
    http_port: Annotated[
        int | None, typer.Option("--http-port", help="OpenAI and TEI HTTP APIs on this port (default 8080; 0: off).")
    ] = None,
    served_model_name: Annotated[
        str | None, typer.Option("--served-model-name", help="Model name of the HTTP APIs (default: --model).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML or JSON settings file (or YOUTU_SERVE_CONFIG).")
    ] = None,
    max_concurrent_requests: Annotated[int | None, typer.Option("--max-concurrent-requests")] = None,
    max_batch_requests: Annotated[int | None, typer.Option("--max-batch-requests")] = None,
    max_client_batch_size: Annotated[int | None, typer.Option("--max-client-batch-size")] = None,
    max_input_length: Annotated[int | None, typer.Option("--max-input-length")] = None,
    max_document_tokens: Annotated[
        int | None, typer.Option("--max-document-tokens", help="Tokens per input cut into windows (long inputs).")
    ] = None,
    inference_workers: Annotated[
        int | None, typer.Option("--inference-workers", help="Batches run in parallel (default: 2 on CPU, 1 on GPU).")
    ] = None,
    num_threads: Annotated[
        int | None, typer.Option("--num-threads", help="torch threads per worker (default: cores / workers).")
    ] = None,
    tokenization_workers: Annotated[
        int | None, typer.Option("--tokenization-workers", help="Tokenizer threads (default: cores, 2..4).")
    ] = None,
    max_tokenization_backlog: Annotated[
        int | None,
        typer.Option("--max-tokenization-backlog", help="Characters waiting for tokenisation; beyond: refused."),
    ] = None,
    batch_time_slice: Annotated[
        float | None,
        typer.Option("--batch-time-slice", help="Seconds one batch should take (default 0.25; 0: no cap)."),
    ] = None,
    grace_period: Annotated[float | None, typer.Option("--grace-period", help="Seconds to drain on SIGTERM.")] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM server certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM server key.")] = None,
    tls_client_ca: Annotated[Path | None, typer.Option("--tls-client-ca", help="Require client certs (mTLS).")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="json or text.")] = None,
) -> None:
    """Serve a model: gRPC (youtu.embedding.v1, TEI's tei.v1, health, reflection) and HTTP (OpenAI, TEI) APIs.

    Flags override YOUTU_SERVE_* variables, which override the --config file.
    """
    from youtu_embedding.serve.config import load_settings
    from youtu_embedding.serve.logs import configure_logging
    from youtu_embedding.serve.server import run

    settings = load_settings(
        config,
        **spec_options,
        port=port,
        api_key=api_key,
        metrics_port=metrics_port,
        http_port=http_port,
        served_model_name=served_model_name,
        host=host,
        max_concurrent_requests=max_concurrent_requests,
        max_batch_requests=max_batch_requests,
        max_client_batch_size=max_client_batch_size,
        max_input_length=max_input_length,
        max_document_tokens=max_document_tokens,
        inference_workers=inference_workers,
        num_threads=num_threads,
        tokenization_workers=tokenization_workers,
        max_tokenization_backlog=max_tokenization_backlog,
        batch_time_slice_s=batch_time_slice,
        grace_period_s=grace_period,
        tls_cert_file=tls_cert,
        tls_key_file=tls_key,
        tls_client_ca_file=tls_client_ca,
        log_format=log_format,
    )
    configure_logging(settings.log_level, settings.log_format)
    raise typer.Exit(run(settings))


client_app = typer.Typer(help="Call a running youtu-embed server.", no_args_is_help=True)


def _client(target: str, api_key: str | None, ca: Path | None, cert: Path | None, key: Path | None, timeout: float):
    from youtu_embedding.serve.client import EmbeddingClient, TlsConfig

    tls = TlsConfig(ca, cert, key) if (ca or cert or key) else None
    return EmbeddingClient(target, api_key=api_key, tls=tls, timeout=timeout)


def _rpc_errors(fn):  # type: ignore[no-untyped-def]
    """Report gRPC errors as ``error: CODE: details`` with exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        import grpc

        try:
            return fn(*args, **kwargs)
        except grpc.RpcError as exc:
            typer.echo(f"error: {exc.code().name}: {exc.details()}", err=True)  # type: ignore[attr-defined]
            raise typer.Exit(2) from None

    return wrapper


@client_app.command("embed")
@_rpc_errors
def client_embed(
    texts: Annotated[list[str], typer.Argument(help="Texts to embed.")],
    target: TargetOption = "127.0.0.1:50051",
    prompt_name: Annotated[str | None, typer.Option("--prompt-name")] = None,
    instruction: Annotated[str | None, typer.Option("--instruction")] = None,
    dimensions: Annotated[int | None, typer.Option("--dimensions")] = None,
    truncate: Annotated[bool, typer.Option("--truncate/--no-truncate")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help=".npy file (default: JSON lines on stdout).")
    ] = None,
    api_key: ApiKeyOption = None,
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Embed texts on the server; JSON lines (one vector per text) or a .npy file."""
    import numpy as np

    with _client(target, api_key, tls_ca, tls_cert, tls_key, timeout) as client:
        emb = client.embed(
            texts, prompt_name=prompt_name, instruction=instruction, dimensions=dimensions, truncate=truncate
        )
    if output is not None:
        np.save(output, emb)
        typer.echo(f"wrote {emb.shape[0]} x {emb.shape[1]} to {output}", err=True)
    else:
        for row in emb:
            sys.stdout.write(json.dumps([float(x) for x in row]) + "\n")


@client_app.command("similarity")
@_rpc_errors
def client_similarity(
    query: Annotated[list[str], typer.Option("--query", "-q")],
    document: Annotated[list[str], typer.Option("--document", "-d")],
    target: TargetOption = "127.0.0.1:50051",
    api_key: ApiKeyOption = None,
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Similarity matrix of queries x documents, as JSON."""
    with _client(target, api_key, tls_ca, tls_cert, tls_key, timeout) as client:
        scores = client.similarity(query, document)
    typer.echo(json.dumps({"queries": query, "documents": document, "scores": scores.round(6).tolist()}))


@client_app.command("tokenize")
@_rpc_errors
def client_tokenize(
    texts: Annotated[list[str], typer.Argument()],
    target: TargetOption = "127.0.0.1:50051",
    prompt_name: Annotated[str | None, typer.Option("--prompt-name")] = None,
    api_key: ApiKeyOption = None,
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Tokens of each text as the model sees them, as JSON."""
    with _client(target, api_key, tls_ca, tls_cert, tls_key, timeout) as client:
        typer.echo(json.dumps(client.tokenize(texts, prompt_name=prompt_name), ensure_ascii=False))


@client_app.command("info")
@_rpc_errors
def client_info(
    target: TargetOption = "127.0.0.1:50051",
    api_key: ApiKeyOption = None,
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Model and limits of the server, as JSON."""
    with _client(target, api_key, tls_ca, tls_cert, tls_key, timeout) as client:
        typer.echo(json.dumps(client.info(), indent=2))


@client_app.command("plugins")
@_rpc_errors
def client_plugins(
    target: TargetOption = "127.0.0.1:50051",
    api_key: ApiKeyOption = None,
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Plugins loaded by the server process, as JSON."""
    with _client(target, api_key, tls_ca, tls_cert, tls_key, timeout) as client:
        typer.echo(json.dumps(client.list_plugins(), indent=2))


@client_app.command("health")
@_rpc_errors
def client_health(
    target: TargetOption = "127.0.0.1:50051",
    service: Annotated[str, typer.Option("--service", help="Service name ('' = the server).")] = "",
    tls_ca: CaOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    timeout: TimeoutOption = 5.0,
) -> None:
    """grpc.health.v1 status; exit code 0 only when SERVING (usable as a probe)."""
    with _client(target, None, tls_ca, tls_cert, tls_key, timeout) as client:
        status = client.health(service)
    typer.echo(status)
    if status != "SERVING":
        raise typer.Exit(1)
