"""Hook implementations of the ONNX Runtime plugin (the module named by its entry point)."""

from __future__ import annotations

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.runtimes import Runtime
from youtu_embedding_onnxruntime.runtime import ONNXRUNTIME


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``onnxruntime`` runtime."""
    return [ONNXRUNTIME]
