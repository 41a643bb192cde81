"""Token windows of whole documents, for ``Encoder.encode(long_inputs="chunk")`` and
``Encoder.encode_chunks``; the rules are in :mod:`youtu_embedding.core.chunking`.

Used by the core and by serving code that batches rows itself: :func:`window_texts` gives the
rows to run, :func:`combine_pooled` and :func:`late_chunk_vectors` turn their results into one
vector per input or one vector per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from youtu_embedding.core.chunking import (
    Span,
    chunk_token_mask,
    combine_windows,
    plan_windows,
    token_owners,
)
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.pooling import PoolingStrategy
from youtu_embedding.core.prompts import count_prefix_tokens, offset_prefix_tokens

if TYPE_CHECKING:
    from youtu_embedding.core.encoder import Encoder


@dataclass
class WindowedText:
    """One input cut into rows of at most ``max_length`` tokens.

    Attributes:
        rows: token ids of each window (``head + body[a:b] + tail``); one row when the input fits,
            identical to what :meth:`Encoder.tokenize` gives.
        skip: leading tokens of every row that pooling skips (specials + prefix, or 0).
        head: leading tokens of every row before the body (specials + prefix).
        windows: body-token range ``(a, b)`` of each row.
        tokens: tokens of the whole input (head + body + tail), what limits count.
        offsets: character span of each body token in the text (None without a fast tokenizer).
    """

    rows: list[list[int]]
    skip: int
    head: int
    windows: list[Span]
    tokens: int
    offsets: list[Span] | None

    @property
    def body(self) -> int:
        return self.windows[-1][1]

    @property
    def pooled_counts(self) -> list[int]:
        """Tokens each row's pooling counts (the row minus the skipped head)."""
        return [len(r) - self.skip for r in self.rows]


def window_texts(
    encoder: Encoder,
    texts: Sequence[str],
    prefix: str,
    max_length: int,
    *,
    overlap: int = 0,
    need_offsets: bool = False,
    field_name: str = "texts",
) -> list[WindowedText]:
    """Tokenise ``prefix + text`` whole and cut each over-length input into windows."""
    if not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0:
        raise InvalidArgumentError("overlap", f"must be a non-negative integer, got {overlap!r}")
    tok = encoder.tokenizer
    fast = bool(getattr(tok, "is_fast", False))
    if need_offsets and not fast:
        raise InvalidArgumentError("chunker", "late chunking needs a fast tokenizer (character offsets)")
    lower = encoder.loaded.layout.do_lower_case
    prefix_text = prefix.lower() if lower else prefix
    full = [(prefix + t).lower() if lower else prefix + t for t in texts]
    use_offsets = fast and (need_offsets or (not encoder.include_prompt and encoder.prefix_mask == "offsets"))
    enc = tok(
        full,
        add_special_tokens=True,
        truncation=False,
        return_offsets_mapping=use_offsets,
        return_special_tokens_mask=True,
        return_attention_mask=False,
        verbose=False,
    )
    counted = count_prefix_tokens(tok, prefix_text) if not use_offsets or encoder.prefix_mask == "count" else None
    out = []
    for i, (ids, specials) in enumerate(zip(enc["input_ids"], enc["special_tokens_mask"], strict=True)):
        offsets = enc["offset_mapping"][i] if use_offsets else None
        trail = 0
        while trail < len(ids) and specials[len(ids) - 1 - trail]:
            trail += 1
        if counted is not None:
            head = counted
        else:
            assert offsets is not None
            head = offset_prefix_tokens(offsets, specials, len(prefix_text))
        head = min(head, len(ids) - trail)
        skip = 0 if encoder.include_prompt else head
        body = len(ids) - head - trail
        if body <= 0:
            raise InvalidArgumentError(f"{field_name}[{i}]", "has no text tokens after the prefix")
        body_offsets = (
            [(s - len(prefix_text), e - len(prefix_text)) for s, e in offsets[head : len(ids) - trail]]
            if offsets is not None
            else None
        )
        if len(ids) <= max_length:
            out.append(WindowedText([list(ids)], skip, head, [(0, body)], len(ids), body_offsets))
            continue
        capacity = max_length - head - trail
        if capacity <= 0:
            raise InvalidArgumentError(
                "max_length",
                f"{field_name}[{i}]: the prefix and special tokens take {head + trail} of max_length={max_length} "
                "tokens, leaving none for the text; raise max_length or shorten the instruction",
            )
        if overlap >= capacity:
            raise InvalidArgumentError(
                "overlap", f"must be smaller than the {capacity} text tokens a window holds, got {overlap}"
            )
        windows = plan_windows(body, capacity, overlap)
        head_ids, tail_ids = list(ids[:head]), list(ids[len(ids) - trail :])
        rows = [head_ids + list(ids[head + a : head + b]) + tail_ids for a, b in windows]
        out.append(WindowedText(rows, skip, head, windows, len(ids), body_offsets))
    return out


def combine_pooled(item: WindowedText, pooled: torch.Tensor) -> torch.Tensor:
    """One vector ``(D,)`` of an input from its rows' pooled vectors ``(rows, D)`` (before normalisation)."""
    if len(item.rows) == 1:
        return pooled[0]
    return combine_windows(pooled, item.pooled_counts)


def body_states(item: WindowedText, row_states: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(body, D)`` hidden states of the input's body tokens, from each row's ``(len(row), D)`` states."""
    if len(item.rows) == 1:
        return row_states[0][item.head : item.head + item.body]
    owners = token_owners(item.windows, item.body)
    return torch.stack([row_states[w][item.head + j] for w, j in owners])


def late_chunk_vectors(
    item: WindowedText,
    row_states: Sequence[torch.Tensor],
    spans: Sequence[Span],
    pool: PoolingStrategy,
    field_name: str,
) -> tuple[torch.Tensor, list[int]]:
    """Pooled ``(chunks, D)`` vectors of character ``spans`` and each chunk's token count."""
    assert item.offsets is not None
    states = body_states(item, row_states).float()
    mask = chunk_token_mask(spans, item.offsets, field_name).to(states.device)
    vectors = pool(states.unsqueeze(0).expand(len(spans), -1, -1), mask)
    return vectors, [int(n) for n in mask.sum(dim=1).tolist()]


def plan_rows(items: Sequence[WindowedText]) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
    """Flatten the windows of many inputs: (rows, skips, (input index, row index) of each)."""
    rows: list[list[int]] = []
    skips: list[int] = []
    where: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        for r, row in enumerate(item.rows):
            rows.append(row)
            skips.append(item.skip)
            where.append((i, r))
    return rows, skips, where


def describe(items: Sequence[WindowedText]) -> dict[str, Any]:
    """Counts for logs and usage: inputs, rows, tokens of whole inputs, inputs that needed windows."""
    return {
        "inputs": len(items),
        "rows": sum(len(i.rows) for i in items),
        "tokens": sum(i.tokens for i in items),
        "windowed": sum(len(i.rows) > 1 for i in items),
    }
