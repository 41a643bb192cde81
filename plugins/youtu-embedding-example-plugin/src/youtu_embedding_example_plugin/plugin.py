"""Hook implementations of the example plugin (the module named by its entry point).

It follows the pattern every plugin should (docs/plugins.md): this module is imported whenever
``youtu-embed`` starts, so it imports nothing heavy, and its command is registered by name
(``lazy_command``): ``youtu_embedding_example_plugin.commands`` is imported only when
``youtu-embed count-tokens`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.cli.lazy import lazy_command
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer

    from youtu_embedding.core.chunking import Chunker
    from youtu_embedding.core.pooling import PoolingStrategy
    from youtu_embedding.core.templates import InstructionTemplate


@hookimpl
def register_pooling_strategies() -> list[PoolingStrategy]:
    """The ``mean_sqrt_len`` pooling strategy."""
    from youtu_embedding_example_plugin.pooling import MEAN_SQRT_LEN

    return [MEAN_SQRT_LEN]


@hookimpl
def register_instruction_templates() -> list[InstructionTemplate]:
    """The ``instructor`` template."""
    from youtu_embedding_example_plugin.templates import INSTRUCTOR

    return [INSTRUCTOR]


@hookimpl
def register_chunkers() -> list[Chunker]:
    """The ``markdown-sections`` chunker."""
    from youtu_embedding_example_plugin.chunkers import MARKDOWN_SECTIONS

    return [MARKDOWN_SECTIONS]


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """``youtu-embed count-tokens``, imported when it runs."""
    lazy_command(
        app,
        "count-tokens",
        "youtu_embedding_example_plugin.commands:count_tokens",
        help="Count the tokens of each text as the model's tokenizer sees it (special tokens included).",
    )
