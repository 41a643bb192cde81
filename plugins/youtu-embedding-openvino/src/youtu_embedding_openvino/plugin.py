"""Hook implementations of the OpenVINO plugin (the module named by its entry point).

Kept light: the runtime's heavy module (youtu_embedding_openvino.runtime: torch, transformers, openvino) is imported
only when a model is prepared with it or its availability is probed, not when the plugin is registered (the CLI
builds its app from the registered plugins and must answer --help at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from youtu_embedding.core.runtimes import Runtime, RuntimeModel

DESCRIPTION = (
    "OpenVINO on the CPU: the network converted to OpenVINO IR (f32 or bf16); int8: NNCF static int8, calibrated"
)
QUANTIZATIONS = ("int8",)


def _prepare(loaded: Any, **kwargs: Any) -> RuntimeModel:
    from youtu_embedding_openvino.runtime import prepare_openvino

    return prepare_openvino(loaded, **kwargs)


def _unavailable_reason() -> str | None:
    from youtu_embedding_openvino.runtime import unavailable_reason

    return unavailable_reason()


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``openvino`` runtime."""
    from youtu_embedding.core.runtimes import Runtime

    return [
        Runtime("openvino", DESCRIPTION, _prepare, quantizations=QUANTIZATIONS, unavailable_reason=_unavailable_reason)
    ]
