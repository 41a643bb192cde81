"""The eval package's plugin module (entry point ``youtu_embedding: eval``): adds ``youtu-embed eval``
and ``youtu-embed eval-report``. Heavy imports (mteb, torch) happen only when a command runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add ``eval``, ``eval-report`` and ``eval-long-documents`` to the ``youtu-embed`` app."""
    from youtu_embedding.eval.cli import eval_command, eval_long_documents_command, eval_report_command

    app.command("eval")(eval_command)
    app.command("eval-report")(eval_report_command)
    app.command("eval-long-documents")(eval_long_documents_command)
