"""``EncoderSpec``: the one typed description of how to build an :class:`~youtu_embedding.core.Encoder`.

Every place that builds an encoder from user settings takes its options from this model: the CLI
commands (``encode``, ``similarity``, ``search``, ``info``, ``batch``, ``eval``, ``serve``: one
option set, :func:`youtu_embedding.core.cli.options.encoder_options`, generated from the fields),
the server's config keys and ``YOUTU_SERVE_*`` variables (``ServeSettings`` subclasses it), Ray
actors (``spec.encoder_kwargs()`` travel to them) and the LangChain / LlamaIndex adapters (their
constructor options are these fields). :meth:`EncoderSpec.build` is the one place that turns a
spec into an ``Encoder``.

Adding an encoder option is a one-place change: add a field here (type, default, ``description``:
the help text of every command and the config documentation). The CLI flag is ``--field-name``
(``Literal`` types become choices, ``bool | None`` a ``--x/--no-x`` pair); a field that needs
another spelling on the command line carries a :class:`CliOption` in its ``Annotated`` metadata.

    >>> spec = EncoderSpec(model="all-MiniLM-L6-v2", dtype="bfloat16", max_length=128)
    >>> encoder = spec.build()  # doctest: +SKIP

Importing this module imports pydantic, not torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from youtu_embedding.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    from youtu_embedding.core.encoder import Encoder

#: Defaults shared with :class:`~youtu_embedding.core.encoder.Encoder` (a test keeps them equal).
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_BATCH_TOKENS = 16384


@dataclass(frozen=True)
class CliOption:
    """How a spec field is spelt on the command line, when not ``--field-name VALUE``.

    Attributes:
        flags: the option names, e.g. ``("--model", "-m")``.
        cli_type: the type typer parses (e.g. ``list[str]`` for a repeatable ``KEY=VALUE`` option).
        parse: turns the parsed command-line value into the field's value.
        metavar: shown in ``--help`` instead of the type.
    """

    flags: tuple[str, ...] = ()
    cli_type: Any = None
    parse: Callable[[Any], Any] | None = None
    metavar: str | None = None


def parse_runtime_options(values: Sequence[str] | Mapping[str, object] | None) -> dict[str, object]:
    """``["num_threads=2", "cache_dir=/x"]`` -> ``{"num_threads": 2, "cache_dir": "/x"}`` (JSON values parsed)."""
    if values is None or isinstance(values, Mapping):
        return dict(values or {})
    options: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError("runtime-option", f"expected KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


class EncoderSpec(BaseModel):
    """Everything that decides how an :class:`~youtu_embedding.core.Encoder` is built.

    Field descriptions are the help texts of the CLI options and of the server's config keys.
    Invalid values raise pydantic's ``ValidationError``; :meth:`from_options` turns that into an
    :class:`~youtu_embedding.core.errors.InvalidArgumentError` naming the field.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_assignment=True)

    model: Annotated[
        str,
        Field(description="Model directory, Hugging Face id or alias (e.g. all-MiniLM-L6-v2)."),
        CliOption(flags=("--model", "-m")),
    ]
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps... (auto: best available).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Compute dtype (auto: the device's default)."
    )
    attention: Literal["causal", "bidirectional"] | None = Field(
        None, description="Attention direction of `utu` models (default: the checkpoint's)."
    )
    pooling: str | None = Field(
        None, description="Pooling strategy (mean, cls, lasttoken, weightedmean, max, or a plugin's)."
    )
    normalize: bool | None = Field(None, description="L2-normalise the embeddings (default: as the model does).")
    max_length: int | None = Field(None, gt=0, description="Maximum tokens per text, prefix included.")
    batch_size: int = Field(DEFAULT_BATCH_SIZE, gt=0, description="Texts per batch.")
    max_batch_tokens: int = Field(DEFAULT_MAX_BATCH_TOKENS, gt=0, description="Padded tokens per batch.")
    trust_remote_code: bool = Field(
        False, description="Allow the checkpoint's own Python code (only for models you trust)."
    )
    allow_pickle: bool = Field(
        False, description="Allow non-safetensors weights (loaded with torch's weights_only loader)."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of a Hub model.")
    runtime: str = Field("torch", description="What runs the network: torch, or a plugin's (inductor, onnxruntime).")
    runtime_options: Annotated[
        dict[str, Any],
        Field(default_factory=dict, description="KEY=VALUE option of the runtime (repeatable), e.g. num_threads=2."),
        CliOption(flags=("--runtime-option",), cli_type=list[str], parse=parse_runtime_options, metavar="KEY=VALUE"),
    ]
    quantization: Literal["int8"] | None = Field(
        None, description="int8: the runtime's dynamic int8 linear layers (CPU fast path)."
    )
    unpadded: bool | None = Field(
        None,
        description="utu, torch runtime: run batches packed, without padding (default: the device backend's "
        "choice, packed on CPU and CUDA).",
    )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the fields that build an Encoder (subclasses add settings of their own)."""
        return tuple(EncoderSpec.model_fields)

    @classmethod
    def from_options(cls, **values: Any) -> EncoderSpec:
        """A spec from option values; an invalid one raises InvalidArgumentError naming the field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise invalid_argument(exc) from None

    def encoder_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Encoder(**kwargs)`` (picklable: they travel to Ray actors)."""
        return {name: getattr(self, name) for name in EncoderSpec.field_names()}

    def build(self) -> Encoder:
        """Load the Encoder this spec describes (the one place specs become encoders; imports torch)."""
        from youtu_embedding.core.encoder import Encoder

        kwargs = self.encoder_kwargs()
        return Encoder(kwargs.pop("model"), **kwargs)


def invalid_argument(exc: ValidationError) -> InvalidArgumentError:
    """The first error of a pydantic ValidationError as an InvalidArgumentError naming the field."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "settings"
    return InvalidArgumentError(where, err["msg"])


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_BATCH_TOKENS",
    "CliOption",
    "EncoderSpec",
    "invalid_argument",
    "parse_runtime_options",
]
