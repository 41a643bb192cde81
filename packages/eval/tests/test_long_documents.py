"""The long-documents task type: built at run time from the XQuAD-en Retrieval folder (articles =
paragraphs grouped by title), and every strategy run on a subset with all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.testing import read_jsonl
from youtu_embedding.eval.long_documents import DocumentTask, build_document_task, evaluate_long_documents


@pytest.fixture(scope="module")
def xquad(data_dir: Path) -> Path:
    return data_dir / "eval" / "retrieval" / "xquad-en"


def test_documents_are_articles_and_gold_spans_are_paragraphs(xquad: Path) -> None:
    task = build_document_task(xquad)
    corpus = {r["_id"]: r for r in read_jsonl(xquad / "corpus.jsonl")}
    assert task.describe() == {"documents": 48, "queries": 1190, "passages": 240}
    for doc in task.documents:
        assert doc.text == "\n\n".join(corpus[pid]["text"].strip() for pid in doc.passage_ids)
        assert all(corpus[pid]["title"] == doc.id for pid in doc.passage_ids)
        for pid, (a, b) in zip(doc.passage_ids, doc.passages, strict=True):
            assert doc.text[a:b] == corpus[pid]["text"].strip()
    with pytest.raises(InvalidArgumentError) as err:
        build_document_task(xquad, group_by="section")
    assert err.value.argument == "group_by"


def test_every_strategy_on_a_subset(xquad: Path, minilm_path: Path) -> None:
    full = build_document_task(xquad)
    keep = {d.id for d in full.documents[:6]}
    gold = {q: g for q, g in full.gold.items() if g[0][0] in keep}
    queries = {q: full.queries[q] for q in list(gold)[:60]}
    task = DocumentTask("subset", [d for d in full.documents if d.id in keep], queries, gold)
    rows = evaluate_long_documents(Encoder(minilm_path, device="cpu"), task)
    by = {r["strategy"]: r for r in rows}
    assert set(by) == {"late", "naive", "truncate", "windows"}
    assert by["late"]["vectors"] == by["naive"]["vectors"] == 30 and by["truncate"]["vectors"] == 6
    for r in rows:
        assert 0.0 < r["document_ndcg_at_10"] <= 1.0
    assert "chunk_ndcg_at_10" in by["late"] and "chunk_ndcg_at_10" not in by["truncate"]
    json.dumps(rows)  # results are plain JSON
