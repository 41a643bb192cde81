"""torch.compile (Inductor) runtime for youtu-embedding (``Encoder(model, runtime="inductor")``).

Names are imported on first use (lazy module attributes): the plugin module that the CLI loads
imports neither torch nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding_inductor.options import InductorOptions, parse_options
    from youtu_embedding_inductor.runtime import INDUCTOR, InductorModel, prepare_inductor

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "INDUCTOR": "youtu_embedding_inductor.runtime",
        "InductorModel": "youtu_embedding_inductor.runtime",
        "InductorOptions": "youtu_embedding_inductor.options",
        "parse_options": "youtu_embedding_inductor.options",
        "prepare_inductor": "youtu_embedding_inductor.runtime",
    },
)

__all__ = ["INDUCTOR", "InductorModel", "InductorOptions", "parse_options", "prepare_inductor"]
