"""Server settings: command-line flags > environment (``YOUTU_SERVE_*``) > config file > defaults.

The config file (``--config`` or ``YOUTU_SERVE_CONFIG``) is TOML (``.toml``) or JSON (``.json``) with
the field names below as keys; unknown keys are rejected. See ``services/serve.example.toml``.

:class:`ServeSettings` is an :class:`~youtu_embedding.core.spec.EncoderSpec`: every encoder option
(``model``, ``device``, ``dtype``, ``attention``, ``pooling``, ``max_length``, ``runtime``,
``runtime_options``, ``quantization``...) is a config key, a ``YOUTU_SERVE_*`` variable and a
``youtu-embed serve`` flag without being declared here, and :meth:`build` loads the encoder.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.spec import EncoderSpec, invalid_argument

ENV_PREFIX = "YOUTU_SERVE_"
_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("youtu_serve_config_file", default=None)


class ServeSettings(BaseSettings, EncoderSpec):
    """Everything ``youtu-embed serve`` can be told: the encoder's spec and the server's settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, protected_namespaces=()
    )

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port (0: any free port).")
    http_port: int = Field(
        8080, ge=0, le=65535, description="HTTP port of the OpenAI and TEI REST APIs (0: no HTTP server)."
    )
    served_model_name: str | None = Field(
        None, description="Model name the HTTP APIs answer to and list (default: model as given)."
    )
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Prometheus port (absent: no metrics server).")
    metrics_host: str | None = Field(None, description="Address of the metrics server (default: host).")
    api_key: SecretStr | None = Field(None, description="Require 'authorization: Bearer <key>' on every RPC.")
    api_key_file: Path | None = Field(None, description="Read the API key from this file (e.g. a mounted secret).")
    tls_cert_file: Path | None = Field(None, description="PEM server certificate (enables TLS).")
    tls_key_file: Path | None = Field(None, description="PEM private key of the server certificate.")
    tls_client_ca_file: Path | None = Field(None, description="PEM CA bundle: require client certificates (mTLS).")
    inference_workers: int | None = Field(
        None, gt=0, description="Inference threads running batches in parallel (default: 2 on CPU, 1 on a GPU)."
    )
    num_threads: int | None = Field(
        None, gt=0, description="torch intra-op threads per worker (default on CPU: cores / inference_workers)."
    )
    max_concurrent_requests: int = Field(512, gt=0, description="Requests in flight; beyond: RESOURCE_EXHAUSTED.")
    max_batch_requests: int = Field(64, gt=0, description="Input rows per inference batch.")
    batch_overhead_tokens: int = Field(
        128, ge=0, description="Fixed cost of a forward pass in tokens, for batch planning (larger on GPUs)."
    )
    batch_time_slice_s: float = Field(
        0.25,
        ge=0,
        description="Seconds an inference batch should take: batches are cut smaller when the measured speed "
        "says a full one would take longer, so a new request waits about one slice (0: no cap).",
    )
    max_client_batch_size: int = Field(256, gt=0, description="Inputs per Embed request.")
    max_input_length: int | None = Field(None, gt=0, description="Tokens per input (default: the model's maximum).")
    max_document_tokens: int | None = Field(
        None, gt=0, description="Tokens per windowed input (long inputs, chunking); default 16 x max_input_length."
    )
    max_message_bytes: int = Field(16 * 1024 * 1024, gt=0, description="Largest request/response message.")
    max_stream_pending: int = Field(32, gt=0, description="Unanswered messages per stream before reading pauses.")
    tokenization_workers: int | None = Field(
        None, gt=0, description="Tokenizer threads, one tokenizer copy each (default: CPU cores, between 2 and 4)."
    )
    max_tokenization_backlog: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Characters of text admitted and not tokenised yet; beyond: RESOURCE_EXHAUSTED (streams wait).",
    )
    grace_period_s: float = Field(30.0, ge=0, description="Seconds in-flight RPCs get to finish on SIGTERM.")
    warmup: bool = Field(True, description="Run warm-up batches before reporting SERVING.")
    tune_allocator: bool = Field(True, description="Pin glibc's mmap threshold so RSS stays flat (Linux).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            if path.suffix == ".json":
                sources.append(JsonConfigSettingsSource(settings_cls, json_file=path))
            else:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _check(self) -> ServeSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file (mutual TLS) needs tls_cert_file and tls_key_file")
        for name in ("api_key_file", "tls_cert_file", "tls_key_file", "tls_client_ca_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: no such file {path}")
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("give api_key or api_key_file, not both")
        return self

    def resolved_tokenization_workers(self) -> int:
        """Tokenizer threads: the setting, else the CPU cores clamped to 2..4 (two keep a huge request from
        holding up a small one; more rarely help, tokenisation is a small share of the work)."""
        if self.tokenization_workers is not None:
            return self.tokenization_workers
        return min(4, max(2, os.cpu_count() or 1))

    def resolved_api_key(self) -> str | None:
        """The API key from ``api_key`` or ``api_key_file`` (None: no authentication)."""
        if self.api_key_file is not None:
            key = Path(self.api_key_file).read_text(encoding="utf-8").strip()
            if not key:
                raise InvalidArgumentError("api_key_file", f"{self.api_key_file} is empty")
            return key
        if self.api_key is not None:
            key = self.api_key.get_secret_value()
            if not key:
                raise InvalidArgumentError("api_key", "is empty")
            return key
        return None

    def public(self) -> dict[str, Any]:
        """The settings without secrets, for logs."""
        data = self.model_dump(mode="json")
        data["api_key"] = "***" if self.api_key is not None else None
        return data


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> ServeSettings:
    """Build the settings; ``overrides`` (flags) whose value is None are left to the other sources.

    Raises InvalidArgumentError naming the first invalid field.
    """
    path = config_file if config_file is not None else os.environ.get(f"{ENV_PREFIX}CONFIG")
    config_path = Path(path) if path else None
    if config_path is not None and not config_path.is_file():
        raise InvalidArgumentError("config", f"no such file {config_path}")
    token = _config_file.set(config_path)
    try:
        return ServeSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise invalid_argument(exc) from None
    finally:
        _config_file.reset(token)
