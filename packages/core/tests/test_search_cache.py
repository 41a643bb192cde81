"""``youtu-embed search`` reuses the embeddings of an unchanged corpus (per-document keys)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from youtu_embedding.core.cli import build_app
from youtu_embedding.core.testing import read_jsonl

QUERY = "How many Panthers defense players were selected for the Pro Bowl?"


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    """A folder of two JSONL files: 20 + 20 real XQuAD-en paragraphs."""
    rows = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")[:40]
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, part in (("a.jsonl", rows[:20]), ("b.jsonl", rows[20:])):
        (folder / name).write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in part), encoding="utf-8")
    return folder


def _search(model: Path, corpus: Path, *options: str) -> tuple[dict, tuple[int, int] | None, str]:
    args = ["search", "--model", str(model), "--corpus", str(corpus), "--top-k", "40", "--json", *options, QUERY]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    match = re.search(r"embeddings cache: (\d+) hits, (\d+) misses \((.+)\)", result.stderr)
    stats = (int(match.group(1)), int(match.group(2))) if match else None
    return json.loads(result.stdout), stats, match.group(3) if match else ""


def _scores(payload: dict) -> dict[str, float]:
    return {hit["id"]: hit["score"] for hit in payload["results"][0]["hits"]}


def test_a_second_search_reads_every_document_from_the_cache(minilm_path: Path, corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, stats, path = _search(minilm_path, corpus, "--cache-dir", str(cache))
    assert stats == (0, 40) and Path(path) == cache / "embeddings.sqlite" and Path(path).is_file()
    second, stats, _ = _search(minilm_path, corpus, "--cache-dir", str(cache))
    assert stats == (40, 0)
    assert _scores(second) == pytest.approx(_scores(first), abs=1e-6)
    assert _scores(first)["a.jsonl:1"] > 0.3  # the Pro Bowl paragraph


def test_a_changed_file_recomputes_only_its_changed_documents(minilm_path: Path, corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _search(minilm_path, corpus, "--cache-dir", str(cache))
    lines = (corpus / "b.jsonl").read_text(encoding="utf-8").splitlines()
    lines[3] = json.dumps({"text": "The Panthers sent ten defense players to the Pro Bowl."})
    lines.append(json.dumps({"text": "A new paragraph about the stadium's parking."}))
    (corpus / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload, stats, _ = _search(minilm_path, corpus, "--cache-dir", str(cache))
    assert stats == (39, 2)  # a.jsonl untouched, b.jsonl: one row changed, one added
    fresh, _, _ = _search(minilm_path, corpus, "--no-cache")
    assert _scores(payload) == pytest.approx(_scores(fresh), abs=1e-6)


def test_another_encoder_option_or_prompt_misses(minilm_path: Path, corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _search(minilm_path, corpus, "--cache-dir", str(cache))
    assert _search(minilm_path, corpus, "--cache-dir", str(cache), "--max-length", "64")[1] == (0, 40)
    assert _search(minilm_path, corpus, "--cache-dir", str(cache), "--pooling", "cls")[1] == (0, 40)
    assert _search(minilm_path, corpus, "--cache-dir", str(cache), "--max-length", "64")[1] == (40, 0)


def test_no_cache_writes_nothing_and_the_env_var_moves_the_cache(
    minilm_path: Path, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOUTU_EMBED_CACHE", str(tmp_path / "env-cache"))
    _, stats, _ = _search(minilm_path, corpus, "--no-cache")
    assert stats is None and not (tmp_path / "env-cache").exists()
    _, stats, path = _search(minilm_path, corpus)
    assert stats == (0, 40) and Path(path) == tmp_path / "env-cache" / "search" / "embeddings.sqlite"
