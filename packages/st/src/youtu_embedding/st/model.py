"""``SentenceTransformer``: a genuine :class:`sentence_transformers.SentenceTransformer` that loads
Youtu-Embedding (and any model the core loads) the way the core runs it.

What the subclass adds to the stock class, and nothing else:

* names resolve through :func:`youtu_embedding.core.hub.resolve_model_dir`: the core's aliases
  (``Youtu-RAG/Youtu-Embedding-V1`` -> ``tencent/Youtu-Embedding``, ``all-MiniLM-L6-v2`` -> the
  packaged copy), local directories, and the normal Hugging Face cache (``HF_HUB_OFFLINE=1`` honoured);
* the `utu` architecture loads without ``trust_remote_code`` (importing the core registers it);
* the pipeline follows the core's reading of the directory (:func:`youtu_embedding.core.st_format.read_layout`):
  a model with ``include_prompt=False`` (every `utu` model) gets :mod:`youtu_embedding.st.modules`,
  which exclude the instruction tokens (and BOS) from pooling exactly like the core; a plain Hugging
  Face directory gets the core's pooling, L2 normalisation, prompts and maximum length;
* :meth:`SentenceTransformer.save` writes stock class names into ``modules.json``, so saved models
  are standard sentence-transformers directories.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import sentence_transformers
from sentence_transformers.sentence_transformer.modules import Normalize
from sentence_transformers.sentence_transformer.modules import Pooling as StPooling
from sentence_transformers.sentence_transformer.modules import Transformer as StTransformer

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.hub import resolve_model_dir
from youtu_embedding.core.loading import UTU_DEFAULT_MAX_LENGTH
from youtu_embedding.core.prompts import PREFIX_MASK_METHODS
from youtu_embedding.core.st_format import ModelLayout, read_layout
from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS
from youtu_embedding.st.modules import Pooling, Transformer

logger = logging.getLogger(__name__)

#: core pooling names -> sentence-transformers ``pooling_mode`` values
CORE_TO_ST_POOLING = {
    "mean": "mean",
    "cls": "cls",
    "max": "max",
    "lasttoken": "lasttoken",
    "weightedmean": "weightedmean",
    "mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "mean_sqrt_len": "mean_sqrt_len_tokens",  # the example plugin's name for the same pooling
}

#: our module classes -> the stock classes whose names ``save`` writes into modules.json
STOCK_CLASSES: dict[type, type] = {Transformer: StTransformer, Pooling: StPooling}


def _class_ref(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _read_layout(root: Path) -> ModelLayout | None:
    """The core's reading of ``root``; None when the core cannot run it (e.g. a ``Dense`` module)."""
    try:
        return read_layout(root)
    except InvalidArgumentError as exc:
        logger.info("running %s as a plain sentence-transformers model: %s", root, exc)
        return None


class SentenceTransformer(sentence_transformers.SentenceTransformer):
    """Drop-in ``sentence_transformers.SentenceTransformer`` for Youtu-Embedding and any core model.

    Args:
        model_name_or_path: a local directory, a Hugging Face id (through the Hub cache) or a core
            alias such as ``Youtu-RAG/Youtu-Embedding-V1``.
        prefix_mask: how instruction tokens are excluded from pooling when the model pools without
            its prompt: ``"offsets"`` (character offsets; the core's default) or ``"count"``.
        max_seq_length: override the maximum input length (tokens, prompt included).
        **kwargs: every keyword of ``sentence_transformers.SentenceTransformer`` (device, prompts,
            default_prompt_name, model_kwargs, truncate_dim, similarity_fn_name, ...).

    Everything else (``encode``, ``encode_query``/``encode_document``, ``similarity``, precision,
    ``truncate_dim``, the multi-process pool, training, ``save``) is sentence-transformers' own code.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        modules: Any = None,
        prefix_mask: str = "offsets",
        max_seq_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if prefix_mask not in PREFIX_MASK_METHODS:
            raise InvalidArgumentError("prefix_mask", f"unknown method {prefix_mask!r}", PREFIX_MASK_METHODS)
        layout: ModelLayout | None = None
        has_st_config = False
        if model_name_or_path is not None:
            _, root = resolve_model_dir(
                model_name_or_path,
                revision=kwargs.get("revision"),
                cache_dir=kwargs.get("cache_folder"),
                local_files_only=kwargs.get("local_files_only") or None,
                token=kwargs.get("token"),
            )
            kwargs.pop("revision", None)  # resolved: the directory is the revision
            layout = _read_layout(root)
            has_st_config = (root / "config_sentence_transformers.json").is_file()
            if (root / "modules.json").is_file() or layout is None:
                model_name_or_path = str(root)
            else:  # a plain Hugging Face directory: build the pipeline the core would run
                modules = self._modules_for_plain_directory(layout, prefix_mask, kwargs)
                model_name_or_path = None
                kwargs.setdefault("similarity_fn_name", layout.similarity_fn_name)
        user_prompts = kwargs.pop("prompts", None)
        if layout is not None and layout.prompts and not has_st_config:
            kwargs["prompts"] = {**layout.prompts, **(user_prompts or {})}
        elif user_prompts is not None:
            kwargs["prompts"] = user_prompts
        super().__init__(model_name_or_path, modules=modules, **kwargs)
        if layout is not None:
            self._follow_core_layout(layout, prefix_mask, user_prompts)
        if max_seq_length is not None:
            self.max_seq_length = max_seq_length

    # -- construction ---------------------------------------------------------------------
    @staticmethod
    def _modules_for_plain_directory(layout: ModelLayout, prefix_mask: str, kwargs: dict[str, Any]) -> list[Any]:
        transformer = StTransformer(
            str(layout.transformer_dir),
            max_seq_length=layout.max_seq_length or (UTU_DEFAULT_MAX_LENGTH if layout.model_type == "utu" else None),
            do_lower_case=layout.do_lower_case,
            model_kwargs=kwargs.get("model_kwargs"),
            processor_kwargs=kwargs.get("processor_kwargs"),
            config_kwargs=kwargs.get("config_kwargs"),
            backend=kwargs.get("backend", "torch"),
        )
        pooling_cls = StPooling if layout.include_prompt else Pooling
        if not layout.include_prompt:
            Transformer.adopt(transformer, prefix_mask)
        dim = transformer.get_embedding_dimension()
        pooling = pooling_cls(
            dim, pooling_mode=CORE_TO_ST_POOLING[layout.pooling], include_prompt=layout.include_prompt
        )
        return [transformer, pooling, *([Normalize()] if layout.normalize else [])]

    def _follow_core_layout(self, layout: ModelLayout, prefix_mask: str, user_prompts: dict[str, str] | None) -> None:
        """Apply what the core reads from the directory but stock sentence-transformers would not."""
        first = self._first_module()
        tokenizer = getattr(getattr(first, "processor", None), "tokenizer", getattr(first, "processor", None))
        if tokenizer is not None and getattr(tokenizer, "pad_token_id", 0) is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token  # as the core: pad with EOS
        if not layout.include_prompt:
            for name, module in list(self._modules.items()):
                if type(module) is StTransformer or isinstance(module, Transformer):
                    Transformer.adopt(module, prefix_mask)
                elif type(module) is StPooling or (isinstance(module, Pooling) and module.include_prompt):
                    self._modules[name] = Pooling.from_stock(module, include_prompt=False)  # no parameters
        if layout.model_type == "utu":
            if layout.max_seq_length is None and (self.max_seq_length or 0) > UTU_DEFAULT_MAX_LENGTH:
                self.max_seq_length = UTU_DEFAULT_MAX_LENGTH
            if not any(self.prompts.values()):  # no prompts in the checkpoint: the release's (as the core)
                self.prompts = {**YOUTU_RELEASE_PROMPTS, **(user_prompts or {})}

    def _first_module(self) -> Any:
        return next(iter(self._modules.values()), None)

    # -- saving ---------------------------------------------------------------------------
    def save(self, path: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Save as a standard sentence-transformers directory (stock class names in ``modules.json``).

        The instruction-exclusion of :mod:`youtu_embedding.st.modules` is not lost: it follows
        from ``1_Pooling/config.json`` (``include_prompt: false``) and the model type when the
        directory is loaded again with this class or with the core.
        """
        super().save(path, *args, **kwargs)
        modules_file = Path(path) / "modules.json"
        if not modules_file.is_file():
            return
        entries = json.loads(modules_file.read_text(encoding="utf-8"))
        ours = {_class_ref(mine): _class_ref(stock) for mine, stock in STOCK_CLASSES.items()}
        for entry in entries:
            entry["type"] = ours.get(entry.get("type"), entry.get("type"))
        modules_file.write_text(json.dumps(entries, indent=2), encoding="utf-8")
        self._record_max_length(Path(path), entries)

    def _record_max_length(self, root: Path, entries: list[dict[str, Any]]) -> None:
        """Keep ``max_seq_length``/``do_lower_case`` in ``sentence_bert_config.json`` (read by the core and TEI)."""
        first = self._first_module()
        entry = next((e for e in entries if e.get("type", "").endswith(".Transformer")), None)
        if entry is None or not isinstance(first, StTransformer) or self.max_seq_length is None:
            return
        config_file = root / entry.get("path", "") / "sentence_bert_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        config["max_seq_length"] = int(self.max_seq_length)
        config["do_lower_case"] = bool(getattr(first, "do_lower_case", False))
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")

    def save_pretrained(self, path: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Alias of :meth:`save` (stock class names in ``modules.json``)."""
        self.save(path, *args, **kwargs)
