"""CoDiEmb fine-tuning for Youtu-Embedding and encoder backbones.

Python API::

    from youtu_embedding.train import train, load_config
    result = train(load_config("train.yaml", {"max_steps": 100}))
    result.final_model  # a sentence-transformers directory the core Encoder loads

    from youtu_embedding.train import merge_models
    merge_models(base, [ckpt1, ckpt2], "merged", method="delta")

Public names are imported on first use (lazy module attributes), so that the CLI's plugin
module of this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.lazy_imports import lazy_attributes

if TYPE_CHECKING:
    from youtu_embedding.train.config import ConfigError, TrainConfig, build_config, load_config
    from youtu_embedding.train.data import DataValidationError, Example, SubDataset, load_datasets, read_jsonl_file
    from youtu_embedding.train.merge import merge_models
    from youtu_embedding.train.trainer import Trainer, TrainResult, train

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "ConfigError": "youtu_embedding.train.config",
        "DataValidationError": "youtu_embedding.train.data",
        "Example": "youtu_embedding.train.data",
        "SubDataset": "youtu_embedding.train.data",
        "TrainConfig": "youtu_embedding.train.config",
        "TrainResult": "youtu_embedding.train.trainer",
        "Trainer": "youtu_embedding.train.trainer",
        "build_config": "youtu_embedding.train.config",
        "load_config": "youtu_embedding.train.config",
        "load_datasets": "youtu_embedding.train.data",
        "merge_models": "youtu_embedding.train.merge",
        "read_jsonl_file": "youtu_embedding.train.data",
        "train": "youtu_embedding.train.trainer",
    },
)

__all__ = [
    "ConfigError",
    "DataValidationError",
    "Example",
    "SubDataset",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "build_config",
    "load_config",
    "load_datasets",
    "merge_models",
    "read_jsonl_file",
    "train",
]
