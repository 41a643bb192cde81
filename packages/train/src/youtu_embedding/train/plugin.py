"""The train package's plugin module (entry point ``youtu_embedding: train``): ``train``, ``merge``,
``train-data`` and ``train-memory``.

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
    """Add the train package's commands to ``youtu-embed``."""
    lazy_command(
        app,
        "train",
        "youtu_embedding.train.commands:train_app",
        help="Fine-tune an embedding model with CoDiEmb (IR + STS losses, dynamic single-task sampler).",
    )
    lazy_command(
        app,
        "merge",
        "youtu_embedding.train.commands:merge_command",
        help="Merge fine-tuned checkpoints of one base (delta-guided per-parameter weights, or uniform).",
    )
    lazy_command(
        app,
        "train-data",
        "youtu_embedding.train.commands:data_app",
        help="Validate and convert training data (CoDiEmb unified JSONL).",
    )
    lazy_command(
        app,
        "train-memory",
        "youtu_embedding.train.memory_commands:train_memory_command",
        help="Estimate GPU memory per device of one training step (params, grads, optimizer, activations).",
    )
