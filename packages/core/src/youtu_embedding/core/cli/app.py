"""The ``youtu-embed`` application: a Typer app whose subcommands all come from plugins.

The core commands (encode, similarity, search, info, plugins) are registered by the built-in
plugin :mod:`youtu_embedding.core.builtins.commands` through the same ``register_commands`` hook as
third-party commands. A plugin whose hook raises is recorded as a failure and skipped.

Errors raised by the core (:class:`~youtu_embedding.core.errors.YoutuEmbeddingError`,
``ValueError``, ``OSError``) in any subcommand print ``error: ...`` on one line to stderr and exit
with code 2, without a traceback.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

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


def _root_callback() -> None:
    """Embed texts with Youtu-Embedding or any Hugging Face / sentence-transformers encoder."""


def build_app() -> typer.Typer:
    """A fresh ``youtu-embed`` app with the commands of every registered plugin.

    Each plugin's ``register_commands`` runs separately (``call_each``), so a plugin that fails
    is recorded in the registry's failures and the other commands stay available.
    """
    from youtu_embedding.core.plugins import get_registry

    app = typer.Typer(
        name="youtu-embed",
        cls=ErrorReportingGroup,
        help="Embed texts with Youtu-Embedding or any Hugging Face / sentence-transformers encoder.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root_callback)
    get_registry().call_each("register_commands", app=app)
    return app


def _format_warning(message: Any, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
    return "warning: " + " ".join(str(message).split()) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``youtu-embed`` console script."""
    warnings.formatwarning = _format_warning  # plugin failures are warnings: one line each, no source
    app = build_app()
    app(args=argv if argv is not None else sys.argv[1:], prog_name="youtu-embed")


if __name__ == "__main__":  # pragma: no cover
    main()
