"""The inspection commands of ``youtu-embed``: ``info`` (a model) and ``plugins`` (the plugin system)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from youtu_embedding.core.cli.options import JsonOption, encoder_options
from youtu_embedding.core.spec import EncoderSpec


@encoder_options()
def info(spec: EncoderSpec, as_json: JsonOption = False) -> None:
    """Load a model and show how it runs: architecture, dimension, max length, backend, dtype, runtime, prompts."""
    encoder = spec.build()
    details = encoder.info()
    if as_json:
        typer.echo(json.dumps(details, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model {details['model_id']}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in details.items():
        if key == "prompts":
            value = "\n".join(f"{name}: {prompt!r}" for name, prompt in value.items()) or "(none)"
        elif isinstance(value, dict):
            value = "\n".join(f"{name}: {item}" for name, item in value.items()) or "(none)"
        table.add_row(key, str(value))
    Console().print(table)


def plugins(
    ctx: typer.Context,
    as_json: JsonOption = False,
    check: Annotated[
        bool, typer.Option("--check", help="Also probe which devices and runtimes this machine can use (slower).")
    ] = False,
) -> None:
    """List the plugins, what each provides (pooling, templates, devices, aliases, commands) and the failed ones.

    Exits with code 0 even when a plugin failed: the failure is part of the report. Disabled
    plugins (-p no:NAME, $YOUTU_EMBED_DISABLE_PLUGINS) are listed too.
    """
    from youtu_embedding.core.cli.plugin_report import plugin_report
    from youtu_embedding.core.plugins import get_registry

    report = plugin_report(get_registry(), ctx.find_root().command, probe=check)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_report(report)


def _state(item: dict[str, Any]) -> str:
    if item["available"] is None:
        return "not probed: --check"
    return "available" if item["available"] else f"not available: {item.get('reason') or item.get('error')}"


def _details(kind: str, item: dict[str, Any]) -> str:
    if kind == "devices":
        return f"{_state(item)}, priority {item['priority']}"
    if kind == "runtimes":
        state = _state(item)
        return f"{item['description']} ({state}; quantization: {', '.join(item['quantizations']) or 'none'})"
    if kind == "aliases":
        return f"-> {item['target']}"
    if kind == "templates":
        return f"query: {item['query_format']!r}, document: {item['document_format']!r}"
    return str(item.get("description", item.get("help", "")))


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="plugins")
    for column in ("name", "distribution", "version", "builtin", "hooks"):
        table.add_column(column, overflow="fold")
    for plugin in report["plugins"]:
        table.add_row(
            plugin["name"],
            plugin["distribution"],
            plugin["version"],
            "yes" if plugin["builtin"] else "no",
            ", ".join(h.removeprefix("register_") for h in plugin["hooks"]),
        )
    console.print(table)
    provided = Table(title="provided")
    for column in ("kind", "name", "plugin", "details"):
        provided.add_column(column, overflow="fold")
    for kind in ("pooling", "templates", "devices", "runtimes", "aliases", "commands"):
        for name, item in report[kind].items():
            provided.add_row(kind, name, item["plugin"] or "?", _details(kind, item))
    console.print(provided)
    for plugin in report.get("disabled", []):
        console.print(f"disabled plugin: {plugin['name']} ({plugin['distribution']} {plugin['version']})")
    if not report["failures"]:
        console.print("no failed plugins")
        return
    failed = Table(title="failed plugins", title_style="bold red")
    for column in ("name", "distribution", "stage", "hook", "error"):
        failed.add_column(column, overflow="fold")
    for failure in report["failures"]:
        failed.add_row(
            failure["name"],
            f"{failure['distribution']} {failure['version']}",
            failure["stage"],
            failure["hook"] or "",
            failure["error"],
        )
    console.print(failed)
