"""Hook implementations of the Inductor plugin (the module named by its entry point)."""

from __future__ import annotations

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.runtimes import Runtime
from youtu_embedding_inductor.runtime import INDUCTOR


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``inductor`` runtime."""
    return [INDUCTOR]
