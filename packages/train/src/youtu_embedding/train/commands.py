"""CLI commands of the train package (registered by name by :mod:`youtu_embedding.train.plugin`).

* ``youtu-embed train [CONFIG] [--option value ...]``: every :class:`TrainConfig` field is also a flag
  (``--learning-rate 1e-4``, ``--lora`` / ``--no-lora``, ``--data a.jsonl --data b/``,
  ``--dataset-batch-sizes stsb=16``); flags override the file.
* ``youtu-embed merge BASE CKPT... --output OUT [--method delta|uniform] [--alpha 1.0]``.
* ``youtu-embed train-data validate PATH...`` and ``youtu-embed train-data convert FORMAT IN OUT``.
"""

from __future__ import annotations

import os
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

USAGE_ERROR = 2


def _fail(message: str) -> typing.NoReturn:
    first, *rest = message.splitlines() or [""]
    typer.echo(f"error: {first}", err=True)
    for line in rest:
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(USAGE_ERROR)


def _field_kind(name: str) -> str:
    from youtu_embedding.train.config import TrainConfig

    ann = TrainConfig.model_fields[name].annotation
    text = str(ann)
    if ann is bool:
        return "bool"
    if "dict" in text:
        return "dict"
    if "list" in text:
        return "list"
    return "scalar"


def parse_option_flags(args: list[str]) -> dict[str, Any]:
    """Turn ``--option value`` flags into config overrides (names checked, values validated later)."""
    from youtu_embedding.train.config import ConfigError, TrainConfig

    fields = TrainConfig.model_fields
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument '{arg}' (options are --name value)")
        body = arg[2:]
        value: str | None = None
        if "=" in body:
            body, value = body.split("=", 1)
        name = body.replace("-", "_")
        negate = False
        if name not in fields and name.startswith("no_") and name[3:] in fields:
            name, negate = name[3:], True
        if name not in fields:
            raise ConfigError(f"unknown option '--{body}' (see youtu-embed train --help)")
        kind = _field_kind(name)
        if kind == "bool" and value is None:
            if negate:
                out[name] = False
            elif i + 1 < len(args) and args[i + 1].lower() in ("true", "false", "1", "0", "yes", "no"):
                out[name] = args[i + 1]
                i += 1
            else:
                out[name] = True
            i += 1
            continue
        if negate:
            raise ConfigError(f"'--no-{name.replace('_', '-')}' only exists for on/off options")
        if value is None:
            if i + 1 >= len(args):
                raise ConfigError(f"option '--{body}' needs a value")
            value = args[i + 1]
            i += 1
        i += 1
        if kind == "list":
            out.setdefault(name, [])
            if isinstance(out[name], list):
                out[name] += [v for v in value.split(",") if v]
        elif kind == "dict":
            if "=" not in value:
                raise ConfigError(f"option '--{body}' takes NAME=VALUE, got '{value}'")
            key, val = value.split("=", 1)
            out.setdefault(name, {})[key] = val
        else:
            out[name] = None if value.lower() in ("none", "null") else value
    return out


def _options_help() -> str:
    from youtu_embedding.train.config import TrainConfig

    lines = ["Options (each also a config-file key; flags override the file):", ""]
    for name, f in TrainConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        default = "required" if f.is_required() else f"default {f.get_default(call_default_factory=True)!r}"
        desc = f.description or ""
        lines.append(f"{flag} ({default}) {desc}".rstrip())
    return "\n\n".join(lines)


def train_command(
    ctx: typer.Context,
    print_config: Annotated[bool, typer.Option("--print-config", help="Print the resolved config and exit.")] = False,
) -> None:
    """Fine-tune an embedding model with CoDiEmb (IR + STS losses, dynamic single-task sampler).

    Usage: youtu-embed train [CONFIG.yaml|CONFIG.toml] [--option value ...]
    """
    from youtu_embedding.train.config import ConfigError, load_config
    from youtu_embedding.train.data import DataValidationError

    try:
        args = list(ctx.args)
        config = Path(args.pop(0)) if args and not args[0].startswith("--") else None
        overrides = parse_option_flags(args)
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        _fail(str(exc))
    if print_config:
        typer.echo(cfg.model_dump_json(indent=2))
        return
    from youtu_embedding.train.trainer import train

    try:
        result = train(cfg)
    except (DataValidationError, ConfigError) as exc:
        _fail(str(exc))
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return
    summary = f"trained {result.global_step} steps in {result.seconds:.1f}s"
    if result.per_task:
        summary += "; mean loss " + ", ".join(f"{k} {v:.4f}" for k, v in result.per_task.items())
    if result.skipped_lines:
        summary += f"; skipped {result.skipped_lines} invalid line(s)"
    if result.final_model is not None:
        summary += f"; model saved to {result.final_model}"
    typer.echo(summary, err=True)


def merge_command(
    base: Annotated[str, typer.Argument(help="The pre-trained model the checkpoints were fine-tuned from.")],
    checkpoints: Annotated[list[Path], typer.Argument(help="Fine-tuned model directories.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory of the merged model.")],
    method: Annotated[str, typer.Option(help="delta (delta-guided fusion) or uniform (Model Soup).")] = "delta",
    alpha: Annotated[
        float, typer.Option(help="Exponent of |delta| in the weights: -1 consensus, 0 uniform, +1 dominant.")
    ] = -1.0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output directory.")] = False,
) -> None:
    """Merge fine-tuned checkpoints of one base (delta-guided per-parameter weights, or uniform)."""
    from youtu_embedding.train.merge import merge_models

    out = merge_models(base, checkpoints, output, method=method, alpha=alpha, overwrite=overwrite)
    typer.echo(f"merged {len(checkpoints)} checkpoint(s) with method '{method}' into {out}", err=True)


data_app = typer.Typer(help="Validate and convert training data (CoDiEmb unified JSONL).", no_args_is_help=True)


@data_app.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="Unified JSONL files or folders.")],
    skip_invalid: Annotated[bool, typer.Option(help="Report bad lines but exit 0 when valid items remain.")] = False,
) -> None:
    """Check every line of unified JSONL files; print ``file:line: problem`` for each bad line."""
    from youtu_embedding.train.data import DataValidationError, load_datasets

    try:
        datasets = load_datasets([str(p) for p in paths], skip_invalid=skip_invalid)
    except DataValidationError as exc:
        for p in exc.problems:
            typer.echo(p, err=True)
        _fail(f"{len(exc.problems)} invalid line(s)")
    for ds in datasets:
        for p in ds.problems:
            typer.echo(p, err=True)
        skipped = f", {ds.skipped} skipped" if ds.skipped else ""
        typer.echo(f"{ds.path}: {len(ds)} {ds.task_type} item(s){skipped}")


@data_app.command("convert")
def convert_command(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="sts, triplets or nli.")],
    source: Annotated[Path, typer.Argument(help="Input .jsonl, .csv or .tsv.")],
    output: Annotated[Path, typer.Argument(help="Output unified .jsonl.")],
    instruction: Annotated[str, typer.Option(help="Task instruction of the sub-dataset.")],
    score_range: Annotated[str, typer.Option(help="sts: MIN,MAX of the input scores (rescaled to 0..1).")] = "0,5",
) -> None:
    """Convert STS pairs, query/pos/neg triplets or NLI rows into the unified format."""
    from youtu_embedding.train.convert import convert_file
    from youtu_embedding.train.data import DataValidationError

    try:
        lo, hi = (float(x) for x in score_range.split(","))
    except ValueError:
        _fail(f"--score-range must be MIN,MAX, got '{score_range}'")
    try:
        report = convert_file(fmt, source, output, instruction=instruction, score_range=(lo, hi))
    except DataValidationError as exc:
        for p in exc.problems:
            typer.echo(p, err=True)
        _fail(f"{len(exc.problems)} invalid row(s) in {source}")
    extra = f" ({report.dropped} dropped: {report.note})" if report.dropped else ""
    typer.echo(f"wrote {report.written} item(s) to {output}{extra}", err=True)


#: ``youtu-embed train`` (its flags are the TrainConfig fields, listed in the epilog); loaded on use
#: by the plugin module :mod:`youtu_embedding.train.plugin`.
train_app = typer.Typer(add_completion=False)
train_app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=_options_help(),
)(train_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
