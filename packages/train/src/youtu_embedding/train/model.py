"""The trainable embedder: a backbone (utu decoder or BERT-family encoder) plus masked mean pooling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from youtu_embedding.core.loading import LoadedModel, load_model
from youtu_embedding.train.collate import Batch


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` over the positions where ``mask`` is 1, then L2-normalised (float32)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
    return F.normalize(pooled.float(), p=2, dim=-1)


class EmbeddingModel(nn.Module):
    """Backbone + mean pooling; :meth:`forward` returns last-layer and (optionally) mid-layer embeddings."""

    def __init__(self, backbone: nn.Module, is_utu: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.is_utu = is_utu

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pool_mask: torch.Tensor, mid: bool):
        """``(last, mid_or_None)``: normalised mean-pooled embeddings ``(n, d)``.

        ``mid`` uses hidden state ``n_hidden_states // 2`` (``n_hidden_states`` = layers + 1).
        """
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=mid)
        last = masked_mean(out.last_hidden_state, pool_mask)
        if not mid:
            return last, None
        states = out.hidden_states
        return last, masked_mean(states[len(states) // 2], pool_mask)

    def embed(self, batch: Batch, mid: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Convenience wrapper over :meth:`forward`."""
        return self(batch.input_ids, batch.attention_mask, batch.pool_mask, mid)


def load_backbone(model: str, *, device: torch.device, attention: str | None) -> LoadedModel:
    """Load a model with the core loader in float32 (master weights), in train mode.

    ``attention`` applies to `utu` models only (encoders have one direction).
    """
    from youtu_embedding.core.hub import resolve_model_dir
    from youtu_embedding.core.st_format import read_layout

    _, root = resolve_model_dir(model)
    is_utu = read_layout(root).model_type == "utu"
    loaded = load_model(model, device="cpu", dtype="float32", attention=attention if is_utu else None)
    loaded.model.to(device)
    loaded.model.train()
    return loaded


def apply_lora(backbone: nn.Module, *, r: int, alpha: int, dropout: float, target_modules: Any) -> nn.Module:
    """Wrap the backbone with peft LoRA adapters (only adapters are trainable)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("lora: install peft (pip install 'youtu-embedding-train[lora]')") from exc
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, bias="none")
    return get_peft_model(backbone, config)


def save_embedding_model(
    backbone: Any,
    tokenizer: Any,
    loaded: LoadedModel,
    path: str | Path,
    *,
    max_length: int,
    include_prompt: bool = False,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Save in the sentence-transformers layout (HF weights at the root + modules.json, pooling, normalize).

    The model's prompts are kept (a `utu` model without prompts gets the release's prompts).
    ``include_prompt=False`` (pooling skips the prompt, as in training) unless the run used no
    instruction prefix on an encoder, whose pooling then stays sentence-transformers' default.
    """
    from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS
    from youtu_embedding.core.testing import write_sentence_transformers_config

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if state_dict is not None:  # FSDP: the gathered full weights
        backbone.save_pretrained(path, state_dict=state_dict)
    else:
        if hasattr(backbone, "merge_and_unload"):
            backbone = backbone.merge_and_unload()
        backbone.save_pretrained(path)
    tokenizer.save_pretrained(path)
    prompts = dict(loaded.layout.prompts) or (dict(YOUTU_RELEASE_PROMPTS) if loaded.is_utu else {})
    write_sentence_transformers_config(
        path,
        prompts=prompts,
        pooling="mean",
        include_prompt=include_prompt,
        normalize=True,
        max_seq_length=max_length,
    )
    return path
