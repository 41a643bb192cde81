"""``python -m youtu_embedding.serve`` = ``youtu-embed serve``."""

from __future__ import annotations

import typer

from youtu_embedding.serve.commands import serve

if __name__ == "__main__":
    typer.run(serve)
