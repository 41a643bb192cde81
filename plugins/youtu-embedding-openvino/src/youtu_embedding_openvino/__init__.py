"""OpenVINO runtime for youtu-embedding (``Encoder(model, runtime="openvino")``).

Names are imported on first use (lazy module attributes): the plugin module that the CLI loads
imports neither torch, transformers nor openvino.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding_openvino.options import OpenVinoOptions, parse_options
    from youtu_embedding_openvino.runtime import OPENVINO, OpenVinoModel, prepare_openvino

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "OPENVINO": "youtu_embedding_openvino.runtime",
        "OpenVinoModel": "youtu_embedding_openvino.runtime",
        "OpenVinoOptions": "youtu_embedding_openvino.options",
        "parse_options": "youtu_embedding_openvino.options",
        "prepare_openvino": "youtu_embedding_openvino.runtime",
    },
)

__all__ = ["OPENVINO", "OpenVinoModel", "OpenVinoOptions", "parse_options", "prepare_openvino"]
