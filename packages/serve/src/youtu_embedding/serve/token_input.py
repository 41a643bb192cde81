"""Requests that send token ids instead of text (OpenAI's and TEI's token-id inputs).

The ids are the text's tokens without special tokens (what ``tokenizer(text,
add_special_tokens=False)`` gives); the server adds the model's special tokens and the prefix's
tokens around them, so a row equals the core's tokenisation of ``prefix + text`` and its
embedding equals ``Encoder.encode`` of that text.
"""

from __future__ import annotations

from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.prompts import leading_special_tokens
from youtu_embedding.serve.engine import LEFT, Engine, Tokenized


def _special_frame(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special tokens the tokenizer puts before and after a text ([CLS] / [SEP], [BOS] ...)."""
    frame = list(tokenizer("", add_special_tokens=True)["input_ids"])
    lead = leading_special_tokens(tokenizer)
    return tuple(frame[:lead]), tuple(frame[lead:])


def token_rows(
    engine: Engine,
    rows: list[list[int]],
    prefix: str,
    *,
    truncate: bool,
    direction: str,
    field_name: str = "input",
) -> Tokenized:
    """Model rows of token-id inputs: special tokens + prefix tokens + ids, cut to ``max_input_length``.

    Raises InvalidArgumentError naming ``field_name[i]`` (empty row, too long without truncation)
    or ``field_name[i][j]`` (an id outside the vocabulary).
    """
    encoder = engine.encoder
    tokenizer = encoder.tokenizer
    vocab = len(tokenizer)
    for i, row in enumerate(rows):
        if not row:
            raise InvalidArgumentError(f"{field_name}[{i}]", "is empty; send at least one token id")
        for j, token_id in enumerate(row):
            if token_id < 0 or token_id >= vocab:
                raise InvalidArgumentError(
                    f"{field_name}[{i}][{j}]", f"{token_id} is outside the vocabulary (0 .. {vocab - 1})"
                )
    head, tail = _special_frame(tokenizer)
    if prefix and encoder.loaded.layout.do_lower_case:
        prefix = prefix.lower()
    prefix_ids = list(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else []
    fixed = len(head) + len(prefix_ids) + len(tail)
    limit = engine.max_input_length
    budget = limit - fixed
    if budget <= 0:
        raise InvalidArgumentError(
            "max_input_length", f"the prefix takes {fixed} of {limit} tokens, leaving no room for the input"
        )
    skip = 0 if encoder.include_prompt or not prefix else len(head) + len(prefix_ids)
    ids: list[list[int]] = []
    for i, row in enumerate(rows):
        if len(row) > budget:
            if not truncate:
                raise InvalidArgumentError(
                    f"{field_name}[{i}]",
                    f"has {len(row) + fixed} tokens, more than max_input_length={limit}, and truncation is off "
                    "(send truncate=true to cut it)",
                )
            row = row[-budget:] if direction == LEFT else row[:budget]
        ids.append([*head, *prefix_ids, *row, *tail])
    return Tokenized(ids, [skip] * len(ids), chars=0)
