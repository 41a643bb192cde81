"""The ``youtu-embed`` application: a Typer app whose subcommands all come from plugins.

The core commands (encode, similarity, search, info, plugins) are registered by the built-in
plugin :mod:`youtu_embedding.core.builtins.commands` through the same ``register_commands`` hook as
third-party commands, by name (:func:`~youtu_embedding.core.cli.lazy.lazy_command`): a command's
module is imported only when it runs, so building the app imports neither torch nor transformers.
A plugin whose hook raises is recorded as a failure and skipped.

``-p no:NAME`` / ``--disable-plugin NAME`` (repeatable, before the subcommand) leave an installed
plugin out, as does ``$YOUTU_EMBED_DISABLE_PLUGINS``; :func:`main` reads them before it builds the
app, so a disabled plugin is never imported.

Errors raised by the core (:class:`~youtu_embedding.core.errors.YoutuEmbeddingError`,
``ValueError``, ``OSError``) in any subcommand print ``error: ...`` on one line to stderr and exit
with code 2, without a traceback.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

#: Exit code of a command that failed on a user error (bad option, input, model...).
USAGE_ERROR_EXIT_CODE = 2


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _user_errors() -> tuple[type[BaseException], ...]:
    from youtu_embedding.core.errors import YoutuEmbeddingError

    return (YoutuEmbeddingError, ValueError, OSError)


class ErrorReportingGroup(TyperGroup):
    """A Typer group that turns user errors of any subcommand into ``error: ...`` and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand; report user errors on one line instead of a traceback."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, BrokenPipeError):
            raise  # click reports these itself (a closed pipe, e.g. `| head`, exits quietly)
        except _user_errors() as exc:
            typer.echo(f"error: {_one_line(exc)}", err=True)
            raise typer.Exit(USAGE_ERROR_EXIT_CODE) from None


DISABLE_PREFIX = "no:"


def _disabled_names(plugin_flags: Iterable[str], disable_flags: Iterable[str]) -> list[str]:
    names = list(disable_flags)
    for value in plugin_flags:
        if not value.startswith(DISABLE_PREFIX) or not value[len(DISABLE_PREFIX) :].strip():
            raise typer.BadParameter(f"expected no:NAME (disable plugin NAME), got {value!r}", param_hint="'-p'")
        names.append(value[len(DISABLE_PREFIX) :].strip())
    return names


def _root_callback(
    plugin: Annotated[
        list[str] | None,
        typer.Option("-p", metavar="no:NAME", help="Disable the installed plugin NAME (repeatable), as pytest's -p."),
    ] = None,
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin",
            metavar="NAME",
            help="Disable an installed plugin (repeatable; also $YOUTU_EMBED_DISABLE_PLUGINS=a,b).",
        ),
    ] = None,
) -> None:
    """Embed texts with Youtu-Embedding or any Hugging Face / sentence-transformers encoder."""
    from youtu_embedding.core.plugins import PluginRegistry, disabled_from_env, get_registry, reset_registry

    names = _disabled_names(plugin or [], disable_plugin or [])
    if names and not set(names) <= get_registry().disable_requested:  # app built without them (e.g. CliRunner)
        reset_registry(PluginRegistry(disable=[*disabled_from_env(), *names]))


def disabled_on_command_line(argv: Sequence[str]) -> list[str]:
    """Plugin names given with ``-p no:NAME`` / ``--disable-plugin NAME`` before the subcommand."""
    names: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg, value = args[i], None
        if arg in ("-p", "--disable-plugin") and i + 1 < len(args):
            value, i = args[i + 1], i + 1
        elif arg.startswith("--disable-plugin="):
            value = arg.partition("=")[2]
        elif arg.startswith("-p") and len(arg) > 2:
            value, arg = arg[2:], "-p"
        if value is not None:
            names.append(value.removeprefix(DISABLE_PREFIX) if arg == "-p" else value)
        i += 1
    return [name for name in names if name]


def build_app(*, disable: Iterable[str] | None = None) -> typer.Typer:
    """A fresh ``youtu-embed`` app with the commands of every registered plugin.

    Each plugin's ``register_commands`` runs separately (``call_each``), so a plugin that fails
    is recorded in the registry's failures and the other commands stay available. ``disable``:
    plugin names to leave out besides those of ``$YOUTU_EMBED_DISABLE_PLUGINS`` (a fresh registry
    is made when given).
    """
    from youtu_embedding.core.plugins import PluginRegistry, disabled_from_env, get_registry, reset_registry

    registry = (
        get_registry() if disable is None else reset_registry(PluginRegistry(disable=[*disabled_from_env(), *disable]))
    )

    app = typer.Typer(
        name="youtu-embed",
        cls=ErrorReportingGroup,
        help="Embed texts with Youtu-Embedding or any Hugging Face / sentence-transformers encoder.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root_callback)
    registry.call_each("register_commands", app=app)
    return app


def _format_warning(message: Any, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
    return "warning: " + " ".join(str(message).split()) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``youtu-embed`` console script."""
    warnings.formatwarning = _format_warning  # plugin failures are warnings: one line each, no source
    args = argv if argv is not None else sys.argv[1:]
    names = disabled_on_command_line(args)
    app = build_app(disable=names or None)
    app(args=args, prog_name="youtu-embed")


if __name__ == "__main__":  # pragma: no cover
    main()
