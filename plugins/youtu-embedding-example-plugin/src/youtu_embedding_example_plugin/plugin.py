"""Hook implementations of the example plugin (the module named by its entry point)."""

from __future__ import annotations

import typer

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.pooling import PoolingStrategy
from youtu_embedding.core.templates import InstructionTemplate
from youtu_embedding_example_plugin.commands import count_tokens
from youtu_embedding_example_plugin.pooling import MEAN_SQRT_LEN
from youtu_embedding_example_plugin.templates import INSTRUCTOR


@hookimpl
def register_pooling_strategies() -> list[PoolingStrategy]:
    """The ``mean_sqrt_len`` pooling strategy."""
    return [MEAN_SQRT_LEN]


@hookimpl
def register_instruction_templates() -> list[InstructionTemplate]:
    """The ``instructor`` template."""
    return [INSTRUCTOR]


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """``youtu-embed count-tokens``."""
    app.command("count-tokens")(count_tokens)
