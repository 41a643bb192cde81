"""Write any model the core loads as a standard sentence-transformers directory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError


#: Files an exported directory always has (besides weights and tokenizer files).
def export_model(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    prefix_mask: str = "offsets",
    max_seq_length: int | None = None,
    attention: str | None = None,
) -> Path:
    """Export ``model`` (directory, Hub id or alias) to ``out`` in sentence-transformers layout.

    The directory holds ``modules.json`` (Transformer, Pooling, Normalize with stock class names),
    ``config_sentence_transformers.json`` (prompts, default prompt, similarity function),
    ``sentence_bert_config.json`` (maximum length), ``1_Pooling/config.json`` (mode and
    ``include_prompt``), ``2_Normalize`` when outputs are L2-normalised, and the Hugging Face
    weights (safetensors) and tokenizer at the top level. It loads back in the core
    (``Encoder(out)``) and in sentence-transformers with the same embeddings.

    For `utu` models ``config.json`` records the attention direction explicitly (``is_causal``:
    ``attention`` when given, else the direction the core runs the source with), because the
    runtimes disagree on the default of a missing flag (core: bidirectional, the vLLM port: causal).

    Raises:
        InvalidArgumentError: ``out`` exists and is not empty (unless ``overwrite``), or is a file.
    """
    from youtu_embedding.st.model import SentenceTransformer

    target = Path(out).expanduser()
    if target.exists() and not target.is_dir():
        raise InvalidArgumentError("out", f"{target} exists and is a file; give a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise InvalidArgumentError(
            "out", f"{target} is not empty; choose a new directory or pass --overwrite (overwrite=True)"
        )
    if attention is not None and attention not in ("causal", "bidirectional"):
        raise InvalidArgumentError(
            "attention", f"unknown attention direction {attention!r}", ("causal", "bidirectional")
        )
    st = SentenceTransformer(model, device="cpu", prefix_mask=prefix_mask, max_seq_length=max_seq_length)
    config = getattr(getattr(st[0], "auto_model", None), "config", None)
    if config is not None and getattr(config, "model_type", None) == "utu":
        config.is_causal = (attention == "causal") if attention is not None else bool(config.causal)
    elif attention is not None:
        raise InvalidArgumentError("attention", "only `utu` models have a selectable attention direction")
    target.mkdir(parents=True, exist_ok=True)
    st.save(str(target), create_model_card=False)
    return target


def describe_export(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A summary of an exported directory: modules, pooling, prompts, normalisation, max length."""
    root = Path(path)
    modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
    st_cfg = json.loads((root / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    pooling_entry = next((m for m in modules if m["type"].endswith("Pooling")), None)
    pooling = json.loads((root / pooling_entry["path"] / "config.json").read_text()) if pooling_entry else {}
    bert_cfg_file = root / "sentence_bert_config.json"
    bert_cfg = json.loads(bert_cfg_file.read_text(encoding="utf-8")) if bert_cfg_file.is_file() else {}
    model_cfg_file = root / "config.json"
    model_cfg = json.loads(model_cfg_file.read_text(encoding="utf-8")) if model_cfg_file.is_file() else {}
    return {
        "path": str(root),
        "modules": [m["type"].rsplit(".", 1)[-1] for m in modules],
        "pooling_mode": pooling.get("pooling_mode"),
        "include_prompt": pooling.get("include_prompt", True),
        "normalize": any(m["type"].endswith("Normalize") for m in modules),
        "prompts": st_cfg.get("prompts", {}),
        "default_prompt_name": st_cfg.get("default_prompt_name"),
        "similarity_fn_name": st_cfg.get("similarity_fn_name"),
        "max_seq_length": bert_cfg.get("max_seq_length"),
        "model_type": model_cfg.get("model_type"),
        "is_causal": model_cfg.get("is_causal"),
    }
