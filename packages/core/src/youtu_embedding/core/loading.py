"""Load a model directory (utu, Hugging Face encoder, sentence-transformers) with its tokenizer."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from youtu_embedding.core._quiet_imports import no_progress_bars
from youtu_embedding.core.devices import DeviceBackend, resolve_device, resolve_dtype
from youtu_embedding.core.errors import InvalidArgumentError, UnsafeModelError
from youtu_embedding.core.hub import resolve_model_dir
from youtu_embedding.core.modeling import register_utu
from youtu_embedding.core.st_format import ModelLayout, read_layout

logger = logging.getLogger(__name__)

#: Default maximum input length of `utu` models (the release's 8K context).
UTU_DEFAULT_MAX_LENGTH = 8192
ATTENTION_CHOICES = ("causal", "bidirectional")


@dataclass
class LoadedModel:
    """A model ready to embed: network, tokenizer, layout and placement."""

    model_id: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    layout: ModelLayout
    backend: DeviceBackend
    device: torch.device
    dtype: torch.dtype
    max_length: int

    @property
    def is_utu(self) -> bool:
        return self.layout.model_type == "utu"


def _attention_to_causal(attention: str | None, is_causal: bool | None) -> bool | None:
    if attention is not None and is_causal is not None:
        raise InvalidArgumentError("attention", "give either attention or is_causal, not both")
    if attention is None:
        return is_causal
    if attention not in ATTENTION_CHOICES:
        raise InvalidArgumentError("attention", f"unknown attention direction '{attention}'", ATTENTION_CHOICES)
    return attention == "causal"


def _has_safetensors(path: Path) -> bool:
    return any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file()


def load_model(
    model: str | os.PathLike[str],
    *,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype | None = "auto",
    attention: str | None = None,
    is_causal: bool | None = None,
    max_length: int | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool | None = None,
    token: str | bool | None = None,
    num_threads: int | None = None,
) -> LoadedModel:
    """Resolve, check and load a model; see :class:`~youtu_embedding.core.Encoder` for the options."""
    causal = _attention_to_causal(attention, is_causal)
    if max_length is not None and max_length <= 0:
        raise InvalidArgumentError("max_length", f"must be a positive integer, got {max_length}")
    backend, torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, backend)
    backend.configure_threads(num_threads)
    register_utu()

    model_id, root = resolve_model_dir(
        model,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        allow_pickle=allow_pickle,
        token=token,
    )
    layout = read_layout(root)
    weights_dir = layout.transformer_dir
    if not allow_pickle and not _has_safetensors(weights_dir):
        raise UnsafeModelError(
            f"model '{model_id}' has no safetensors weights in {weights_dir}; refusing to unpickle "
            "(pass allow_pickle=True / --allow-pickle to load them with torch's weights_only loader)"
        )
    try:
        config = AutoConfig.from_pretrained(weights_dir, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise UnsafeModelError(
                f"model '{model_id}' needs remote code ({exc}); pass trust_remote_code=True only if you trust it"
            ) from exc
        raise
    if causal is not None:
        if config.model_type != "utu":
            raise InvalidArgumentError(
                "attention", f"only `utu` models have a selectable direction, not '{config.model_type}'"
            )
        config.is_causal = causal
    with no_progress_bars():
        net = AutoModel.from_pretrained(
            weights_dir,
            config=config,
            dtype=torch_dtype,
            trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle else True,
        )
    net.to(torch_device).eval()
    tokenizer = AutoTokenizer.from_pretrained(weights_dir, trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "right"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token

    limit = _default_max_length(layout, config, tokenizer)
    return LoadedModel(model_id, net, tokenizer, layout, backend, torch_device, torch_dtype, max_length or limit)


def _default_max_length(layout: ModelLayout, config: object, tokenizer: PreTrainedTokenizerBase) -> int:
    if layout.max_seq_length:
        return int(layout.max_seq_length)
    if layout.model_type == "utu":
        return UTU_DEFAULT_MAX_LENGTH
    candidates = [int(getattr(config, "max_position_embeddings", 0) or 0)]
    if 0 < int(tokenizer.model_max_length) < 1_000_000:
        candidates.append(int(tokenizer.model_max_length))
    candidates = [c for c in candidates if c > 0]
    return min(candidates) if candidates else 512
