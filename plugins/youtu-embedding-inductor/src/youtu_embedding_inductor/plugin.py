"""Hook implementations of the inductor plugin (the module named by its entry point).

Kept light: the runtime's heavy module (youtu_embedding_inductor.runtime: torch, transformers) is imported only when
a model is prepared with it or its availability is probed, not when the plugin is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from youtu_embedding.core.runtimes import Runtime, RuntimeModel

DESCRIPTION = (
    "torch.compile (Inductor) on the CPU: compiled float32/bf16 graph; "
    "int8: torchao dynamic quantisation (per-token activations)"
)
QUANTIZATIONS = ("int8",)


def _prepare(loaded: Any, **kwargs: Any) -> RuntimeModel:
    from youtu_embedding_inductor.runtime import prepare_inductor

    return prepare_inductor(loaded, **kwargs)


def _unavailable_reason() -> str | None:
    from youtu_embedding_inductor.runtime import unavailable_reason

    return unavailable_reason()


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``inductor`` runtime."""
    from youtu_embedding.core.runtimes import Runtime

    return [
        Runtime("inductor", DESCRIPTION, _prepare, quantizations=QUANTIZATIONS, unavailable_reason=_unavailable_reason)
    ]
