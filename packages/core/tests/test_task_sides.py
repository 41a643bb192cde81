"""``task=`` puts the instruction on the side(s) the task needs: queries always; documents of symmetric
tasks (STS, pair classification) too; retrieval documents never. The CLI's search and similarity follow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.templates import get_template

MODEL = "all-MiniLM-L6-v2"
STS_TASK, RETRIEVAL_TASK = "STSB", "T2Retrieval"


@pytest.fixture(scope="module")
def minilm(minilm_path: Path) -> Encoder:
    return Encoder(MODEL, device="cpu")


@pytest.fixture(scope="module")
def sentences(stsb_sentences: list[str]) -> list[str]:
    return stsb_sentences[:6]


def _instruction(task: str) -> str:
    youtu = get_template("youtu")
    return youtu.render(youtu.task(task).instruction)


def test_documents_of_a_retrieval_task_get_no_instruction(minilm: Encoder, sentences: list[str]) -> None:
    docs = minilm.encode_documents(sentences, task=RETRIEVAL_TASK)
    np.testing.assert_allclose(docs, minilm.encode(sentences, prompt=""), atol=1e-6)
    queries = minilm.encode_queries(sentences, task=RETRIEVAL_TASK)
    np.testing.assert_allclose(queries, minilm.encode(sentences, prompt=_instruction(RETRIEVAL_TASK)), atol=1e-6)
    assert not np.allclose(docs, queries, atol=1e-3)  # the instruction changes the vectors
    assert minilm.resolve_prefix(task=RETRIEVAL_TASK, side="document") == ""


def test_both_sides_of_a_symmetric_task_get_the_instruction(minilm: Encoder, sentences: list[str]) -> None:
    prompted = minilm.encode(sentences, prompt=_instruction(STS_TASK))
    np.testing.assert_allclose(minilm.encode_documents(sentences, task=STS_TASK), prompted, atol=1e-6)
    np.testing.assert_allclose(minilm.encode_queries(sentences, task=STS_TASK), prompted, atol=1e-6)
    pair = "Ocnli"  # pair classification: symmetric too
    assert minilm.resolve_prefix(task=pair, side="document") == minilm.resolve_prefix(task=pair) != ""


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_similarity_and_search_prompt_both_sides_of_a_symmetric_task(
    minilm: Encoder, sentences: list[str], tmp_path: Path
) -> None:
    query, docs = sentences[0], sentences[1:]
    args = ["similarity", "-m", MODEL, "--json", "--task", STS_TASK, "-q", query]
    for d in docs:
        args += ["-d", d]
    scores = np.array(_cli(*args)["scores"])
    prompt = _instruction(STS_TASK)
    expected = minilm.similarity(minilm.encode([query], prompt=prompt), minilm.encode(docs, prompt=prompt))
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": str(i), "text": d}) + "\n" for i, d in enumerate(docs)))
    for task, doc_prompt in ((STS_TASK, prompt), (RETRIEVAL_TASK, "")):
        hits = _cli("search", "-m", MODEL, "--corpus", corpus, "--json", "--task", task, query)["results"][0]["hits"]
        want = minilm.similarity(
            minilm.encode([query], prompt=_instruction(task)), minilm.encode(docs, prompt=doc_prompt)
        )[0]
        np.testing.assert_allclose([h["score"] for h in hits], np.sort(want)[::-1], atol=1e-5)
