"""``youtu-embed encode --long-inputs chunk`` and ``--chunker NAME`` on real XQuAD articles."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.testing import read_jsonl


@pytest.fixture(scope="module")
def documents(data_dir: Path) -> list[dict]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for row in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl"):
        grouped[row["title"]].append(row["text"])
    return [{"id": title, "text": "\n\n".join(paragraphs)} for title, paragraphs in list(grouped.items())[:3]]


@pytest.fixture(scope="module")
def encoder(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="module")
def run():
    app, runner = build_app(), CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def source(tmp_path: Path, documents: list[dict]) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def test_long_inputs_chunk(run, source, documents, encoder, tmp_path) -> None:
    out = tmp_path / "emb.npy"
    result = run("encode", "-m", "all-MiniLM-L6-v2", "-i", source, "-o", out, "--device", "cpu",
                 "--long-inputs", "chunk", "--overlap", "16")  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = encoder.encode([d["text"] for d in documents], long_inputs="chunk", overlap=16)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    assert not np.allclose(expected, encoder.encode([d["text"] for d in documents]), atol=1e-3)


def test_chunker_writes_one_line_per_chunk_with_spans(run, source, documents, encoder, tmp_path) -> None:
    out = tmp_path / "chunks.jsonl"
    result = run("encode", "-m", "all-MiniLM-L6-v2", "-i", source, "-o", out, "--device", "cpu",
                 "--chunker", "tokens", "--chunker-option", "size=100")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = encoder.encode_chunks([d["text"] for d in documents], chunker="tokens", chunker_options={"size": 100})
    assert len(lines) == sum(len(d) for d in expected)
    k = 0
    for index, (doc, chunked) in enumerate(zip(documents, expected, strict=True)):
        for c in range(len(chunked)):
            line = lines[k]
            assert (line["index"], line["id"], line["chunk"]) == (index, doc["id"], c)
            assert doc["text"][line["start"] : line["end"]] == line["text"] == chunked.texts[c]
            np.testing.assert_allclose(line["embedding"], chunked.embeddings[c], atol=1e-6)
            k += 1


def test_chunker_errors_name_the_option(run, source, tmp_path) -> None:
    cases = [
        (["--chunker", "nope"], "chunker: unknown chunker 'nope'"),
        (["--chunker", "tokens", "--chunker-option", "size=0"], "chunker_options.size"),
        (["--chunker", "tokens", "--chunker-option", "width=3"], "chunker_options.width"),
        (["--chunker", "tokens", "--chunker-option", "size"], "chunker-option: expected KEY=VALUE"),
        (["--naive"], "chunker: --chunker-option and --naive need --chunker"),
    ]
    for args, message in cases:
        result = run("encode", "-m", "all-MiniLM-L6-v2", "-i", source, "-o", tmp_path / "x.jsonl", *args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    result = run("encode", "-m", "all-MiniLM-L6-v2", "-i", source, "-o", tmp_path / "x.npy", "--chunker", "tokens")
    assert result.exit_code != 0 and "output:" in result.output
