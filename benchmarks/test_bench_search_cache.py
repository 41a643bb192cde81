"""``youtu-embed search`` on an unchanged corpus: the embeddings cache against embedding it again.

Group ``search-cache``: all-MiniLM-L6-v2 searches the 480 paragraphs of XQuAD-en and XQuAD-zh
(../shared/data; a folder of two JSONL files) for one question, end to end through the CLI (read
the corpus, load the model, embed or read the corpus vectors, embed the query, rank, print JSON),
in this process (torch already imported). Baseline: ``--no-cache`` (what every search did
before); against it a warm cache (the second search of the same corpus) and a cold one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from youtu_embedding.core.cli import build_app
from youtu_embedding.core.pytest_fixtures import require_shared_data

QUERY = "How many Panthers defense players were selected for the Pro Bowl?"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from youtu_embedding.core.pytest_fixtures import shared_data_dir

    data = require_shared_data(shared_data_dir(Path(__file__).resolve().parent))
    folder = tmp_path_factory.mktemp("search-corpus")
    for name in ("xquad-en", "xquad-zh"):
        shutil.copy(data / "eval" / "retrieval" / name / "corpus.jsonl", folder / f"{name}.jsonl")
    return folder


def _search(corpus: Path, *options: str) -> dict:
    args = ["search", "--model", "all-MiniLM-L6-v2", "--device", "cpu", "--corpus", str(corpus), "--json"]
    result = CliRunner().invoke(build_app(), [*args, "--top-k", "3", *options, QUERY])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.benchmark(group="search-cache")
def test_search_no_cache_baseline(benchmark, corpus_dir: Path) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_search, args=(corpus_dir, "--no-cache"), rounds=2, iterations=1)
    assert out["documents"] == 480


@pytest.mark.benchmark(group="search-cache")
def test_search_cold_cache(benchmark, corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    def fresh() -> tuple[tuple[Path, str, str], dict[str, object]]:
        return (corpus_dir, "--cache-dir", str(tmp_path_factory.mktemp("cold"))), {}

    out = benchmark.pedantic(_search, setup=fresh, rounds=1, iterations=1)
    assert out["documents"] == 480


@pytest.mark.benchmark(group="search-cache")
def test_search_warm_cache(benchmark, corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    cache = str(tmp_path_factory.mktemp("warm"))
    first = _search(corpus_dir, "--cache-dir", cache)
    out = benchmark.pedantic(_search, args=(corpus_dir, "--cache-dir", cache), rounds=3, iterations=1)
    assert out["results"] == first["results"]
