"""Built-in chunkers: ``tokens`` (fixed token windows), ``sentences`` and ``paragraphs``.

Every span is trimmed of surrounding whitespace, so ``text[start:end]`` is the chunk's text.
"""

from __future__ import annotations

import itertools
import re

from youtu_embedding.core.chunking import Chunker, Span, positive_option
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.hookspecs import hookimpl

# A sentence ends at . ! ? (or their CJK forms), with any closing quotes/brackets, before whitespace
# or the end; CJK full stops end a sentence even without a following space.
_SENTENCE_END = re.compile(r"(?:[.!?]+[\"'”’)\]]*(?=\s|$))|(?:[。！？]+[”’」』）]*)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _pieces(text: str, cuts: list[int]) -> list[Span]:
    bounds = [0, *cuts, len(text)]
    return [span for a, b in itertools.pairwise(bounds) if (span := _trimmed(text, a, b)) is not None]


def _group(spans: list[Span], per_chunk: int) -> list[Span]:
    return [(spans[i][0], spans[min(i + per_chunk, len(spans)) - 1][1]) for i in range(0, len(spans), per_chunk)]


def split_tokens(text: str, token_offsets: list[Span], *, size: int = 256, overlap: int = 0) -> list[Span]:
    """Windows of ``size`` tokens, consecutive windows sharing ``overlap`` tokens."""
    positive_option("size", size)
    positive_option("overlap", overlap, minimum=0)
    if overlap >= size:
        raise InvalidArgumentError("chunker_options.overlap", f"must be smaller than size={size}, got {overlap}")
    offsets = [o for o in token_offsets if o[1] > o[0]]
    if not offsets:
        return [span] if (span := _trimmed(text, 0, len(text))) else []
    spans: list[Span] = []
    start = 0
    while True:
        window = offsets[start : start + size]
        span = _trimmed(text, window[0][0], window[-1][1])
        if span is not None:
            spans.append(span)
        if start + size >= len(offsets):
            return spans
        start += size - overlap


def split_sentences(text: str, token_offsets: list[Span], *, per_chunk: int = 1) -> list[Span]:
    """Sentences (ended by . ! ? or 。！？), ``per_chunk`` consecutive sentences per chunk."""
    positive_option("per_chunk", per_chunk)
    return _group(_pieces(text, [m.end() for m in _SENTENCE_END.finditer(text)]), per_chunk)


def split_paragraphs(text: str, token_offsets: list[Span], *, per_chunk: int = 1) -> list[Span]:
    """Paragraphs (separated by a blank line), ``per_chunk`` consecutive paragraphs per chunk."""
    positive_option("per_chunk", per_chunk)
    return _group(_pieces(text, [m.start() for m in _BLANK_LINE.finditer(text)]), per_chunk)


BUILTIN_CHUNKERS = [
    Chunker("tokens", split_tokens, "fixed windows of `size` tokens (option `overlap`)"),
    Chunker("sentences", split_sentences, "sentences ending in . ! ? or 。！？ (option `per_chunk`)"),
    Chunker("paragraphs", split_paragraphs, "paragraphs separated by a blank line (option `per_chunk`)"),
]


@hookimpl
def register_chunkers() -> list[Chunker]:
    return list(BUILTIN_CHUNKERS)
