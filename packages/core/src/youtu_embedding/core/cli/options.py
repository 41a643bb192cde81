"""Options shared by the ``youtu-embed`` commands, and loading an encoder from them.

Plugin commands can reuse these ``Annotated`` types so that every command spells its options the
same way::

    from youtu_embedding.core.cli.options import DeviceOption, ModelOption, load_encoder

    @app.command("my-command")
    def my_command(model: ModelOption, device: DeviceOption = "auto") -> None:
        encoder = load_encoder(model, device=device)
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from youtu_embedding.core.encoder import Encoder


class Attention(str, Enum):
    """Attention direction of `utu` models."""

    causal = "causal"
    bidirectional = "bidirectional"


class DType(str, Enum):
    """Compute dtype; ``auto`` is the device backend's default."""

    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


ModelOption = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="Model directory, Hugging Face id or alias (e.g. all-MiniLM-L6-v2).", show_default=False
    ),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1, mps... (auto: best available).")]
DTypeOption = Annotated[DType, typer.Option("--dtype", help="Compute dtype (auto: the device's default).")]
AttentionOption = Annotated[
    Attention | None,
    typer.Option("--attention", help="Attention direction of `utu` models (default: the checkpoint's)."),
]
PoolingOption = Annotated[
    str | None,
    typer.Option("--pooling", help="Pooling strategy (mean, cls, lasttoken, weightedmean, max, or a plugin's)."),
]
BatchSizeOption = Annotated[int | None, typer.Option("--batch-size", help="Texts per batch (default 32).")]
MaxLengthOption = Annotated[int | None, typer.Option("--max-length", help="Maximum tokens per text, prefix included.")]
TrustRemoteCodeOption = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Allow the checkpoint's own Python code (only for models you trust)."),
]
AllowPickleOption = Annotated[
    bool,
    typer.Option("--allow-pickle", help="Allow non-safetensors weights (loaded with torch's weights_only loader)."),
]
PromptNameOption = Annotated[
    str | None, typer.Option("--prompt-name", help="A prompt of the model (query, document...).")
]
InstructionOption = Annotated[
    str | None, typer.Option("--instruction", help="Task instruction, rendered into a prefix by --template.")
]
TaskOption = Annotated[
    str | None, typer.Option("--task", help="Task name of the template's instruction table (e.g. T2Retrieval).")
]
TemplateOption = Annotated[
    str | None, typer.Option("--template", help="Instruction template (youtu, bge, e5, qwen3, none, or a plugin's).")
]
RuntimeOption = Annotated[
    str,
    typer.Option("--runtime", help="What runs the network: torch, or a plugin's runtime such as onnxruntime."),
]
RuntimeOptionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--runtime-option",
        help="KEY=VALUE option of the runtime (repeatable), e.g. num_threads=2 or cache_dir=/tmp/onnx.",
        show_default=False,
    ),
]
QuantizationOption = Annotated[
    str | None,
    typer.Option("--quantization", help="'int8': dynamic int8 linear layers (CPU fast path), done by the runtime."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class LongInputs(str, Enum):
    """What happens to an input longer than max_length."""

    truncate = "truncate"
    error = "error"
    chunk = "chunk"


LongInputsOption = Annotated[
    LongInputs | None,
    typer.Option(
        "--long-inputs",
        help="Inputs over max_length: truncate (default), error, or chunk (windows combined into one vector).",
        show_default=False,
    ),
]
OverlapOption = Annotated[
    int, typer.Option("--overlap", min=0, help="Tokens shared by consecutive windows of an over-length input.")
]
ChunkerOption = Annotated[
    str | None,
    typer.Option(
        "--chunker",
        help="One vector per chunk (JSONL out with spans): tokens, sentences, paragraphs, or a plugin's.",
        show_default=False,
    ),
]
ChunkerOptionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--chunker-option", help="KEY=VALUE option of the chunker (repeatable), e.g. size=128.", show_default=False
    ),
]
NaiveOption = Annotated[
    bool,
    typer.Option("--naive", help="With --chunker: embed each chunk alone instead of late chunking."),
]


def load_encoder(
    model: str,
    *,
    device: str = "auto",
    dtype: DType | str = DType.auto,
    attention: Attention | str | None = None,
    pooling: str | None = None,
    normalize: bool | None = None,
    max_length: int | None = None,
    batch_size: int | None = None,
    template: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    quantization: str | None = None,
    runtime: str = "torch",
    runtime_options: list[str] | dict[str, object] | None = None,
) -> Encoder:
    """Load an :class:`~youtu_embedding.core.Encoder` from command-line option values (imports torch lazily)."""
    from youtu_embedding.core.encoder import DEFAULT_BATCH_SIZE, Encoder

    return Encoder(
        model,
        device=device,
        dtype=dtype.value if isinstance(dtype, DType) else dtype,
        attention=attention.value if isinstance(attention, Attention) else attention,
        pooling=pooling,
        normalize=normalize,
        max_length=max_length,
        batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
        template=template or "youtu",
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
        quantization=quantization,
        runtime=runtime,
        runtime_options=parse_runtime_options(runtime_options),
    )


def parse_runtime_options(
    values: list[str] | dict[str, object] | None, argument: str = "runtime-option"
) -> dict[str, object]:
    """``["num_threads=2", "cache_dir=/x"]`` -> ``{"num_threads": 2, "cache_dir": "/x"}`` (JSON values parsed)."""
    import json

    from youtu_embedding.core.errors import InvalidArgumentError

    if values is None or isinstance(values, dict):
        return dict(values or {})
    options: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(argument, f"expected KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def prompt_kwargs(
    prompt_name: str | None = None, instruction: str | None = None, task: str | None = None, template: str | None = None
) -> dict[str, str]:
    """The prompt options of an encode call; warns when --template is given without an instruction or task."""
    if template is not None and instruction is None and task is None:
        typer.echo("note: --template only applies to --instruction or --task", err=True)
    given = {"prompt_name": prompt_name, "instruction": instruction, "task": task, "template": template}
    return {key: value for key, value in given.items() if value is not None}


def stderr_line(message: str) -> None:
    """Print one status line to stderr (kept off stdout so that --json output stays parseable)."""
    typer.echo(message, err=True)
