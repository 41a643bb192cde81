"""youtu_embedding.core: load Youtu-Embedding (`utu`) and any Hugging Face / sentence-transformers
encoder, and embed texts with instruction templates, pooling plugins and token-budget batching.

    >>> from youtu_embedding.core import Encoder
    >>> enc = Encoder("all-MiniLM-L6-v2")
    >>> enc.encode(["hello world"]).shape
    (1, 384)

Importing the package is cheap: the public names are module attributes resolved on first use
(PEP 562), so ``import youtu_embedding.core`` (and the ``youtu-embed`` CLI, which imports it) does
not import torch or transformers until something needs them. Type checkers see ordinary imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from youtu_embedding.core import _quiet_imports  # noqa: F401  (first: before transformers is imported)
from youtu_embedding.core.errors import (
    InputTooLongError,
    InvalidArgumentError,
    ModelNotFoundError,
    PluginError,
    UnsafeModelError,
    YoutuEmbeddingError,
)
from youtu_embedding.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from youtu_embedding.core.devices import DeviceBackend
    from youtu_embedding.core.encoder import Encoder
    from youtu_embedding.core.modeling import UtuConfig, UtuModel, register_utu
    from youtu_embedding.core.pooling import PoolingStrategy
    from youtu_embedding.core.quantization import PRECISIONS, quantize_embeddings
    from youtu_embedding.core.similarity import SIMILARITY_FUNCTIONS, similarity
    from youtu_embedding.core.templates import InstructionTemplate, TaskInstruction

__version__ = "0.1.0"

#: Public name -> the module that defines it; imported on first access (these import torch/numpy).
_LAZY = {
    "DeviceBackend": "youtu_embedding.core.devices",
    "Encoder": "youtu_embedding.core.encoder",
    "PRECISIONS": "youtu_embedding.core.quantization",
    "PoolingStrategy": "youtu_embedding.core.pooling",
    "SIMILARITY_FUNCTIONS": "youtu_embedding.core.similarity",
    "InstructionTemplate": "youtu_embedding.core.templates",
    "TaskInstruction": "youtu_embedding.core.templates",
    "UtuConfig": "youtu_embedding.core.modeling",
    "UtuModel": "youtu_embedding.core.modeling",
    "quantize_embeddings": "youtu_embedding.core.quantization",
    "register_utu": "youtu_embedding.core.modeling",
    "similarity": "youtu_embedding.core.similarity",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and cache the name here."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    if module_name in ("youtu_embedding.core.encoder", "youtu_embedding.core.modeling"):
        from youtu_embedding.core.modeling import register_utu as _register

        _register()  # `utu` checkpoints load through transformers' Auto classes from here on
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "PRECISIONS",
    "SIMILARITY_FUNCTIONS",
    "DeviceBackend",
    "Encoder",
    "InputTooLongError",
    "InstructionTemplate",
    "InvalidArgumentError",
    "ModelNotFoundError",
    "PluginError",
    "PoolingStrategy",
    "TaskInstruction",
    "UnsafeModelError",
    "UtuConfig",
    "UtuModel",
    "YoutuEmbeddingError",
    "hookimpl",
    "quantize_embeddings",
    "register_utu",
    "similarity",
]
