"""The serve package's plugin module (entry point ``youtu_embedding: serve``): ``serve`` and ``client``.

Commands are registered by name and imported when they run (``lazy_command``), so that
``youtu-embed --help`` does not import this package's command modules or their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.cli.lazy import lazy_command
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add the serve package's commands to ``youtu-embed``."""
    lazy_command(
        app,
        "serve",
        "youtu_embedding.serve.commands:serve",
        help="Serve a model: gRPC (youtu.embedding.v1, TEI's tei.v1, health, reflection) and HTTP (OpenAI, TEI) APIs.",
    )
    lazy_command(app, "client", "youtu_embedding.serve.commands:client_app", help="Call a running youtu-embed server.")
