"""sentence-transformers modules that pool exactly like the core when instruction tokens are excluded.

sentence-transformers' own ``Pooling(include_prompt=False)`` excludes ``prompt_length`` tokens,
where ``prompt_length`` is the token count of the prompt tokenised alone, and only when the prompt
is non-empty. The core (REFERENCE.md, the training collator) excludes every leading special token
(BOS) and every token that ends inside the prompt's characters, found from character offsets
(:func:`youtu_embedding.core.prompts.offset_prefix_tokens`); with an empty prompt (documents) the
BOS token is still excluded. The two differ where the tokenizer merges the prompt's trailing space
into the first word (byte-level BPE: ``"Query: "`` + ``"What"`` -> ``" What"``) and for documents.

:class:`Transformer` adds a per-row ``pool_start`` feature (the index of the first pooled token) in
:meth:`Transformer.preprocess`; :class:`Pooling` masks the positions before it. Both keep the stock
configuration keys, so a saved model is a standard sentence-transformers directory (the shim's
``save`` writes the stock class names into ``modules.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.sentence_transformer.modules import Pooling as StPooling
from sentence_transformers.sentence_transformer.modules import Transformer as StTransformer

import youtu_embedding.core  # noqa: F401  (registers the `utu` architecture with transformers' Auto classes)
from youtu_embedding.core.prompts import PREFIX_MASK_METHODS, count_prefix_tokens, offset_prefix_tokens

#: Feature key holding, per row, the index of the first token that pooling keeps.
POOL_START = "pool_start"


class Transformer(StTransformer):
    """The stock ``Transformer`` module plus the core's instruction-exclusion bookkeeping.

    ``prefix_mask`` selects how the excluded prefix is measured: ``"offsets"`` (character offsets,
    the core's default; needs a fast tokenizer) or ``"count"`` (leading special tokens + the
    prompt's own token count, the release's example code).
    """

    prefix_mask: str = "offsets"

    @classmethod
    def adopt(cls, module: StTransformer, prefix_mask: str = "offsets") -> Transformer:
        """Turn a loaded stock ``Transformer`` into this class in place (it adds no state but ``prefix_mask``)."""
        if prefix_mask not in PREFIX_MASK_METHODS:
            raise ValueError(f"prefix_mask: unknown method {prefix_mask!r}; allowed: {', '.join(PREFIX_MASK_METHODS)}")
        module.__class__ = cls
        assert isinstance(module, cls)
        module.prefix_mask = prefix_mask
        return module

    @property
    def _tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def _use_offsets(self) -> bool:
        return self.prefix_mask == "offsets" and bool(getattr(self._tokenizer, "is_fast", False))

    def _should_flatten_inputs(self, *args: Any, **kwargs: Any) -> bool:
        return False  # pool_start is defined on padded rows

    def preprocess(  # type: ignore[override]
        self,
        inputs: Sequence[Any],
        prompt: str | None = None,
        processing_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Stock preprocessing, plus ``pool_start`` (first pooled token per row) for text inputs."""
        use_offsets = self._use_offsets()
        if use_offsets:
            processing_kwargs = dict(processing_kwargs or {})
            text_kwargs = dict(processing_kwargs.get("text") or {})
            text_kwargs.update(return_offsets_mapping=True, return_special_tokens_mask=True)
            processing_kwargs["text"] = text_kwargs
        features = super().preprocess(
            inputs,
            prompt=prompt,
            processing_kwargs=processing_kwargs,  # type: ignore[arg-type]
            **kwargs,
        )
        offsets = features.pop("offset_mapping", None)
        special = features.pop("special_tokens_mask", None)
        if features.get("modality", "text") != "text" or "input_ids" not in features:
            return features
        prefix = prompt or ""
        if use_offsets and offsets is not None and special is not None:
            prefix_chars = len(prefix)
            starts = [
                offset_prefix_tokens([tuple(o) for o in off.tolist()], spec.tolist(), prefix_chars)
                for off, spec in zip(offsets, special, strict=True)
            ]
        else:
            skip = count_prefix_tokens(self._tokenizer, prefix.lower() if self.do_lower_case else prefix)
            starts = [skip] * len(features["input_ids"])
        lengths = features["attention_mask"].sum(dim=1).tolist() if "attention_mask" in features else None
        if lengths is not None:
            for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
                if start >= length:
                    raise ValueError(
                        f"inputs[{i}]: the prompt takes {start} of {length} tokens, leaving no text to embed "
                        f"(max_seq_length={self.max_seq_length}); raise max_seq_length or shorten the prompt"
                    )
        features[POOL_START] = torch.tensor(starts, dtype=torch.long)
        return features


class Pooling(StPooling):
    """The stock ``Pooling`` module; with ``include_prompt=False`` it pools from ``pool_start`` on.

    Without a ``pool_start`` feature (inputs prepared by a stock ``Transformer``) it behaves exactly
    like the stock module.
    """

    @classmethod
    def from_stock(cls, module: StPooling, include_prompt: bool | None = None) -> Pooling:
        """A copy of a stock ``Pooling`` module's configuration as this class."""
        return cls(
            embedding_dimension=module.embedding_dimension,
            pooling_mode=module.pooling_mode,
            include_prompt=module.include_prompt if include_prompt is None else include_prompt,
        )

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Pool token embeddings; instruction tokens (before ``pool_start``) are left out."""
        starts = features.get(POOL_START)
        if self.include_prompt or starts is None or "cu_seq_lens_q" in features:
            return super().forward(features, **kwargs)
        token_embeddings = features["token_embeddings"]
        attention_mask = features.get("attention_mask")
        if attention_mask is None or attention_mask.size(-1) != token_embeddings.size(1):
            attention_mask = torch.ones(token_embeddings.shape[:-1], device=token_embeddings.device, dtype=torch.int64)
        positions = torch.arange(attention_mask.size(1), device=attention_mask.device).unsqueeze(0)
        pool_mask = attention_mask * (positions >= starts.to(attention_mask.device).view(-1, 1)).to(
            attention_mask.dtype
        )
        vectors = self._forward_padded(token_embeddings, pool_mask, features, prompt_length=None)
        features["sentence_embedding"] = torch.cat(vectors, dim=-1)
        return features
