"""Options shared by the ``youtu-embed`` commands: the encoder option set and the prompt options.

:func:`encoder_options` adds one option per :class:`~youtu_embedding.core.spec.EncoderSpec` field
to a command and hands the command a validated spec, so that every command that loads a model
spells, documents and validates its options the same way. A plugin command uses it too::

    from youtu_embedding.core.cli.options import JsonOption, encoder_options
    from youtu_embedding.core.spec import EncoderSpec

    @encoder_options()
    def my_command(spec: EncoderSpec, as_json: JsonOption = False) -> None:
        encoder = spec.build()

Adding a field to ``EncoderSpec`` adds the option to every such command (and the config key to
``youtu-embed serve``): nothing here changes.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

import typer

from youtu_embedding.core.spec import CliOption, EncoderSpec

F = TypeVar("F", bound=Callable[..., Any])

#: The help panel of the encoder options in ``--help``.
ENCODER_PANEL = "Model options"


def _field_cli(name: str) -> tuple[CliOption, Any, Any, bool]:
    """(CliOption, the type typer parses, the CLI default, required) of spec field `name`."""
    field = EncoderSpec.model_fields[name]
    cli = next((m for m in field.metadata if isinstance(m, CliOption)), CliOption())
    annotation = field.annotation
    args = typing.get_args(annotation)
    optional = (typing.get_origin(annotation) in (typing.Union, types.UnionType)) and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else annotation
    default = None if field.is_required() or field.default_factory is not None else field.default
    if cli.cli_type is not None:
        cli_type: Any = cli.cli_type
    elif typing.get_origin(inner) is Literal:
        cli_type = _choices(name, typing.get_args(inner))
        default = None if default is None else cli_type(default)
    else:
        cli_type = inner
    if optional or default is None:
        cli_type = cli_type | None
    return cli, cli_type, default, field.is_required()


@functools.cache
def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum of a Literal field's values (typer shows and checks them as choices)."""
    return Enum(f"{name.title().replace('_', '')}Choice", {value: value for value in values}, type=str)  # type: ignore[return-value]


def _flags(name: str, cli: CliOption, cli_type: Any) -> tuple[str, ...]:
    if cli.flags:
        return cli.flags
    flag = "--" + name.replace("_", "-")
    if cli_type == (bool | None):  # unset: the model's own behaviour
        return (f"{flag}/--no-{flag[2:]}",)
    return (flag,)


def spec_parameters(names: Collection[str], *, required: bool = True) -> list[inspect.Parameter]:
    """Keyword-only parameters, with typer options, for the spec fields `names` (their defaults shown).

    ``required=False`` makes ``--model`` optional (``youtu-embed serve`` reads it from a config file too).
    """
    params = []
    for name in names:
        cli, cli_type, default, is_required = _field_cli(name)
        option = typer.Option(
            *_flags(name, cli, cli_type),
            help=EncoderSpec.model_fields[name].description,
            rich_help_panel=ENCODER_PANEL,
            metavar=cli.metavar,
            show_default=default is not None and default is not False,
        )
        if is_required and not required:
            cli_type, is_required = cli_type | None, False
        annotation = Annotated[cli_type, option]  # type: ignore[valid-type]
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=inspect.Parameter.empty if is_required else default,
            )
        )
    return params


def spec_values(values: dict[str, Any]) -> dict[str, Any]:
    """Command-line values of spec fields -> field values (choices unwrapped, KEY=VALUE lists parsed)."""
    out = {}
    for name, value in values.items():
        cli, _, _, _ = _field_cli(name)
        if cli.parse is not None:
            value = cli.parse(value)
        elif isinstance(value, Enum):
            value = value.value
        out[name] = value
    return out


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` came from the command line (or its environment variable), not a default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def encoder_options(
    *, exclude: Collection[str] = (), only_given: bool = False, spec_class: type[EncoderSpec] = EncoderSpec
) -> Callable[[F], F]:
    """Add an option for every :class:`~youtu_embedding.core.spec.EncoderSpec` field to a typer command.

    The decorated function declares a parameter ``spec: EncoderSpec`` and receives the spec built
    (and validated: a bad value is ``error: <field>: ...``, exit code 2) from the options. With
    ``only_given=True`` it declares ``spec_options: dict`` instead and receives only the options
    given on the command line (for commands that merge them with a config file, as ``serve``
    does); ``--model`` is then optional. ``exclude`` names fields the command does not offer.
    """
    names = [name for name in spec_class.field_names() if name not in exclude]

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        target = "spec_options" if only_given else "spec"
        if target not in signature.parameters:
            raise TypeError(f"{fn.__qualname__}: @encoder_options needs a parameter named '{target}'")
        clash = sorted(set(names) & set(signature.parameters))
        if clash:
            raise TypeError(f"{fn.__qualname__}: parameters {clash} are encoder options already")
        own = [p for n, p in signature.parameters.items() if n != target]
        # the click context tells which options were given (only_given); typer injects it by annotation
        declared = next((p.name for p in own if p.annotation is typer.Context), None)
        extra_ctx = only_given and declared is None
        ctx_name = declared or "encoder_options_context"
        if extra_ctx:
            own.append(inspect.Parameter(ctx_name, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
        params = own + spec_parameters(names, required=not only_given)

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            if only_given:
                ctx = kwargs.pop(ctx_name) if extra_ctx else kwargs[ctx_name]
                given = {n: v for n, v in values.items() if _given(ctx, n)}
                kwargs[target] = spec_values(given)
            else:
                kwargs[target] = spec_class.from_options(**spec_values(values))
            return fn(*args, **kwargs)

        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return decorate


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


def parse_chunker_options(values: list[str] | None) -> dict[str, object]:
    """``["size=128"]`` -> ``{"size": 128}`` (JSON values parsed); a bad item names ``chunker-option``."""
    from youtu_embedding.core.errors import InvalidArgumentError
    from youtu_embedding.core.spec import parse_runtime_options

    try:
        return parse_runtime_options(values)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError("chunker-option", str(exc).split(": ", 1)[1]) from None


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
