"""The st package's plugin module (entry point of the ``youtu_embedding`` group): adds ``export``.

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
    """Add the st package's commands to ``youtu-embed``."""
    lazy_command(
        app,
        "export",
        "youtu_embedding.st.commands:export",
        help="Export MODEL to OUT as a sentence-transformers directory (modules.json, prompts, 1_Pooling, Normalize).",
    )
