"""Built-in CLI commands: encode, similarity, search, info, plugins.

Registered through the ``register_commands`` hook like any plugin's commands; the implementations
live in :mod:`youtu_embedding.core.cli.embed_commands` and :mod:`youtu_embedding.core.cli.inspect_commands`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.cli.embed_commands import encode, search, similarity
from youtu_embedding.core.cli.inspect_commands import info, plugins
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer

#: Command name -> function, in the order they appear in ``youtu-embed --help``.
CORE_COMMANDS = {
    "encode": encode,
    "similarity": similarity,
    "search": search,
    "info": info,
    "plugins": plugins,
}


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add the core commands to the ``youtu-embed`` app."""
    for name, function in CORE_COMMANDS.items():
        app.command(name)(function)
