"""The core :class:`~youtu_embedding.core.Encoder` as an mteb model (mteb v2 encoder protocol).

:class:`YoutuMtebEncoder` implements ``encode(inputs: DataLoader, *, task_metadata, hf_split,
hf_subset, prompt_type, **kwargs)`` and ``mteb_model_meta``; similarity is mteb's cosine. Each task's
prompts come from an :class:`~youtu_embedding.eval.instructions.InstructionPolicy` and are recorded
in :attr:`YoutuMtebEncoder.used_prompts`, so that the results say what was actually applied.
Vectors go through an optional :class:`~youtu_embedding.eval.cache.EmbeddingCache`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from youtu_embedding.eval.instructions import InstructionPolicy, TaskPrompts

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from youtu_embedding.core import Encoder
    from youtu_embedding.eval.cache import EmbeddingCache

logger = logging.getLogger(__name__)


def _mteb_name(model_id: str) -> str:
    """mteb model names look like ``org/name``; local paths become ``local/<dir name>``."""
    if re.fullmatch(r"[\w.\-]+/[\w.\-]+", model_id):
        return model_id
    tail = re.sub(r"[^\w.\-]+", "-", model_id.rstrip("/").split("/")[-1]) or "model"
    return f"local/{tail}"


def build_model_meta(encoder: Encoder, *, name: str | None = None, revision: str | None = None) -> ModelMeta:
    """mteb metadata of a loaded encoder (name, dimension, max tokens, cosine similarity...)."""
    info = encoder.info()
    n_parameters = sum(p.numel() for p in encoder.model.parameters())
    return ModelMeta(
        loader=None,
        name=name or _mteb_name(str(info["model_id"])),
        revision=revision or "local",
        release_date=None,
        languages=None,
        n_parameters=int(n_parameters),
        memory_usage_mb=None,
        max_tokens=float(info["max_length"]),
        embed_dim=int(info["dimension"]),
        license=None,
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["PyTorch", "Transformers"],
        similarity_fn_name=ScoringFunction.COSINE,
        use_instructions=info["model_type"] == "utu",
        training_datasets=None,
    )


class YoutuMtebEncoder(AbsEncoder):
    """An mteb encoder backed by a youtu-embedding :class:`Encoder`.

    Args:
        encoder: the loaded encoder.
        policy: chooses each task's instruction and prefixes.
        cache: optional embeddings cache.
        batch_size: texts per batch (default: the encoder's).
        show_progress: progress bars while encoding.
        name / revision: mteb model name and revision (default: from the encoder).
    """

    def __init__(
        self,
        encoder: Encoder,
        policy: InstructionPolicy,
        *,
        cache: EmbeddingCache | None = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        name: str | None = None,
        revision: str | None = None,
    ) -> None:
        self.model = encoder
        self.encoder = encoder
        self.policy = policy
        self.cache = cache
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.mteb_model_meta = build_model_meta(encoder, name=name, revision=revision)
        self.used_prompts: dict[str, TaskPrompts] = {}
        self.empty_texts: dict[str, int] = {}

    def prompts_for(self, task_metadata: Any) -> TaskPrompts:
        """The prompts of a task (recorded in :attr:`used_prompts`)."""
        name = task_metadata.name
        if name not in self.used_prompts:
            self.used_prompts[name] = self.policy.for_task(name, task_metadata.type, task_metadata.prompt)
        return self.used_prompts[name]

    def encode(
        self,
        inputs: DataLoader[Any],
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embed the texts of ``inputs`` with the task's prefix for ``prompt_type``; float32 (n, dim)."""
        prompts = self.prompts_for(task_metadata)
        prefix = prompts.document_prefix if prompt_type == PromptType.document else prompts.query_prefix
        texts = _texts(inputs)
        return self.encode_texts(texts, prefix, task_name=task_metadata.name, batch_size=kwargs.get("batch_size"))

    def encode_texts(
        self, texts: list[str], prefix: str, *, task_name: str = "", batch_size: int | None = None
    ) -> np.ndarray:
        """Embed ``texts`` under ``prefix`` through the cache; blank texts get a zero vector (with a warning)."""
        out = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        blank = len(texts) - len(todo)
        if blank:
            self.empty_texts[task_name] = self.empty_texts.get(task_name, 0) + blank
            logger.warning("%s: %d empty text(s) embedded as zero vectors", task_name or "encode", blank)
        keys: list[str] = []
        if self.cache is not None and todo:
            keys = [self.cache.key(prefix, texts[i]) for i in todo]
            found = self.cache.get_many(keys)
            missing = []
            for i, key in zip(todo, keys, strict=True):
                if key in found:
                    out[i] = found[key]
                else:
                    missing.append(i)
        else:
            missing = todo
        if missing:
            unique = list(dict.fromkeys(texts[i] for i in missing))
            vectors = self.encoder.encode(
                unique,
                prompt=prefix,
                batch_size=batch_size or self.batch_size,
                show_progress=self.show_progress,
            )
            assert isinstance(vectors, np.ndarray)
            row = {text: j for j, text in enumerate(unique)}
            for i in missing:
                out[i] = vectors[row[texts[i]]]
            if self.cache is not None:
                self.cache.put_many([self.cache.key(prefix, t) for t in unique], vectors)
        return out


def _texts(inputs: Any) -> list[str]:
    dataset = getattr(inputs, "dataset", None)
    if dataset is not None and hasattr(dataset, "column_names") and "text" in dataset.column_names:
        return list(dataset["text"])
    texts: list[str] = []
    for batch in inputs:
        texts.extend(batch["text"])
    return texts
