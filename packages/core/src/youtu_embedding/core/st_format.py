"""Read how a model directory should be run: sentence-transformers layout or a plain HF model.

A sentence-transformers directory has ``modules.json`` (Transformer, Pooling, Normalize ...),
``1_Pooling/config.json``, ``sentence_bert_config.json`` and ``config_sentence_transformers.json``
(prompts, default prompt, similarity function). A plain Hugging Face directory gets mean pooling
and L2 normalisation; a `utu` model without prompts gets the release's prompts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.pooling import ST_POOLING_MODES
from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS

SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


@dataclass
class ModelLayout:
    """Everything needed to run a model directory as an embedder."""

    root: Path
    transformer_dir: Path
    is_sentence_transformers: bool = False
    pooling: str = "mean"
    include_prompt: bool = True
    normalize: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str = "cosine"
    max_seq_length: int | None = None
    do_lower_case: bool = False
    model_type: str | None = None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError("model", f"{path} is not valid JSON: {exc}") from exc


def _module_kind(entry: dict[str, Any]) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def read_layout(root: Path) -> ModelLayout:
    """Inspect `root` and return its :class:`ModelLayout`."""
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        layout = ModelLayout(root=root, transformer_dir=root)
    else:
        layout = _read_sentence_transformers(root, modules_file)
    config_file = layout.transformer_dir / "config.json"
    if config_file.is_file():
        layout.model_type = _read_json(config_file).get("model_type")
    if layout.model_type == "utu":
        layout.include_prompt = False  # REFERENCE.md: instruction tokens are excluded from pooling
        if not layout.prompts:
            layout.prompts = dict(YOUTU_RELEASE_PROMPTS)
    return layout


def _read_sentence_transformers(root: Path, modules_file: Path) -> ModelLayout:
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    layout = ModelLayout(root=root, transformer_dir=root, is_sentence_transformers=True, normalize=False)
    for entry in sorted(modules, key=lambda m: m.get("idx", 0)):
        kind = _module_kind(entry)
        sub = root / entry.get("path", "")
        if kind == "Transformer":
            layout.transformer_dir = sub
            bert_cfg = sub / "sentence_bert_config.json"
            if bert_cfg.is_file():
                cfg = _read_json(bert_cfg)
                layout.max_seq_length = cfg.get("max_seq_length")
                layout.do_lower_case = bool(cfg.get("do_lower_case", False))
        elif kind == "Pooling":
            cfg = _read_json(sub / "config.json")
            modes = [ST_POOLING_MODES[k] for k, v in cfg.items() if k in ST_POOLING_MODES and v]
            if cfg.get("pooling_mode"):
                modes = [str(cfg["pooling_mode"])]
            if len(modes) != 1:
                raise InvalidArgumentError(
                    "model",
                    f"{sub / 'config.json'} enables {len(modes)} pooling modes; exactly one is supported",
                    sorted(set(ST_POOLING_MODES.values())),
                )
            layout.pooling = modes[0]
            layout.include_prompt = bool(cfg.get("include_prompt", True))
        elif kind == "Normalize":
            layout.normalize = True
        else:
            raise InvalidArgumentError(
                "model",
                f"sentence-transformers module '{entry.get('type')}' in {modules_file} is not supported",
                SUPPORTED_MODULES,
            )
    st_cfg = root / "config_sentence_transformers.json"
    if st_cfg.is_file():
        cfg = _read_json(st_cfg)
        layout.prompts = dict(cfg.get("prompts") or {})
        layout.default_prompt_name = cfg.get("default_prompt_name")
        layout.similarity_fn_name = cfg.get("similarity_fn_name") or "cosine"
    return layout
