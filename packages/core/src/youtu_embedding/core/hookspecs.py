# mypy: disable-error-code="empty-body"
"""Hook specifications of the youtu-embedding plugin system (pluggy).

A plugin is a module or object with functions decorated by :data:`hookimpl`, published through
the ``youtu_embedding`` entry-point group of its distribution::

    [project.entry-points.youtu_embedding]
    my_plugin = "my_package.plugin"

The core registers its own built-ins through the same group, so a third-party plugin is a peer of
the built-ins: it can add pooling strategies, instruction templates, device backends, model
aliases, runtimes, chunkers and CLI subcommands. Registry hooks return a list; names must be unique, and a plugin that
reuses a built-in name replaces it (with a warning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from youtu_embedding.core.chunking import Chunker
    from youtu_embedding.core.devices import DeviceBackend
    from youtu_embedding.core.pooling import PoolingStrategy
    from youtu_embedding.core.runtimes import Runtime
    from youtu_embedding.core.templates import InstructionTemplate

PROJECT_NAME = "youtu_embedding"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_pooling_strategies() -> list[PoolingStrategy]:
    """Return pooling strategies to make available by name.

    Each :class:`~youtu_embedding.core.pooling.PoolingStrategy` wraps a function
    ``fn(token_embeddings, pooling_mask) -> embeddings`` where ``token_embeddings`` is
    ``(batch, seq, dim)`` and ``pooling_mask`` is ``(batch, seq)`` with 1 for the tokens to pool
    (padding and excluded instruction tokens are 0). It must return ``(batch, dim)``.
    """


@hookspec
def register_instruction_templates() -> list[InstructionTemplate]:
    """Return instruction templates (how an instruction becomes a text prefix, plus task tables).

    A template renders ``instruction -> prefix`` for queries and documents, and may carry a table
    of task name -> instruction (for example the Youtu C-MTEB instructions).
    """


@hookspec
def register_device_backends() -> list[DeviceBackend]:
    """Return device backends (cpu, cuda, mps, ...).

    A :class:`~youtu_embedding.core.devices.DeviceBackend` reports whether it is available, its
    torch device string, its default dtype, and applies thread settings.
    """


@hookspec
def register_model_aliases() -> dict[str, str]:
    """Return a mapping of alias -> model id or local path.

    Aliases are resolved before the Hub or the file system is consulted, e.g.
    ``"Youtu-RAG/Youtu-Embedding-V1" -> "tencent/Youtu-Embedding"``.
    """


@hookspec
def register_runtimes() -> list[Runtime]:
    """Return runtimes: ways to execute a loaded model's network (``Encoder(runtime=name)``).

    A :class:`~youtu_embedding.core.runtimes.Runtime` has a name, a description, the
    quantizations it accepts, an ``unavailable_reason()`` probe and
    ``prepare(loaded, quantization=..., options=...)``, which returns a callable used as
    ``runner(input_ids=..., attention_mask=..., return_dict=True).last_hidden_state`` (a torch
    tensor ``(batch, seq, dim)``, as a Hugging Face model returns). The core provides ``torch``.
    """


@hookspec
def register_chunkers() -> list[Chunker]:
    """Return chunkers: ways to cut a document into chunks (``Encoder.encode_chunks(chunker=name)``).

    A :class:`~youtu_embedding.core.chunking.Chunker` wraps ``split(text, token_offsets, **options)``
    returning ``(start, end)`` character spans of ``text`` (``0 <= start < end <= len(text)``).
    ``token_offsets`` are the character spans of the text's tokens as the encoder's tokenizer cuts
    them (special and prefix tokens left out), for chunkers that count tokens. Its keyword-only
    parameters with defaults are its options (``chunker_options``); unknown options are rejected
    by the core, bad values should raise ``InvalidArgumentError("chunker_options.<name>", ...)``.
    The core provides ``tokens``, ``sentences`` and ``paragraphs``.
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``youtu-embed`` command-line application.

    Use ``@app.command()`` on functions, or ``app.add_typer(sub_app, name=...)``.
    """
