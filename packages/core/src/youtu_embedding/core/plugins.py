"""Plugin manager: loads entry points of the ``youtu_embedding`` group, records failures.

Built-in plugins are published by the ``youtu-embedding-core`` distribution through the same
entry-point group as third-party plugins. When the core runs from a source tree without installed
metadata, the built-ins are registered by module name instead (as datasette does).

A plugin that fails to import or to register is recorded in :attr:`PluginRegistry.failures` with the
distribution, the entry point and the hook at fault; the rest of the system keeps working.

An installed plugin can be disabled by name (its entry-point name or its distribution's name), as
pytest's ``-p no:NAME`` does: ``YOUTU_EMBED_DISABLE_PLUGINS=a,b`` or ``youtu-embed -p no:a`` (or
``--disable-plugin a``). A disabled plugin is not even imported; it is listed in
:attr:`PluginRegistry.disabled`. The core's built-ins cannot be disabled (the CLI and the
``Encoder`` are made of them): naming one is reported with a warning and has no effect.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import importlib.metadata as md
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from youtu_embedding.core import hookspecs
from youtu_embedding.core.errors import PluginError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
CORE_DISTRIBUTION = "youtu-embedding-core"
DEFAULT_PLUGINS = {
    "pooling": "youtu_embedding.core.builtins.pooling",
    "templates": "youtu_embedding.core.builtins.templates",
    "devices": "youtu_embedding.core.builtins.devices",
    "aliases": "youtu_embedding.core.builtins.aliases",
    "commands": "youtu_embedding.core.builtins.commands",
    "runtimes": "youtu_embedding.core.builtins.runtimes",
    "chunkers": "youtu_embedding.core.builtins.chunkers",
}
#: Comma-separated names of installed plugins to leave out (entry-point or distribution names).
DISABLE_ENV = "YOUTU_EMBED_DISABLE_PLUGINS"

_current_plugin: contextvars.ContextVar[str | None] = contextvars.ContextVar("youtu_current_plugin", default=None)


def current_plugin() -> str | None:
    """The name of the plugin whose hook is running now (inside :meth:`PluginRegistry.call_each`)."""
    return _current_plugin.get()


def disabled_from_env() -> list[str]:
    """Plugin names listed in ``$YOUTU_EMBED_DISABLE_PLUGINS``."""
    return [name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()]


@dataclass
class PluginFailure:
    """A plugin that could not be loaded or whose hook failed."""

    name: str
    distribution: str
    version: str
    stage: str  # "import", "register" or "hook"
    hook: str | None
    error: str

    def message(self) -> str:
        where = f" in hook '{self.hook}'" if self.hook else ""
        return (
            f"plugin '{self.name}' from distribution '{self.distribution} {self.version}' "
            f"failed to {self.stage}{where}: {self.error}"
        )


@dataclass
class PluginInfo:
    """A registered plugin and the hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False


@dataclass
class DisabledPlugin:
    """An installed plugin left out by name (not imported)."""

    name: str
    distribution: str
    version: str


class PluginRegistry:
    """A pluggy manager plus bookkeeping of where each plugin came from and what failed.

    Args:
        load_entry_points: load the plugins of the ``youtu_embedding`` entry-point group.
        disable: names of installed plugins to leave out (entry-point or distribution names);
            None: those of ``$YOUTU_EMBED_DISABLE_PLUGINS``.
    """

    def __init__(self, *, load_entry_points: bool = True, disable: Iterable[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.disabled: list[DisabledPlugin] = []
        self.dists: dict[str, tuple[str, str]] = {}
        self._cache: dict[str, Any] = {}
        self._disable = set(disabled_from_env() if disable is None else disable)
        if load_entry_points:
            self._load_entry_points()
            self._check_disabled_names()

    def _load_entry_points(self) -> None:
        seen_builtin = False
        entry_points = md.entry_points(group=ENTRY_POINT_GROUP)
        # the core's built-ins first: their commands lead `youtu-embed --help`, and plugins replace them
        for ep in sorted(entry_points, key=lambda ep: ep.dist is None or ep.dist.name != CORE_DISTRIBUTION):
            dist_name = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "?"
            if dist_name == CORE_DISTRIBUTION:
                seen_builtin = True
            elif ep.name in self._disable or dist_name in self._disable:
                self.disabled.append(DisabledPlugin(ep.name, dist_name, version))
                continue
            self._register_entry_point(ep.name, dist_name, version, ep.load)
        if not seen_builtin:  # source checkout without installed metadata
            for name, module in DEFAULT_PLUGINS.items():
                load = functools.partial(importlib.import_module, module)
                self._register_entry_point(name, CORE_DISTRIBUTION, "source", load)

    @property
    def disable_requested(self) -> frozenset[str]:
        """The plugin names this registry was asked to leave out."""
        return frozenset(self._disable)

    def _check_disabled_names(self) -> None:
        builtins = set(DEFAULT_PLUGINS) | {CORE_DISTRIBUTION}
        known = {p.name for p in self.disabled} | {p.distribution for p in self.disabled}
        for name in sorted(self._disable - known):
            if name in builtins:
                message = f"plugin '{name}' is built into {CORE_DISTRIBUTION} and cannot be disabled (ignored)"
            else:
                installed = sorted({n for n, (d, _) in self.dists.items() if d != CORE_DISTRIBUTION})
                message = (
                    f"cannot disable plugin '{name}': no installed plugin has that name "
                    f"(installed: {', '.join(installed) or 'none'})"
                )
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _register_entry_point(self, name: str, dist: str, version: str, load: Callable[[], object]) -> None:
        if self.pm.get_plugin(name) is not None or self.pm.is_blocked(name):
            name = f"{dist}:{name}"
        try:
            plugin = load()
        except Exception as exc:
            self._fail(name, dist, version, "import", None, exc)
            return
        self.register(plugin, name=name, distribution=dist, version=version)

    def register(self, plugin: object, *, name: str, distribution: str = "local", version: str = "") -> bool:
        """Register a plugin object; on validation failure record it and return False."""
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            hook = _hook_of_validation_error(exc)
            self._fail(name, distribution, version, "register", hook, exc)
            return False
        except Exception as exc:
            self._fail(name, distribution, version, "register", None, exc)
            return False
        unknown = [
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if caller.spec is None and not all(impl.optionalhook for impl in caller.get_hookimpls())
        ]
        if unknown:  # pluggy accepts these silently; a misspelt hook would never be called
            self.pm.unregister(plugin)
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("register_")))
            self._fail(
                name,
                distribution,
                version,
                "register",
                unknown[0],
                PluginError(f"unknown hook '{unknown[0]}' (known hooks: {known})"),
            )
            return False
        self.dists[name] = (distribution, version)
        self._cache.clear()
        return True

    def _fail(self, name: str, dist: str, version: str, stage: str, hook: str | None, exc: BaseException) -> None:
        failure = PluginFailure(name, dist, version, stage, hook, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        warnings.warn(failure.message(), RuntimeWarning, stacklevel=3)

    # -- querying -------------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        """Registered plugins with the hooks each implements."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            dist, version = self.dists.get(name, ("local", ""))
            callers = self.pm.get_hookcallers(plugin) or []
            out.append(
                PluginInfo(name, dist, version, sorted(c.name for c in callers), builtin=dist == CORE_DISTRIBUTION)
            )
        return sorted(out, key=lambda p: (not p.builtin, p.name))

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook separately, oldest registration first.

        Returns ``(plugin name, result)`` pairs; an implementation that raises is recorded as a
        failure and skipped, so one broken plugin cannot take the others down.
        """
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for impl in caller.get_hookimpls():
            token = _current_plugin.set(impl.plugin_name)
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                dist, version = self.dists.get(impl.plugin_name, ("local", ""))
                if not any(f.name == impl.plugin_name and f.hook == hook_name for f in self.failures):
                    self._fail(impl.plugin_name, dist, version, "hook", hook_name, exc)
                continue
            finally:
                _current_plugin.reset(token)
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def collect(self, hook_name: str) -> dict[str, tuple[str, Any]]:
        """Merge a registry hook's results into ``name -> (provider, item)``; cached."""
        if hook_name in self._cache:
            return self._cache[hook_name]
        merged: dict[str, tuple[str, Any]] = {}
        for provider, result in self.call_each(hook_name):
            items = result.items() if isinstance(result, dict) else ((item.name, item) for item in result)
            for key, item in items:
                if key in merged and merged[key][0] != provider:
                    logger.warning(
                        "%s '%s' from plugin '%s' replaces the one from '%s'", hook_name, key, provider, merged[key][0]
                    )
                merged[key] = (provider, item)
        self._cache[hook_name] = merged
        return merged


def _hook_of_validation_error(exc: pluggy.PluginValidationError) -> str | None:
    text = str(exc)
    for spec in (
        "register_pooling_strategies",
        "register_instruction_templates",
        "register_device_backends",
        "register_model_aliases",
        "register_runtimes",
        "register_chunkers",
        "register_commands",
    ):
        if spec in text:
            return spec
    marker = "unknown hook '"
    if marker in text:
        return text.split(marker, 1)[1].split("'", 1)[0]
    return None


_registry: PluginRegistry | None = None
_lock = threading.Lock()


def get_registry() -> PluginRegistry:
    """The process-wide plugin registry (created on first use)."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = PluginRegistry()
        return _registry


def reset_registry(registry: PluginRegistry | None = None) -> PluginRegistry:
    """Replace the process-wide registry (tests, or after installing plugins at run time)."""
    global _registry
    with _lock:
        _registry = registry if registry is not None else PluginRegistry()
        return _registry


def lookup(hook_name: str, kind: str, name: str) -> Any:
    """Find the item `name` of a registry hook or raise a clear error listing what exists."""
    from youtu_embedding.core.errors import InvalidArgumentError

    items = get_registry().collect(hook_name)
    if name not in items:
        raise InvalidArgumentError(kind, f"unknown {kind} '{name}'", sorted(items))
    return items[name][1]


__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "DisabledPlugin",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginRegistry",
    "current_plugin",
    "disabled_from_env",
    "get_registry",
    "lookup",
    "reset_registry",
]
