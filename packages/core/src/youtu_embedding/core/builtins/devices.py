"""Built-in device backends: cuda, mps, cpu."""

from youtu_embedding.core.devices import BUILTIN_DEVICES, DeviceBackend
from youtu_embedding.core.hookspecs import hookimpl


@hookimpl
def register_device_backends() -> list[DeviceBackend]:
    return list(BUILTIN_DEVICES)
