"""``youtu-embed export`` (registered by name by :mod:`youtu_embedding.st.plugin`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

VERIFY_TEXTS = (
    "What's the weather like?",
    "The weather is lovely today.",
    "He drove to the stadium.",
)


def export(
    model: Annotated[str, typer.Argument(help="Model directory, Hugging Face id or alias.", show_default=False)],
    out: Annotated[Path, typer.Argument(help="New directory to write (sentence-transformers layout).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty directory.")] = False,
    max_length: Annotated[
        int | None, typer.Option("--max-length", help="max_seq_length to record (default: the model's).")
    ] = None,
    attention: Annotated[
        str | None,
        typer.Option("--attention", help="utu: causal or bidirectional to record (default: the core's direction)."),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Load the export in the core and in sentence-transformers and compare."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Export MODEL to OUT as a sentence-transformers directory (modules.json, prompts, 1_Pooling, Normalize)."""
    from youtu_embedding.core.errors import InvalidArgumentError
    from youtu_embedding.st.export import describe_export, export_model

    if max_length is not None and max_length <= 0:
        raise InvalidArgumentError("--max-length", f"must be a positive integer, got {max_length}")
    target = export_model(model, out, overwrite=overwrite, max_seq_length=max_length, attention=attention)
    summary = describe_export(target)
    if verify:
        summary["verify_max_abs_diff"] = _verify(target)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"exported {model} -> {target}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        if key == "prompts":
            value = "\n".join(f"{name}: {prompt!r}" for name, prompt in value.items()) or "(none)"
        table.add_row(key, str(value))
    Console().print(table)


def _verify(path: Path) -> float:
    """Largest absolute difference between the core's and sentence-transformers' embeddings of a few texts."""
    import numpy as np

    from youtu_embedding.core import Encoder
    from youtu_embedding.st.model import SentenceTransformer

    encoder = Encoder(path, device="cpu", dtype="float32")
    st = SentenceTransformer(str(path), device="cpu")
    worst = 0.0
    for name in ("query", "document"):
        ours = st.encode(list(VERIFY_TEXTS), prompt_name=name if name in st.prompts else None)
        core = encoder.encode(list(VERIFY_TEXTS), prompt_name=name if name in encoder.prompts else None)
        worst = max(worst, float(np.abs(np.asarray(ours) - core).max()))
    if worst > 1e-4:
        raise ValueError(f"export check failed: core and sentence-transformers differ by {worst:.2e}")
    return worst
