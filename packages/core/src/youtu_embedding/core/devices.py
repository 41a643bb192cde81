"""Device backends (cpu, cuda, mps): availability, device string, default dtype, threads."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from youtu_embedding.core.errors import InvalidArgumentError

if TYPE_CHECKING:  # torch is imported on use: registering the backends stays cheap
    import torch


@dataclass(frozen=True)
class DeviceBackend:
    """A place to run the model.

    Attributes:
        name: registry name, also the torch device type (``cuda``, ``mps``, ``cpu``, ...).
        priority: higher wins when the device is ``"auto"``.
        is_available: whether this machine can use the backend.
        default_dtype: the dtype that ``dtype="auto"`` picks on this backend.
        configure_threads: applies a thread count (CPU backends); may be a no-op.
        packed_attention: ``packed_attention(dtype)``: the variable-length attention kernel for
            packed (unpadded) `utu` batches on this backend (one of
            ``youtu_embedding.core.modeling.utu.varlen.VARLEN_KERNELS``), or None to run padded
            batches by default. ``Encoder(unpadded=...)`` overrides the default.
    """

    name: str
    priority: int
    is_available: Callable[[], bool]
    default_dtype: Callable[[], torch.dtype]
    configure_threads: Callable[[int | None], None] = lambda n: None
    description: str = ""
    packed_attention: Callable[[torch.dtype], str | None] = lambda dtype: None

    def device_string(self, index: int | None = None) -> str:
        """Torch device string, e.g. ``cuda:1``."""
        return self.name if index is None else f"{self.name}:{index}"


def _cpu_threads(n: int | None) -> None:
    if n is None:
        env = os.environ.get("YOUTU_EMBED_NUM_THREADS")
        n = int(env) if env else None
    if n is not None:
        if n <= 0:
            raise InvalidArgumentError("num_threads", f"must be a positive integer, got {n}")
        import torch

        torch.set_num_threads(n)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _cuda_dtype() -> torch.dtype:
    import torch

    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float16


def _cuda_packed_attention(dtype: torch.dtype) -> str:
    """FlashAttention's varlen kernel where installed (fp16/bf16), else SDPA on jagged tensors (one call a batch)."""
    import torch

    from youtu_embedding.core.modeling.utu.varlen import flash_attn_available

    return "flash_attn" if dtype in (torch.float16, torch.bfloat16) and flash_attn_available() else "sdpa_nested"


def _cpu_packed_attention(dtype: torch.dtype) -> str | None:
    """Packed batches on the CPU too: measured faster than padded ones on mixed lengths (docs/performance.md)."""
    return "sdpa_rows"


def _mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def _torch_dtype(name: str) -> Callable[[], torch.dtype]:
    def dtype() -> torch.dtype:
        import torch

        return getattr(torch, name)

    return dtype


BUILTIN_DEVICES = [
    DeviceBackend(
        "cuda",
        100,
        _cuda_available,
        _cuda_dtype,
        description="NVIDIA GPU; bf16 when supported; unpadded utu batches (flash_attn varlen or SDPA jagged)",
        packed_attention=_cuda_packed_attention,
    ),
    DeviceBackend("mps", 50, _mps_available, _torch_dtype("float16"), description="Apple GPU; float16"),
    DeviceBackend(
        "cpu",
        0,
        lambda: True,
        _torch_dtype("float32"),
        _cpu_threads,
        "CPU; float32, threads configurable",
        packed_attention=_cpu_packed_attention,
    ),
]

#: dtype option -> torch dtype name
DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


@functools.cache
def _dtypes() -> dict[str, torch.dtype]:
    import torch

    return {option: getattr(torch, name) for option, name in DTYPE_NAMES.items()}


def available_backends() -> dict[str, DeviceBackend]:
    """Registered backends by name (built-in and plugins)."""
    from youtu_embedding.core.plugins import get_registry

    return {name: item for name, (_, item) in get_registry().collect("register_device_backends").items()}


def resolve_device(device: str | torch.device | None = "auto") -> tuple[DeviceBackend, torch.device]:
    """Choose a backend and torch device.

    ``"auto"``/None picks the available backend with the highest priority; ``"cuda:1"`` selects a
    backend by its type and keeps the index. An unavailable explicit device is an error.
    """
    import torch

    backends = available_backends()
    if device is None or str(device) == "auto":
        usable = [b for b in backends.values() if b.is_available()]
        if not usable:
            raise InvalidArgumentError("device", "no device backend is available", sorted(backends))
        backend = max(usable, key=lambda b: b.priority)
        return backend, torch.device(backend.device_string())
    text = str(device)
    kind, _, index = text.partition(":")
    if kind not in backends:
        raise InvalidArgumentError("device", f"unknown device '{text}'", ["auto", *sorted(backends)])
    backend = backends[kind]
    if not backend.is_available():
        raise InvalidArgumentError(
            "device",
            f"device '{text}' is not available on this machine",
            ["auto", *sorted(n for n, b in backends.items() if b.is_available())],
        )
    return backend, torch.device(backend.device_string(int(index) if index else None))


def resolve_dtype(dtype: str | torch.dtype | None, backend: DeviceBackend) -> torch.dtype:
    """Map a dtype option (``auto``, ``float32``, ``bfloat16``, ``float16`` or a torch dtype)."""
    import torch

    dtypes = _dtypes()
    if isinstance(dtype, torch.dtype):
        if dtype not in dtypes.values():
            raise InvalidArgumentError(
                "dtype", f"unsupported dtype {dtype}", ["auto", "float32", "bfloat16", "float16"]
            )
        return dtype
    if dtype is None or dtype == "auto":
        return backend.default_dtype()
    if dtype not in dtypes:
        raise InvalidArgumentError("dtype", f"unknown dtype '{dtype}'", ["auto", "float32", "bfloat16", "float16"])
    return dtypes[dtype]
