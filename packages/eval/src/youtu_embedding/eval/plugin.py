"""The eval package's plugin module (entry point ``youtu_embedding: eval``): adds ``youtu-embed eval``
and ``youtu-embed eval-report``, registered by name: :mod:`youtu_embedding.eval.cli` (and mteb,
torch) are imported only when a command runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.cli.lazy import lazy_command
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add ``eval``, ``eval-report`` and ``eval-long-documents`` to the ``youtu-embed`` app."""
    lazy_command(
        app,
        "eval",
        "youtu_embedding.eval.cli:eval_command",
        help="Evaluate a model on local task folders and/or registered mteb (C-MTEB) tasks; "
        "write results and a report.",
    )
    lazy_command(
        app,
        "eval-report",
        "youtu_embedding.eval.cli:eval_report_command",
        help="Write the report (Markdown, HTML, PNG) of an existing results folder, optionally against a baseline.",
    )
    lazy_command(
        app,
        "eval-long-documents",
        "youtu_embedding.eval.cli:eval_long_documents_command",
        help="Document-level retrieval built from a Retrieval folder (passages grouped into documents): "
        "nDCG@10 of late chunking, naive chunking and whole-document embeddings.",
    )
