"""Turning training texts into model inputs: the training prefix and the offset-based text mask.

A text ``[task_instruction, instance_instruction, text]`` is fed as
``prefix + text`` with ``prefix = "Instruction: {task_instruction} Query: "`` (no newline; empty
when the task instruction is empty, as for IR passages) followed by the instance instruction and a
space when there is one. Every token is attended to; the pooling mask keeps only the text tokens:
a token is text when it is not special and its end offset is past the prefix's characters
(:func:`youtu_embedding.core.prompts.offset_prefix_tokens`), exactly as the core encoder does with
``include_prompt=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from youtu_embedding.core.prompts import offset_prefix_tokens
from youtu_embedding.train.config import TRAINING_PREFIX
from youtu_embedding.train.data import Text


def render_prefix(text: Text, template: str = TRAINING_PREFIX) -> str:
    """The prefix of one training text (instruction part, excluded from pooling)."""
    prefix = template.format(task_instruction=text.task_instruction) if text.task_instruction else ""
    if text.instance_instruction:
        prefix += text.instance_instruction + " "
    return prefix


@dataclass
class Batch:
    """Tokenised texts: ids, attention mask and pooling mask, all ``(n, T)``."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pool_mask: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.pool_mask.to(device))


def collate_texts(
    tokenizer: Any,
    texts: Sequence[Text],
    *,
    max_length: int,
    template: str = TRAINING_PREFIX,
    mask_leading_specials: bool = False,
) -> Batch:
    """Tokenise ``prefix + text`` (right padding, truncation at ``max_length``) with the text mask.

    ``mask_leading_specials``: apply the offset rule to texts without a prefix too, so leading
    special tokens (BOS) are not pooled - the reference collator's behaviour for `utu` decoders and
    what the core encoder does for them. Encoders keep sentence-transformers' pooling of unprefixed
    texts ([CLS] included).
    """
    if not tokenizer.is_fast:
        raise ValueError("the training collator needs a fast tokenizer (character offsets for the text mask)")
    if tokenizer.pad_token_id is None:  # decoders often ship without one; padding is masked anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    prefixes = [render_prefix(t, template) for t in texts]
    full = [p + t.text for p, t in zip(prefixes, texts, strict=True)]
    enc = tokenizer(
        full,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    attention = enc["attention_mask"]
    pool = attention.clone()
    for i, prefix in enumerate(prefixes):
        length = int(attention[i].sum())
        offsets = [tuple(o) for o in enc["offset_mapping"][i][:length].tolist()]
        special = enc["special_tokens_mask"][i][:length].tolist()
        if prefix or mask_leading_specials:
            start = offset_prefix_tokens(offsets, special, len(prefix))
            if start >= length:  # the prefix filled max_length: pool the last token rather than nothing
                start = length - 1
            pool[i, :start] = 0
    return Batch(enc["input_ids"], attention, pool)
