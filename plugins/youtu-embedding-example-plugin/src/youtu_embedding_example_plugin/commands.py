"""The ``youtu-embed count-tokens`` command (imported only when it runs: see ``plugin.py``).

``@encoder_options()`` gives it the same model options as every core command (``--model``,
``--device``, ``--dtype``, ``--max-length``, ``--runtime``...), generated from ``EncoderSpec``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from youtu_embedding.core.cli.options import JsonOption, encoder_options
from youtu_embedding.core.spec import EncoderSpec


@encoder_options()
def count_tokens(
    spec: EncoderSpec,
    texts: Annotated[list[str], typer.Argument(help="Texts to count.", show_default=False)],
    prompt: Annotated[str, typer.Option("--prompt", help="A literal prefix counted with each text.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Count the tokens of each text as the model's tokenizer sees it (special tokens included)."""
    encoder = spec.build()
    ids = encoder.tokenizer([prompt + t for t in texts], add_special_tokens=True, verbose=False)["input_ids"]
    rows = [
        {"text": text, "tokens": len(row), "fits": len(row) <= encoder.max_length}
        for text, row in zip(texts, ids, strict=True)
    ]
    if as_json:
        typer.echo(json.dumps({"max_length": encoder.max_length, "counts": rows}, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tokens (max_length {encoder.max_length})")
    table.add_column("text", overflow="fold")
    table.add_column("tokens", justify="right")
    table.add_column("fits")
    for row in rows:
        table.add_row(row["text"], str(row["tokens"]), "yes" if row["fits"] else "no")
    Console().print(table)
