"""The ``markdown-sections`` chunker: one chunk per Markdown section (a heading and its body)."""

from __future__ import annotations

import itertools
import re

from youtu_embedding.core.chunking import Chunker, positive_option

_HEADING = re.compile(r"^(#{1,6})[ \t]+\S", re.MULTILINE)


def split_markdown_sections(
    text: str, token_offsets: list[tuple[int, int]], *, max_level: int = 6
) -> list[tuple[int, int]]:
    """Cut before every ATX heading of level <= ``max_level`` (``#`` .. ``######``); text before
    the first heading is a chunk of its own. Spans are trimmed of surrounding whitespace."""
    positive_option("max_level", max_level)
    cuts = [m.start() for m in _HEADING.finditer(text) if len(m.group(1)) <= max_level]
    bounds = sorted({0, *cuts, len(text)})
    spans = []
    for start, end in itertools.pairwise(bounds):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


MARKDOWN_SECTIONS = Chunker(
    "markdown-sections", split_markdown_sections, "one chunk per Markdown section (option `max_level`; example plugin)"
)
