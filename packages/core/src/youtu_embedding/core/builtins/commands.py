"""Built-in CLI commands: encode, similarity, search, info, plugins.

Registered through the ``register_commands`` hook like any plugin's commands, by name: the
implementations in :mod:`youtu_embedding.core.cli.embed_commands` and
:mod:`youtu_embedding.core.cli.inspect_commands` are imported only when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.cli.lazy import lazy_command
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer

_EMBED = "youtu_embedding.core.cli.embed_commands"
_INSPECT = "youtu_embedding.core.cli.inspect_commands"

#: Command name -> (``module:function``, one-line help), in the order of ``youtu-embed --help``.
CORE_COMMANDS = {
    "encode": (f"{_EMBED}:encode", "Embed the texts of a file and write the embeddings (rows in input order)."),
    "similarity": (
        f"{_EMBED}:similarity",
        "Score queries against documents (--query/--document, or files), or two texts against each other.",
    ),
    "search": (
        f"{_EMBED}:search",
        "Rank the documents of a corpus for each query (documents: title + text, as mteb embeds BEIR corpora).",
    ),
    "info": (
        f"{_INSPECT}:info",
        "Load a model and show how it runs: architecture, dimension, max length, backend, dtype, runtime, prompts.",
    ),
    "plugins": (
        f"{_INSPECT}:plugins",
        "List the plugins, what each provides (pooling, templates, devices, aliases, commands) and the failed ones.",
    ),
}


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add the core commands to the ``youtu-embed`` app."""
    for name, (target, help_text) in CORE_COMMANDS.items():
        lazy_command(app, name, target, help=help_text)
