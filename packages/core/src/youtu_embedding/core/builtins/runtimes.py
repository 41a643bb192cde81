"""Built-in runtime: ``torch`` (the loaded model itself; ``quantization="int8"``: dynamic int8 linear layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.runtimes import Runtime, RuntimeModel

if TYPE_CHECKING:
    from youtu_embedding.core.loading import LoadedModel


def prepare_torch(loaded: LoadedModel, *, quantization: str | None, options: dict[str, Any]) -> RuntimeModel:
    """Calls ``loaded.model`` (int8-quantised in place when asked), so that replacing it later is honoured."""
    if options:
        raise InvalidArgumentError("runtime_options", f"the torch runtime takes no options, got {sorted(options)}")
    if quantization == "int8":
        from youtu_embedding.core.fastpaths import quantize_int8

        loaded.model = quantize_int8(loaded.model, loaded.device)  # type: ignore[assignment]

    def run(**inputs: Any) -> Any:
        return loaded.model(**inputs)

    return run


TORCH_RUNTIME = Runtime(
    "torch",
    "PyTorch eager (inference mode, SDPA attention); int8: dynamic quantisation of linear layers",
    prepare_torch,
    quantizations=("int8",),  # fastpaths.QUANTIZATION_CHOICES (that module imports torch)
)


@hookimpl
def register_runtimes() -> list[Runtime]:
    """The ``torch`` runtime."""
    return [TORCH_RUNTIME]
