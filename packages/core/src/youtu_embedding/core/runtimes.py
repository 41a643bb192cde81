"""Runtimes: what executes the network of a loaded model (torch itself, or a plugin such as ONNX Runtime).

A :class:`Runtime` turns a :class:`~youtu_embedding.core.loading.LoadedModel` into a callable with
the call contract of a Hugging Face model, as :meth:`Encoder.token_states` uses it::

    runner = runtime.prepare(loaded, quantization=None, options={})
    hidden = runner(input_ids=ids, attention_mask=mask, return_dict=True).last_hidden_state  # torch tensor

The built-in ``torch`` runtime returns the model itself (int8-quantised with ``quantization="int8"``).
Plugins add runtimes through the ``register_runtimes`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from youtu_embedding.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    import torch

    from youtu_embedding.core.loading import LoadedModel

DEFAULT_RUNTIME = "torch"


class RuntimeModel(Protocol):
    """What a runtime's ``prepare`` returns: called like a Hugging Face model.

    Optional attributes: ``describe() -> dict`` (shown by ``Encoder.info()["runtime_details"]``) and
    ``concurrent_calls: int``: a model that may be called from N threads at once, each call on its own
    share of the cores (OpenVINO streams), sets N > 1; ``Encoder.encode`` then runs N batches at once
    (halving the largest when there are fewer), so its Python work overlaps inference.
    """

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True) -> Any:
        """Return an object whose ``last_hidden_state`` is a ``(batch, seq, dim)`` torch tensor."""
        ...


def _always() -> str | None:
    return None


@dataclass(frozen=True)
class Runtime:
    """A way to execute the network of a loaded model.

    Attributes:
        name: registry name (``Encoder(runtime=name)``, ``youtu-embed ... --runtime name``).
        description: one line for ``youtu-embed plugins`` and ``info``.
        prepare: ``prepare(loaded, quantization=..., options=...) -> RuntimeModel``; raises
            :class:`~youtu_embedding.core.errors.InvalidArgumentError` for an unsupported model,
            quantization or option. The returned callable may have a ``describe() -> dict``
            method, shown by ``Encoder.info()["runtime_details"]``.
        quantizations: the ``quantization`` values it accepts (None, meaning none, always is).
        unavailable_reason: None when usable on this machine, else why not (e.g. a missing package).
    """

    name: str
    description: str
    prepare: Callable[..., RuntimeModel]
    quantizations: tuple[str, ...] = ()
    unavailable_reason: Callable[[], str | None] = _always

    def is_available(self) -> bool:
        """Whether the runtime can be used on this machine."""
        return self.unavailable_reason() is None


def available_runtimes() -> dict[str, Runtime]:
    """Registered runtimes by name (the built-in ``torch`` and the plugins')."""
    from youtu_embedding.core.plugins import get_registry

    found = {name: item for name, (_, item) in get_registry().collect("register_runtimes").items()}
    if DEFAULT_RUNTIME not in found:  # installed metadata older than this module's entry point
        from youtu_embedding.core.builtins.runtimes import TORCH_RUNTIME

        found[DEFAULT_RUNTIME] = TORCH_RUNTIME
    return found


def get_runtime(name: str | None, quantization: str | None = None) -> Runtime:
    """Look up a runtime and check it is usable with `quantization`; errors list the choices."""
    runtimes = available_runtimes()
    name = DEFAULT_RUNTIME if name is None else name
    if name not in runtimes:
        raise InvalidArgumentError("runtime", f"unknown runtime '{name}'", sorted(runtimes))
    runtime = runtimes[name]
    reason = runtime.unavailable_reason()
    if reason is not None:
        usable = sorted(n for n, r in runtimes.items() if r.is_available())
        raise InvalidArgumentError("runtime", f"runtime '{name}' is not available: {reason}", usable)
    if quantization is not None and quantization not in runtime.quantizations:
        raise InvalidArgumentError(
            "quantization",
            f"unknown quantization '{quantization}' for runtime '{name}'",
            list(runtime.quantizations),
        )
    return runtime


def prepare_runtime(
    runtime: Runtime, loaded: LoadedModel, quantization: str | None, options: Mapping[str, Any] | None
) -> RuntimeModel:
    """Run ``runtime.prepare`` with a copy of the options."""
    return runtime.prepare(loaded, quantization=quantization, options=dict(options or {}))


#: Model types that runtimes exporting the network refuse unless they name them in ``check_exportable(allow=...)``.
#: `utu` traces (its attention mask has a branch-free form while torch.export / torch.compile capture it), but
#: only the inductor runtime is tested with it.
EXPORT_UNSUPPORTED_MODEL_TYPES = {"utu": "its export is only tested with the inductor runtime"}


def check_exportable(loaded: LoadedModel, runtime: str, *, allow: tuple[str, ...] = ()) -> None:
    """Refusals shared by runtimes that capture the network with torch.export and run it on the CPU.

    A model type the runtime does not support (``EXPORT_UNSUPPORTED_MODEL_TYPES`` less ``allow``), a
    model on another device, or weights already quantised by torch: each an InvalidArgumentError
    naming the field and what to do instead.
    """
    model_type = getattr(loaded.model.config, "model_type", None)
    if model_type in EXPORT_UNSUPPORTED_MODEL_TYPES and model_type not in allow:
        raise InvalidArgumentError(
            "runtime",
            f"model type '{model_type}' is not supported by the {runtime} runtime "
            f"({EXPORT_UNSUPPORTED_MODEL_TYPES[model_type]}); use runtime='torch' "
            "(dtype='bfloat16' is its fast CPU path)",
        )
    if loaded.device.type != "cpu":
        raise InvalidArgumentError(
            "device", f"the {runtime} runtime runs on the CPU, not {loaded.device}; load the model with device='cpu'"
        )
    if getattr(loaded.model, "is_quantized", False) or any(
        "quantized" in type(m).__module__ for m in loaded.model.modules()
    ):
        raise InvalidArgumentError(
            "model", f"the model is already quantised by torch; the {runtime} runtime needs float weights"
        )


def option_bool(name: str, value: Any) -> bool:
    """A boolean runtime option (``true``/``false``/``1``/``0``/``yes``/``no`` from the CLI); errors name the key."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise InvalidArgumentError(f"runtime_options.{name}", f"must be true or false, got {value!r}")


def option_int(name: str, value: Any, minimum: int) -> int:
    """An integer runtime option of at least `minimum` (digits from the CLI); errors name the key."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgumentError(f"runtime_options.{name}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def check_option_names(runtime: str, options: Mapping[str, Any], known: list[str]) -> None:
    """Reject an option the runtime does not have, listing the ones it has."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidArgumentError("runtime_options", f"unknown option '{unknown[0]}' of runtime '{runtime}'", known)


__all__ = [
    "DEFAULT_RUNTIME",
    "EXPORT_UNSUPPORTED_MODEL_TYPES",
    "Runtime",
    "RuntimeModel",
    "available_runtimes",
    "check_exportable",
    "check_option_names",
    "get_runtime",
    "option_bool",
    "option_int",
    "prepare_runtime",
]
