"""Token rows: the unit of work between tokenisation, the network and pooling.

:meth:`Encoder.tokenize_rows <youtu_embedding.core.Encoder.tokenize_rows>` turns texts into
:class:`TokenRows` (token ids of ``prefix + text`` and, per row, how many leading tokens pooling
skips); :meth:`~youtu_embedding.core.Encoder.pool_rows` runs rows and pools them;
:meth:`~youtu_embedding.core.Encoder.finish_rows` truncates dimensions, normalises and quantises.
``Encoder.encode`` is exactly these steps; a server or a long-document chunker can run them itself
(batch rows of many requests, window long rows, pool token spans with
:meth:`~youtu_embedding.core.Encoder.pool_spans`).

This module also holds the character pre-cut of over-long inputs: a text far longer than
``max_length`` tokens is cut to a character budget before tokenisation, and the cut is accepted
only when it provably keeps the same tokens (see :func:`cut_is_safe_right` / :func:`cut_is_safe_left`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Cap of the characters-per-token bound used for the first character budget of an over-long
#: input (the bound is the longest vocabulary entry; a budget too small is detected and doubled,
#: so the cap only decides how often a second pass is needed).
MAX_CHARS_PER_TOKEN = 32


@dataclass
class TokenRows:
    """Token-id rows of some texts, exactly as the encoder feeds them to the network.

    Attributes:
        ids: per text, the token ids of ``prefix + text`` (special tokens included).
        skips: per text, how many leading tokens pooling skips (special tokens and the prefix's
            tokens when the prompt is excluded from pooling; 0 when it is included).
        prefix: the prefix that was prepended to every text.
        lead / trail: how many special tokens the tokenizer adds before / after a text (the same
            for every row), e.g. 1 / 1 for BERT's ``[CLS] ... [SEP]``, 1 / 0 for `utu`'s BOS. A
            caller that windows long rows keeps ``ids[:lead]`` and ``ids[len - trail:]`` around
            each window.
        offsets: per text, the ``(start, stop)`` character span of each token in ``prefix + text``
            (specials: ``(0, 0)``); only when asked for (``return_offsets=True``, fast tokenizers).
    """

    ids: list[list[int]]
    skips: list[int]
    prefix: str = ""
    lead: int = 0
    trail: int = 0
    offsets: list[list[tuple[int, int]]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> list[int]:
        """Tokens per row."""
        return [len(row) for row in self.ids]

    @property
    def tokens(self) -> int:
        """Tokens of all rows."""
        return sum(len(row) for row in self.ids)

    def select(self, indices: list[int]) -> TokenRows:
        """The rows at ``indices`` (e.g. one planned batch), same prefix and special-token layout."""
        offsets = [self.offsets[i] for i in indices] if self.offsets is not None else None
        return TokenRows(
            [self.ids[i] for i in indices],
            [self.skips[i] for i in indices],
            self.prefix,
            self.lead,
            self.trail,
            offsets,
        )


@dataclass
class TokenPiece:
    """One token of a tokenised input (the Tokenize RPCs, ``youtu-embed tokenize``-style views).

    Attributes:
        id: token id.
        text: the characters of the input it covers (the token string for special tokens).
        special: whether it is a special token ([CLS], BOS...).
        start / stop: its character span in ``prefix + text`` (None for special tokens or slow tokenizers).
        pooled: whether pooling uses it (False for the excluded prompt tokens and skipped specials).
    """

    id: int
    text: str
    special: bool
    start: int | None = None
    stop: int | None = None
    pooled: bool = True


def cut_is_safe_right(word_ids: list[int | None], kept_until: int) -> bool:
    """Whether the first ``kept_until`` tokens of a right-cut text equal those of the whole text.

    A tokenizer splits text into words (pre-tokens) left to right and tokenises each word alone, so
    every word before the last word of the cut text is tokenised as in the whole text; only the
    last one may be a fragment. The cut is safe when no kept token belongs to that last word (a
    tokenizer without word splitting has one word: never safe, so the caller tokenises it all).
    """
    words = [w for w in word_ids if w is not None]
    if not words or kept_until >= len(word_ids):
        return False
    last_word = words[-1]
    return all(w is None or w < last_word for w in word_ids[:kept_until])


def cut_is_safe_left(
    word_ids: list[int | None], offsets: list[tuple[int, int]], prefix_chars: int, first_kept: int
) -> bool:
    """Whether the tokens from ``first_kept`` on of ``prefix + text[cut:]`` equal those of the whole text.

    The cut is placed at a word boundary (a space after a non-space character: every supported
    pre-tokenizer starts a word there), so the words after the one at the junction with the prefix
    are tokenised as in the whole text. Safe when no kept token belongs to that junction word or
    the prefix.
    """
    junction = next(
        (w for w, (_, stop) in zip(word_ids, offsets, strict=True) if w is not None and stop > prefix_chars), None
    )
    if junction is None or first_kept >= len(word_ids):
        return False
    return all(w is None or w > junction for w in word_ids[first_kept:])


def left_cut_point(text: str, start: int, keep: int) -> int | None:
    """Index of a word boundary in ``text[start:]`` leaving at least ``keep`` characters after it.

    A boundary is a space (U+0020) right after a non-space character. None when there is none in
    the 1024 characters before the ideal point (the caller then tokenises the whole text).
    """
    ideal = len(text) - keep
    if ideal <= start:
        return None
    lo = max(start + 1, ideal - 1024)
    j = text.rfind(" ", lo, ideal + 1)
    while j >= lo:
        if not text[j - 1].isspace():
            return j
        j = text.rfind(" ", lo, j)
    return None


__all__ = ["MAX_CHARS_PER_TOKEN", "TokenPiece", "TokenRows", "cut_is_safe_left", "cut_is_safe_right", "left_cut_point"]
