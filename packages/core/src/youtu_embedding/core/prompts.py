"""Choosing the prefix of a batch, and which leading tokens pooling must skip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.templates import get_template

PREFIX_MASK_METHODS = ("offsets", "count")
TRUNCATION_SIDES = ("right", "left")


def resolve_prefix(
    prompts: Mapping[str, str],
    *,
    prompt_name: str | None = None,
    prompt: str | None = None,
    instruction: str | None = None,
    task: str | None = None,
    template: str = "youtu",
    default_prompt_name: str | None = None,
) -> str:
    """The text prefix for one encode call.

    At most one of ``prompt_name`` (a model prompt), ``prompt`` (a literal prefix),
    ``instruction`` (rendered by ``template``) or ``task`` (the template's instruction for a task)
    may be given; with none, the model's ``default_prompt_name`` applies, else no prefix.
    """
    given = [
        k
        for k, v in (("prompt_name", prompt_name), ("prompt", prompt), ("instruction", instruction), ("task", task))
        if v is not None
    ]
    if len(given) > 1:
        raise InvalidArgumentError("/".join(given), "give at most one of prompt_name, prompt, instruction, task")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise InvalidArgumentError("prompt", f"must be a string, got {type(prompt).__name__}")
        return prompt
    if instruction is not None:
        if not isinstance(instruction, str):
            raise InvalidArgumentError("instruction", f"must be a string, got {type(instruction).__name__}")
        return get_template(template).render(instruction)
    if task is not None:
        tmpl = get_template(template)
        return tmpl.render(tmpl.task(task).instruction)
    name = prompt_name if prompt_name is not None else default_prompt_name
    if name is None:
        return ""
    if name not in prompts:
        raise InvalidArgumentError("prompt_name", f"unknown prompt name '{name}'", sorted(prompts))
    return prompts[name]


def leading_special_tokens(tokenizer: Any) -> int:
    """How many special tokens the tokenizer puts before a text ([BOS], [CLS] ...)."""
    with_specials = tokenizer("x", add_special_tokens=True)["input_ids"]
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    for start in range(len(with_specials) - len(plain) + 1):
        if with_specials[start : start + len(plain)] == plain:
            return start
    return 0


def count_prefix_tokens(tokenizer: Any, prefix: str) -> int:
    """Tokens the prefix occupies at the start of a text: leading specials + prefix tokens.

    This is the reference recipe's method (tokenise the prefix alone, count its tokens). Special
    tokens that a tokenizer appends at the end (BERT's [SEP]) are not counted: they do not precede
    the text. For the Llama-3 tokenizer of `utu` this is exactly ``len(tokenizer(prefix).input_ids)``.
    """
    body = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    return leading_special_tokens(tokenizer) + len(body)


def offset_prefix_tokens(offsets: Sequence[tuple[int, int]], special: Sequence[int], prefix_chars: int) -> int:
    """Index of the first text token: not special, and ending past the prefix's characters.

    This is the training collator's method; a token straddling the prefix boundary counts as text.
    """
    for j, ((_, end), is_special) in enumerate(zip(offsets, special, strict=True)):
        if not is_special and end > prefix_chars:
            return j
    return len(offsets)
