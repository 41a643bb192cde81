"""Padding-aware batch planning for the rows of one scheduling round.

Rows are sorted by length (longest first) and cut into contiguous batches that minimise
``sum(rows x longest) + batch_overhead x batches`` (padded tokens computed, plus a fixed cost per
forward pass expressed in tokens) under ``max_rows`` rows and ``max_tokens`` padded tokens per
batch, by dynamic programming over the sorted order: O(n x max_rows).

Compared with greedy filling (``youtu_embedding.core.batching.plan_batches``), this keeps short
texts out of batches padded to a long one, which matters when a round holds few, mixed rows.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_min_padding(
    lengths: Sequence[int], max_rows: int, max_tokens: int, batch_overhead: int = 128
) -> list[list[int]]:
    """Batches of indices into ``lengths``; a row longer than ``max_tokens`` gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    n = len(order)
    sorted_lengths = [lengths[i] for i in order]
    best = [0.0] * (n + 1)
    cut = [0] * (n + 1)
    for start in range(n - 1, -1, -1):
        longest = sorted_lengths[start]  # sorted descending: the first row is the longest
        best[start] = float("inf")
        for end in range(start + 1, min(n, start + max_rows) + 1):
            rows = end - start
            if rows > 1 and rows * longest > max_tokens:
                break
            cost = rows * longest + batch_overhead + best[end]
            if cost < best[start]:
                best[start], cut[start] = cost, end
    batches: list[list[int]] = []
    start = 0
    while start < n:
        batches.append(order[start : cut[start]])
        start = cut[start]
    return batches
