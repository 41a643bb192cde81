"""Length-sorted batching under a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Group indices into batches of similar length.

    Indices are sorted by length (longest first, so memory peaks early and predictably); a batch
    grows while it has fewer than `batch_size` items and ``items x longest <= max_batch_tokens``
    (padded tokens). A single item longer than the budget forms its own batch.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        candidate_longest = max(longest, lengths[i])
        if current and (len(current) >= batch_size or (len(current) + 1) * candidate_longest > max_batch_tokens):
            batches.append(current)
            current, candidate_longest = [], lengths[i]
        current.append(i)
        longest = candidate_longest
    if current:
        batches.append(current)
    return batches


def split_batches(batches: list[list[T]], parts: int) -> list[list[T]]:
    """Halve the largest batches until there are at least ``parts`` (while any has two items or more).

    Used when ``parts`` batches run at once (the encoder's concurrent runtime calls, the server's
    inference workers): with fewer, some of the parallel workers would idle.
    Halves of a length-sorted batch pad no more than the whole did.
    """
    batches = list(batches)
    while len(batches) < parts:
        largest = max(range(len(batches)), key=lambda b: len(batches[b]), default=None)
        if largest is None or len(batches[largest]) < 2:
            break
        items = batches[largest]
        half = len(items) // 2
        batches[largest : largest + 1] = [items[:half], items[half:]]
    return batches
