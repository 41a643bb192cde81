"""Training configuration: one flat pydantic model, read from YAML or TOML, every field also a flag.

Defaults are the released CoDiEmb hyper-parameters where they make sense on any machine (lr 4e-5,
linear schedule, 3% warmup, AdamW (0.9, 0.999), weight decay 0, tau 0.02, seed 49, IR batch 28 /
STS batch 32, P=2, N=4, loss weights 1/2/0.5/5); the run length and precision default to small,
CPU-safe values (1 epoch, fp32, max length 512).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import tomllib
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: The CoDiEmb training prefix (collate renders it); defined here so that the config, and with it
#: ``youtu-embed train --help``, does not import torch.
TRAINING_PREFIX = "Instruction: {task_instruction} Query: "


class ConfigError(ValueError):
    """A configuration that does not validate; the message names every bad field."""


class TrainConfig(BaseModel):
    """Every option of ``youtu-embed train`` (also ``--option-name`` flags)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # what to train, on what
    model: str = Field(description="model directory, Hub id or alias (utu decoder or BERT-family encoder)")
    data: list[str] = Field(description="unified JSONL files or folders (one file = one sub-dataset)")
    output_dir: str = Field(description="where checkpoints, metrics.jsonl and the final model go")
    skip_invalid: bool = Field(False, description="skip and count bad data lines instead of failing")

    # batching and sampling
    sampler: Literal["dynamic", "single", "mixed"] = Field("dynamic", description="batch sampler")
    ir_batch_size: int = Field(28, ge=1, description="per-device batch size of IR datasets")
    sts_batch_size: int = Field(32, ge=1, description="per-device batch size of STS datasets")
    batch_size: int = Field(32, ge=1, description="per-device batch size of the single and mixed samplers")
    dataset_batch_sizes: dict[str, int] = Field(default_factory=dict, description="per-dataset overrides")
    num_positives: int = Field(2, ge=1, description="P: positives drawn per IR query")
    num_negatives: int = Field(4, ge=0, description="N: hard negatives drawn per IR query")
    max_length: int = Field(512, ge=8, description="maximum tokens per text (prefix included)")
    prefix_template: str = Field(TRAINING_PREFIX, description="training prefix; {task_instruction} is filled in")
    cross_device_negatives: bool = Field(True, description="all-gather IR embeddings across ranks (with gradients)")

    # losses
    ir_temperature: float = Field(0.02, gt=0, description="tau of the IR InfoNCE")
    sts_loss: Literal["codiemb", "infonce"] = Field(
        "codiemb", description="codiemb: MidNCE+Pearson+PRO+KL; infonce: last-layer InfoNCE only (ablation)"
    )
    sts_weight_mid_infonce: float = Field(1.0, ge=0, description="weight of the mid-layer InfoNCE")
    sts_weight_pearson: float = Field(2.0, ge=0, description="weight of 1 - Pearson")
    sts_weight_pro: float = Field(0.5, ge=0, description="weight of the PRO loss")
    sts_weight_kl: float = Field(5.0, ge=0, description="weight of the Rank-KL loss")
    sts_temperature: float = Field(0.05, gt=0, description="temperature of Rank-KL and PRO")
    sts_infonce_temperature: float = Field(0.02, gt=0, description="tau of the STS InfoNCE terms")
    sts_infonce_threshold: float = Field(1.0, description="gold score from which an STS pair is an InfoNCE positive")

    # optimisation
    epochs: int = Field(1, ge=1, description="passes over the data")
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    learning_rate: float = Field(4e-5, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    adam_beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1")
    adam_beta2: float = Field(0.999, ge=0, lt=1, description="AdamW beta2")
    adam_epsilon: float = Field(1e-8, gt=0, description="AdamW epsilon")
    warmup_ratio: float = Field(0.03, ge=0, le=1, description="linear warmup share of the steps")
    max_grad_norm: float | None = Field(None, gt=0, description="clip gradients to this norm")
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="autocast precision (fp32 master weights)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in backward")
    seed: int = Field(49, description="seed of sampling, draws and initial RNG state")

    # model options
    attention: Literal["causal", "bidirectional"] | None = Field(
        "bidirectional", description="utu attention direction (ignored for encoders)"
    )
    lora: bool = Field(False, description="train LoRA adapters (peft) instead of all weights; merged at the end")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    lora_target_modules: list[str] | str = Field("all-linear", description="peft target modules")

    # runtime
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N (under torchrun: the local rank's GPU)")
    strategy: Literal["ddp", "fsdp"] = Field("ddp", description="multi-process wrapping")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads")
    dist_timeout: float = Field(
        1800.0, gt=0, description="seconds a rank waits for the others (rendezvous, collectives) before failing"
    )
    save_steps: int | None = Field(None, ge=1, description="checkpoint every N optimizer steps")
    save_every_epoch: bool = Field(True, description="checkpoint at the end of every epoch")
    keep_checkpoints: int | None = Field(2, ge=1, description="keep only the newest N checkpoints")
    resume: str | None = Field(None, description="'auto' (newest checkpoint in output_dir) or a checkpoint dir")
    log_steps: int = Field(1, ge=1, description="progress-bar refresh and metrics.jsonl interval")
    progress: bool = Field(True, description="show a progress bar")
    save_final: bool = Field(True, description="save the final model (sentence-transformers layout)")

    @field_validator("data")
    @classmethod
    def _data_not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one JSONL file or folder")
        return v

    @field_validator("prefix_template")
    @classmethod
    def _template_has_slot(cls, v: str) -> str:
        if v and "{task_instruction}" not in v:
            raise ValueError("must contain '{task_instruction}' (or be empty for no prefix)")
        return v

    @model_validator(mode="after")
    def _check_combinations(self) -> TrainConfig:
        if self.sampler == "mixed" and self.strategy == "fsdp":
            raise ValueError("sampler 'mixed' cannot be combined with strategy 'fsdp'")
        return self

    def batch_sizes(self) -> dict[str, int]:
        """Per-device batch size per task type / dataset name (``all`` for single/mixed)."""
        return {
            "ir": self.ir_batch_size,
            "sts": self.sts_batch_size,
            "all": self.batch_size,
            **self.dataset_batch_sizes,
        }


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown option (valid options: {', '.join(TrainConfig.model_fields)})"
        lines.append(f"{source}: {loc}: {msg}")
    return "invalid training configuration:\n" + "\n".join(lines)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file; a ``[train]`` table is unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file '{path}': use a .yaml, .yml or .toml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file '{path}' is not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of options")
    if set(raw) == {"train"} and isinstance(raw["train"], dict):
        raw = raw["train"]
    base = path.parent
    for key in ("data",):
        if isinstance(raw.get(key), str):
            raw[key] = [raw[key]]
    # relative paths in a config file are relative to the file
    if isinstance(raw.get("data"), list):
        raw["data"] = [
            os.path.normpath(base / str(p)) if not Path(str(p)).is_absolute() else str(p) for p in raw["data"]
        ]
    if isinstance(raw.get("output_dir"), str) and not Path(raw["output_dir"]).is_absolute():
        raw["output_dir"] = os.path.normpath(base / raw["output_dir"])
    return raw


def build_config(options: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate options into a :class:`TrainConfig`; raise :class:`ConfigError` naming every bad field."""
    try:
        return TrainConfig.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a config file (optional) and apply overrides (e.g. parsed flags) on top."""
    options: dict[str, Any] = read_config_file(path) if path is not None else {}
    options.update(overrides or {})
    return build_config(options, str(path) if path is not None else "options")
