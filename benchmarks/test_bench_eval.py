"""Evaluation throughput: SICK (STS) through mteb with the core encoder, cold vs. from the embeddings cache.

Group ``eval-sick``: the baseline is the cold run (every text embedded); the ratio shows what the
embeddings cache saves on a rerun (mteb's scoring only).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from youtu_embedding.core.pytest_fixtures import require_shared_data

DATA_DIR = Path(os.environ.get("YOUTU_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="module")
def minilm():
    from youtu_embedding.core import Encoder

    return Encoder("all-MiniLM-L6-v2", device="cpu")


def _run(minilm, cache_path: Path | None) -> float:
    from youtu_embedding.eval.cache import EmbeddingCache, model_fingerprint
    from youtu_embedding.eval.instructions import InstructionPolicy
    from youtu_embedding.eval.local_tasks import load_local_task
    from youtu_embedding.eval.mteb_model import YoutuMtebEncoder

    require_shared_data(DATA_DIR)
    task = load_local_task(DATA_DIR / "eval" / "sts" / "sick").task
    cache = EmbeddingCache(cache_path, model_fingerprint(minilm)) if cache_path else None
    model = YoutuMtebEncoder(minilm, InstructionPolicy("none"), cache=cache, show_progress=False)
    score = task.evaluate(model, "dev", encode_kwargs={"batch_size": 64})["default"]["main_score"]
    if cache:
        cache.close()
    return score


@pytest.mark.benchmark(group="eval-sick")
def test_eval_sick_cold_baseline(benchmark, minilm) -> None:
    score = benchmark.pedantic(lambda: _run(minilm, None), rounds=2, iterations=1)
    assert score == pytest.approx(0.798, abs=0.001)


@pytest.mark.benchmark(group="eval-sick")
def test_eval_sick_cached(benchmark, minilm, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("cache") / "e.sqlite"
    _run(minilm, path)  # fill the cache
    score = benchmark.pedantic(lambda: _run(minilm, path), rounds=3, iterations=1)
    assert score == pytest.approx(0.798, abs=0.001)
