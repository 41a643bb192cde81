"""Hook implementations of the OpenVINO plugin (the module named by its entry point)."""

from __future__ import annotations

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.runtimes import Runtime
from youtu_embedding_openvino.runtime import OPENVINO


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``openvino`` runtime."""
    return [OPENVINO]
