"""Commands registered by name and imported on use, so that ``youtu-embed --help`` answers at once.

A plugin's ``register_commands`` hook names its commands instead of importing them::

    from youtu_embedding.core.cli.lazy import lazy_command

    @hookimpl
    def register_commands(app):
        lazy_command(app, "my-command", "my_package.cli:my_command", help="Do one thing with a model.")
        lazy_command(app, "my-group", "my_package.cli:group_app", help="Several subcommands.")  # a typer.Typer

The app then holds a placeholder (a click command that knows the import path and the one-line
help shown in ``youtu-embed --help``). The target module is imported only when the command runs,
or when its own ``--help`` is asked for: the placeholder hands its arguments to the real command.
Keep the target module's heavy imports (torch, transformers, grpc, ray...) inside the command
functions too, so that ``youtu-embed my-command --help`` is fast as well.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar

from typer.core import TyperCommand

from youtu_embedding.core.errors import PluginError

#: The click ``Command`` class typer builds on (typer >= 0.20 ships its own copy of click, so the
#: ``click`` package's class is not it).
ClickCommand: type = TyperCommand.__mro__[1]

if TYPE_CHECKING:
    import typer


class LazyCommand(TyperCommand):
    """Placeholder of a command whose implementation is imported on first use.

    ``target`` is ``"module:attribute"``: a function (made a command the way ``app.command`` makes
    one), a ``typer.Typer`` (a group of subcommands) or a ``click.Command``. ``plugin`` is the
    plugin that registered it (shown by ``youtu-embed plugins``).
    """

    target: ClassVar[str] = ""
    plugin: ClassVar[str | None] = None
    _loaded: Any = None

    def load(self) -> Any:
        """Import the target and build its click command (once)."""
        if self._loaded is None:
            self._loaded = load_command(self.name or "", self.target)
        return self._loaded

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        """The real command's context: click then invokes ``ctx.command``, the real command."""
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        """Run the real command (when a caller invokes the placeholder itself)."""
        return self.load().invoke(ctx)


def load_command(name: str, target: str) -> Any:
    """Import ``"module:attribute"`` and return it as a click command named `name`."""
    import typer

    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise PluginError(f"command '{name}': target must be 'module:attribute', got {target!r}")
    try:
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"command '{name}' ({target}) could not be loaded: {type(exc).__name__}: {exc}") from exc
    if isinstance(obj, ClickCommand):
        return obj
    if isinstance(obj, typer.Typer):
        return typer.main.get_command(obj)  # its only command, or a group of several
    if callable(obj):
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.command(name)(obj)
        return typer.main.get_command(holder)
    raise PluginError(f"command '{name}' ({target}) is a {type(obj).__name__}, not a function or a typer.Typer")


def lazy_command(app: typer.Typer, name: str, target: str, *, help: str) -> None:
    """Add command `name` to `app`; ``target`` (``"module:attribute"``) is imported when it runs.

    ``help`` is the one-line summary listed by ``youtu-embed --help`` (the full help, with the
    options, comes from the target itself).
    """
    from youtu_embedding.core.plugins import current_plugin

    placeholder = type(
        f"LazyCommand[{name}]", (LazyCommand,), {"target": target, "plugin": current_plugin(), "__module__": __name__}
    )
    app.command(
        name,
        cls=placeholder,
        help=help,
        add_help_option=False,  # --help goes to the real command
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(_not_loaded)


def _not_loaded() -> None:  # pragma: no cover - LazyCommand always runs its target instead
    raise RuntimeError("a lazy command ran its placeholder callback")


__all__ = ["LazyCommand", "lazy_command", "load_command"]
