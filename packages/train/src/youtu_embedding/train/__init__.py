"""CoDiEmb fine-tuning for Youtu-Embedding and encoder backbones.

Python API::

    from youtu_embedding.train import train, load_config
    result = train(load_config("train.yaml", {"max_steps": 100}))
    result.final_model  # a sentence-transformers directory the core Encoder loads

    from youtu_embedding.train import merge_models
    merge_models(base, [ckpt1, ckpt2], "merged", method="delta")
"""

from __future__ import annotations

from youtu_embedding.train.config import ConfigError, TrainConfig, build_config, load_config
from youtu_embedding.train.data import DataValidationError, Example, SubDataset, load_datasets, read_jsonl_file
from youtu_embedding.train.merge import merge_models
from youtu_embedding.train.trainer import Trainer, TrainResult, train

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
