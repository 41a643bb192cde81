"""What the registered plugins provide, for ``youtu-embed plugins``.

:func:`plugin_report` returns plain JSON-ready data: every plugin (distribution, version, builtin,
hooks), every pooling strategy, template, device backend, alias and command with the plugin that
provides it, and the failed and disabled plugins. Availability of device backends and runtimes
is probed only with ``probe=True`` (``youtu-embed plugins --check``): probing imports torch and the
runtimes' packages, which takes seconds, while the listing itself takes a fraction of one.
"""

from __future__ import annotations

import dataclasses
import inspect
from types import ModuleType
from typing import Any

from youtu_embedding.core.cli.lazy import LazyCommand
from youtu_embedding.core.plugins import PluginRegistry

#: Registry hooks and the report section each one fills.
SECTIONS = {
    "register_pooling_strategies": "pooling",
    "register_instruction_templates": "templates",
    "register_device_backends": "devices",
    "register_model_aliases": "aliases",
    "register_runtimes": "runtimes",
    "register_chunkers": "chunkers",
}


def _pooling(item: Any, probe: bool) -> dict[str, Any]:
    return {"description": item.description}


def _template(item: Any, probe: bool) -> dict[str, Any]:
    return {
        "description": item.description,
        "query_format": item.query_format,
        "document_format": item.document_format,
        "default_instruction": item.default_instruction,
        "tasks": len(item.tasks),
    }


def _device(item: Any, probe: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": item.description, "priority": item.priority, "available": None}
    if not probe:
        return entry
    try:
        entry["available"] = bool(item.is_available())
    except Exception as exc:  # a plugin's availability probe must not break the report
        entry["available"] = False
        entry["error"] = f"{type(exc).__name__}: {exc}"
    return entry


def _runtime(item: Any, probe: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": item.description, "quantizations": list(item.quantizations)}
    if not probe:
        return {**entry, "reason": None, "available": None}
    try:
        entry["reason"] = item.unavailable_reason()
    except Exception as exc:  # a plugin's availability probe must not break the report
        entry["reason"] = f"{type(exc).__name__}: {exc}"
    entry["available"] = entry["reason"] is None
    return entry


def _chunker(item: Any, probe: bool) -> dict[str, Any]:
    return {"description": item.description, "options": {k: repr(v) for k, v in item.options.items()}}


def _alias(item: Any, probe: bool) -> dict[str, Any]:
    return {"target": str(item)}


_DESCRIBE = {
    "pooling": _pooling,
    "templates": _template,
    "devices": _device,
    "aliases": _alias,
    "runtimes": _runtime,
    "chunkers": _chunker,
}


def _plugins_by_module(registry: PluginRegistry) -> dict[str, tuple[str, object]]:
    """Plugin name -> (the module that holds it, the plugin object)."""
    found = {}
    for name, plugin in registry.pm.list_name_plugin():
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        found[name] = (module, plugin)
    return found


def _callback(command: Any) -> Any:
    callback = getattr(command, "callback", None)
    if callback is not None:
        return inspect.unwrap(callback)
    for sub in getattr(command, "commands", {}).values():  # a group added with app.add_typer
        found = _callback(sub)
        if found is not None:
            return found
    return None


def _provider_of(callback: Any, plugins: dict[str, tuple[str, object]]) -> str | None:
    """The plugin that holds `callback` (as an attribute, or in its module or a submodule of it)."""
    if callback is None:
        return None
    name = getattr(callback, "__name__", "")
    for plugin_name, (_, plugin) in plugins.items():
        if name and getattr(plugin, name, None) is callback:
            return plugin_name
    module = getattr(callback, "__module__", None) or ""
    inside = [(len(m), n) for n, (m, _) in plugins.items() if module == m or module.startswith(m + ".")]
    return max(inside)[1] if inside else None


def command_providers(root_command: Any, registry: PluginRegistry) -> dict[str, str | None]:
    """Subcommand name -> the plugin that registered it (the plugin module holding its function)."""
    plugins = _plugins_by_module(registry)
    commands = getattr(root_command, "commands", {}) or {}
    return {
        name: cmd.plugin if isinstance(cmd, LazyCommand) else _provider_of(_callback(cmd), plugins)
        for name, cmd in sorted(commands.items())
    }


def plugin_report(registry: PluginRegistry, root_command: Any | None = None, *, probe: bool = False) -> dict[str, Any]:
    """Plugins, what each provides, failures and disabled plugins, as JSON-ready data.

    ``probe``: also ask each device backend and runtime whether this machine can use it
    (``available`` is None otherwise).
    """
    report: dict[str, Any] = {"plugins": [], **{section: {} for section in SECTIONS.values()}, "commands": {}}
    provides: dict[str, dict[str, list[str]]] = {}
    for hook, section in SECTIONS.items():
        for key, (provider, item) in sorted(registry.collect(hook).items()):
            report[section][key] = {"plugin": provider, **_DESCRIBE[section](item, probe)}
            provides.setdefault(provider, {}).setdefault(section, []).append(key)
    if root_command is not None:
        commands = getattr(root_command, "commands", {}) or {}
        for name, provider in command_providers(root_command, registry).items():
            report["commands"][name] = {"plugin": provider, "help": commands[name].get_short_help_str(limit=100)}
            if provider is not None:
                provides.setdefault(provider, {}).setdefault("commands", []).append(name)
    for info in registry.plugins():
        entry = dataclasses.asdict(info)
        entry["provides"] = provides.get(info.name, {})
        report["plugins"].append(entry)
    report["failures"] = [{**dataclasses.asdict(f), "message": f.message()} for f in registry.failures]
    report["disabled"] = [dataclasses.asdict(d) for d in registry.disabled]
    return report
