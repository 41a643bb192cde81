"""Hook implementations of the onnxruntime plugin (the module named by its entry point).

Kept light: the runtime's heavy module (youtu_embedding_onnxruntime.runtime: torch, transformers) is imported only when
a model is prepared with it or its availability is probed, not when the plugin is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from youtu_embedding.core.runtimes import Runtime, RuntimeModel

DESCRIPTION = "ONNX Runtime on the CPU: exported float32 graph with fused kernels; int8: ORT dynamic quantisation"
QUANTIZATIONS = ("int8",)


def _prepare(loaded: Any, **kwargs: Any) -> RuntimeModel:
    from youtu_embedding_onnxruntime.runtime import prepare_onnxruntime

    return prepare_onnxruntime(loaded, **kwargs)


def _unavailable_reason() -> str | None:
    from youtu_embedding_onnxruntime.runtime import unavailable_reason

    return unavailable_reason()


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``onnxruntime`` runtime."""
    from youtu_embedding.core.runtimes import Runtime

    return [
        Runtime(
            "onnxruntime", DESCRIPTION, _prepare, quantizations=QUANTIZATIONS, unavailable_reason=_unavailable_reason
        )
    ]
