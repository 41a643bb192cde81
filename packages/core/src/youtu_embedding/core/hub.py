"""Resolve a model name to a local directory: aliases, local paths, the Hugging Face cache."""

from __future__ import annotations

import os
from pathlib import Path

from youtu_embedding.core.errors import ModelNotFoundError

#: Files never fetched from the Hub (other runtimes' formats).
_ALWAYS_IGNORED = ["*.onnx", "onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot", "*.tflite", "*.gguf"]
_PICKLE_FILES = ["*.bin", "*.pt", "*.pth", "*.ckpt"]
_TRUTHY = {"1", "true", "yes", "on"}


def model_aliases() -> dict[str, str]:
    """All registered aliases (built-in and plugins)."""
    from youtu_embedding.core.plugins import get_registry

    return {alias: target for alias, (_, target) in get_registry().collect("register_model_aliases").items()}


def resolve_alias(name: str) -> str:
    """Follow aliases (a few hops at most) from `name` to a model id or path."""
    aliases = model_aliases()
    seen = {name}
    while name in aliases:
        name = aliases[name]
        if name in seen:
            break
        seen.add(name)
    return name


def hub_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The Hub cache in force: the argument, else HF_HUB_CACHE / HF_HOME, read at call time."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_offline() -> bool:
    """Whether Hugging Face offline mode is set (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUTHY for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1) or name.count("/") > 1


def resolve_model_dir(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool | None = None,
    allow_pickle: bool = False,
    token: str | bool | None = None,
) -> tuple[str, Path]:
    """Return ``(model id, local directory)`` for a name, alias, local directory or Hub id.

    Hub ids go through the normal Hugging Face cache (``snapshot_download``); offline mode
    (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``) never touches the network. When the
    model is missing, :class:`ModelNotFoundError` names the id, where it looked and how to fetch it.
    """
    original = str(name_or_path)
    name = resolve_alias(original)
    path = Path(name).expanduser()
    if path.is_dir():  # an alias to a local copy keeps the alias as its id
        return (original if original != name else name), path.resolve()
    if path.exists():
        raise ModelNotFoundError(f"model path '{name}' is a file; expected a model directory")
    if _looks_like_path(name):
        raise ModelNotFoundError(f"model directory '{name}' does not exist")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = is_offline() if local_files_only is None else (local_files_only or is_offline())
    cache = hub_cache_dir(cache_dir)
    ignore = _ALWAYS_IGNORED + ([] if allow_pickle else _PICKLE_FILES)
    via = f" (alias of '{original}')" if original != name else ""
    try:
        local = snapshot_download(
            name, revision=revision, cache_dir=cache, local_files_only=offline, ignore_patterns=ignore, token=token
        )
    except LocalEntryNotFoundError as exc:
        mode = "offline mode is on (HF_HUB_OFFLINE=1)" if offline else "the Hub could not be reached"
        raise ModelNotFoundError(
            f"model '{name}'{via} was not found: it is not a local directory, it is not in the Hugging Face "
            f"cache at {cache}, and {mode}. Fetch it on a connected machine with `hf download {name}` "
            f"(into the same cache, or set HF_HUB_CACHE), or pass a local directory."
        ) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"model '{name}'{via} could not be fetched from the Hugging Face Hub into {cache}: {exc}. "
            f"Check the id, or fetch it with `hf download {name}` and retry."
        ) from exc
    return name, Path(str(local))
