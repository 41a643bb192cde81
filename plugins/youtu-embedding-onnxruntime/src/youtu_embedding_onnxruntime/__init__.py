"""ONNX Runtime runtime for youtu-embedding (``Encoder(model, runtime="onnxruntime")``).

Names are imported on first use (lazy module attributes): the plugin module that the CLI loads
imports neither torch nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding_onnxruntime.options import OrtOptions, parse_options
    from youtu_embedding_onnxruntime.runtime import ONNXRUNTIME, OnnxRuntimeModel, prepare_onnxruntime

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "ONNXRUNTIME": "youtu_embedding_onnxruntime.runtime",
        "OnnxRuntimeModel": "youtu_embedding_onnxruntime.runtime",
        "OrtOptions": "youtu_embedding_onnxruntime.options",
        "parse_options": "youtu_embedding_onnxruntime.options",
        "prepare_onnxruntime": "youtu_embedding_onnxruntime.runtime",
    },
)

__all__ = ["ONNXRUNTIME", "OnnxRuntimeModel", "OrtOptions", "parse_options", "prepare_onnxruntime"]
