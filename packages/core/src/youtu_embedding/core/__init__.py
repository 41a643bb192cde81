"""youtu_embedding.core: load Youtu-Embedding (`utu`) and any Hugging Face / sentence-transformers
encoder, and embed texts with instruction templates, pooling plugins and token-budget batching.

    >>> from youtu_embedding.core import Encoder
    >>> enc = Encoder("all-MiniLM-L6-v2")
    >>> enc.encode(["hello world"]).shape
    (1, 384)
"""

from youtu_embedding.core import _quiet_imports  # noqa: F401  (first: before transformers is imported)
from youtu_embedding.core.devices import DeviceBackend
from youtu_embedding.core.encoder import Encoder
from youtu_embedding.core.errors import (
    InputTooLongError,
    InvalidArgumentError,
    ModelNotFoundError,
    PluginError,
    UnsafeModelError,
    YoutuEmbeddingError,
)
from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.modeling import UtuConfig, UtuModel, register_utu
from youtu_embedding.core.pooling import PoolingStrategy
from youtu_embedding.core.quantization import PRECISIONS, quantize_embeddings
from youtu_embedding.core.similarity import SIMILARITY_FUNCTIONS, similarity
from youtu_embedding.core.templates import InstructionTemplate, TaskInstruction

register_utu()

__version__ = "0.1.0"

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
