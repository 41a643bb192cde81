"""Benchmark workloads from real text in ../shared/data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from youtu_embedding.core.pytest_fixtures import require_shared_data
from youtu_embedding.core.testing import pair_spearman, read_jsonl, read_stsb_pairs

os.environ["HF_HUB_OFFLINE"] = "1"
DATA_DIR = Path(os.environ.get("YOUTU_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mixed_texts() -> list[str]:
    """Short STS-B sentences, XQuAD paragraphs and questions: 512 texts of mixed lengths."""
    require_shared_data(DATA_DIR)
    sts = read_jsonl(DATA_DIR / "eval" / "sts" / "stsb-en" / "test.jsonl")
    corpus = read_jsonl(DATA_DIR / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")
    queries = read_jsonl(DATA_DIR / "eval" / "retrieval" / "xquad-en" / "queries.jsonl")
    texts = [r["sentence1"] for r in sts[:256]] + [r["text"] for r in corpus[:128]] + [r["text"] for r in queries[:128]]
    # interleave so that unsorted batching sees mixed lengths, as real traffic does
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: (i * 7919) % len(texts))]


@pytest.fixture(scope="session")
def stsb_spearman() -> Callable[[Any], float]:
    """``stsb_spearman(encoder)``: STS-B en test Spearman x 100 (pair cosines against the gold scores)."""
    require_shared_data(DATA_DIR)
    texts, gold = read_stsb_pairs(DATA_DIR)
    return lambda encoder: pair_spearman(encoder.encode(texts), gold)
