"""Fixtures of the bulk tests: real texts from ../shared/data written as partitioned JSONL and Parquet."""

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403, I001

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from youtu_embedding.core.testing import read_jsonl

STS_TRAIN_FILES = ("stsb-en", "sick")


@pytest.fixture(scope="session")
def real_texts(data_dir: Path) -> list[tuple[str, str]]:
    """20,000 (id, text) pairs: the sentences of the STS-B and SICK training pairs (CoDiEmb format)."""
    pairs: list[tuple[str, str]] = []
    for name in STS_TRAIN_FILES:
        for line, row in enumerate(read_jsonl(data_dir / "train" / "sts" / f"{name}.jsonl"), 1):
            pairs.append((f"{name}:{line}:q", row["query"][2]))
            pairs.append((f"{name}:{line}:p", row["positives"][0][2]))
    assert len(pairs) >= 20_000
    return pairs[:20_000]


@pytest.fixture
def ray_local() -> Iterator[None]:
    """A local Ray instance with 2 CPUs for the test (reused by every job the test runs), then shut down."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def _no_ray_left() -> Iterator[None]:
    """Whatever a test does, it leaves no Ray instance behind."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()
