"""The padding-aware batch planner of the scheduler."""

from __future__ import annotations

from youtu_embedding.core.batching import plan_batches
from youtu_embedding.serve.batching import plan_min_padding


def _padded(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_every_row_once_within_limits(minilm_path, mixed_texts: list[str]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path))
    lengths = [min(256, len(ids)) for ids in tokenizer(mixed_texts[:128])["input_ids"]]
    batches = plan_min_padding(lengths, max_rows=64, max_tokens=4096)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 64 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 4096)
    # fewer padded tokens than greedy filling under the same limits, on real mixed texts
    assert _padded(lengths, batches) < _padded(lengths, plan_batches(lengths, 64, 4096))


def test_edge_cases() -> None:
    assert plan_min_padding([], 8, 100) == []
    assert plan_min_padding([500], 8, 100) == [[0]]  # longer than the budget: alone
    assert plan_min_padding([5, 5, 5, 5], 2, 100, batch_overhead=1) == [[0, 1], [2, 3]]
    # a large per-batch cost merges rows despite padding; none splits them
    assert plan_min_padding([50, 10], 8, 1000, batch_overhead=1000) == [[0, 1]]
    assert plan_min_padding([50, 10], 8, 1000, batch_overhead=0) == [[0], [1]]


def test_few_rows_are_spread_over_the_workers(minilm_path, mixed_texts: list[str]) -> None:
    """Rows that would fill one batch are split so that no inference worker idles (light load, end of a burst)."""
    from youtu_embedding.core import Encoder
    from youtu_embedding.serve.engine import Engine
    from youtu_embedding.serve.metrics import ServeMetrics
    from youtu_embedding.serve.scheduler import Job, Scheduler

    engine = Engine(Encoder(minilm_path, device="cpu"))
    ids = [row[:256] for row in engine.encoder.tokenize(mixed_texts[:10])]
    for workers, expected in ((1, 1), (2, 2), (3, 3)):
        scheduler = Scheduler(engine, ServeMetrics(), max_batch_tokens=16384, max_batch_requests=64, workers=workers)
        job = Job(ids=ids, skips=[0] * len(ids))
        batches = scheduler._plan([job])
        assert len(batches) == expected
        assert sorted(i for _, items in batches for _, i in items) == list(range(len(ids)))  # every row once
    one = Job(ids=ids[:1], skips=[0])
    assert (
        len(Scheduler(engine, ServeMetrics(), max_batch_tokens=16384, max_batch_requests=64, workers=2)._plan([one]))
        == 1
    )
