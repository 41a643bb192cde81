"""A local task type for long documents: document-level retrieval built at run time from a
Retrieval task folder whose passages come from longer documents (XQuAD: paragraphs of Wikipedia
articles), comparing late chunking, naive chunking and whole-document embeddings.

Building the task (nothing is written to disk): the folder's corpus is grouped by ``group_by``
(``title``), each group's passages are joined in corpus order with ``separator`` into one document,
and each query's gold passage becomes a character span of its document. Strategies:

* ``late`` / ``naive``: :meth:`Encoder.encode_chunks` with ``chunker`` (late or naive chunking);
  chunk level: the chunks are the corpus, a chunk is relevant when it overlaps the gold passage's
  span; document level: a document scores its best chunk (max over chunks).
* ``truncate``: one vector per document, cut at max_length (document level only).
* ``windows``: one vector per document, ``long_inputs="chunk"`` (document level only).

nDCG@10 is computed by pytrec_eval (what mteb's retrieval evaluator uses) over the full ranking.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.eval.formats import iter_jsonl, read_meta, read_qrels

if TYPE_CHECKING:
    from youtu_embedding.core import Encoder

STRATEGIES = ("late", "naive", "truncate", "windows")


@dataclass
class Document:
    id: str
    text: str
    passages: list[tuple[int, int]]  # character span of each source passage
    passage_ids: list[str]


@dataclass
class DocumentTask:
    """Documents, queries and each query's gold (document id, passage span)."""

    name: str
    documents: list[Document]
    queries: dict[str, str]
    gold: dict[str, list[tuple[str, tuple[int, int]]]] = field(default_factory=dict)
    query_instruction: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"documents": len(self.documents), "queries": len(self.queries), "passages": self.passages}

    @property
    def passages(self) -> int:
        return sum(len(d.passages) for d in self.documents)


def build_document_task(
    folder: str | Path, *, group_by: str = "title", separator: str = "\n\n", split: str = "test"
) -> DocumentTask:
    """Group a Retrieval folder's passages into documents (see the module docstring)."""
    meta = read_meta(Path(folder))
    if meta.task_type != "Retrieval":
        raise InvalidArgumentError("source", f"'{folder}' is a {meta.task_type} task, not Retrieval")
    corpus_path = meta.folder / "corpus.jsonl"
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line, row in iter_jsonl(corpus_path):
        key = row.get(group_by)
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError("group_by", f"{corpus_path}:{line}: no '{group_by}' field to group passages by")
        grouped[key].append((str(row["_id"]), str(row["text"]).strip()))
    documents, where = [], {}
    for key, passages in grouped.items():
        text, spans = "", []
        for pid, passage in passages:
            start = len(text) + (len(separator) if text else 0)
            text = f"{text}{separator}{passage}" if text else passage
            spans.append((start, start + len(passage)))
            where[pid] = (key, spans[-1])
        documents.append(Document(key, text, spans, [pid for pid, _ in passages]))
    queries = {str(r["_id"]): str(r["text"]) for _, r in iter_jsonl(meta.folder / "queries.jsonl")}
    qrels = read_qrels(meta.folder / "qrels" / f"{split}.tsv", set(queries), set(where))
    gold: dict[str, list[tuple[str, tuple[int, int]]]] = {}
    for qid, relevant in qrels.items():
        if qid in queries:
            gold[qid] = [where[pid] for pid, score in relevant.items() if score > 0 and pid in where]
    instruction = meta.raw.get("instruction")
    query_instruction = instruction.get("query") if isinstance(instruction, dict) else instruction
    return DocumentTask(
        f"{meta.name}-documents", documents, {q: queries[q] for q in gold if gold[q]}, gold, query_instruction or None
    )


def _ndcg_at_10(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> float:
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    scores = evaluator.evaluate(run)
    return float(np.mean([s["ndcg_cut_10"] for s in scores.values()]))


def _run(query_ids: Sequence[str], scores: np.ndarray, ids: Sequence[str]) -> dict[str, dict[str, float]]:
    return {q: {ids[j]: float(s) for j, s in enumerate(row)} for q, row in zip(query_ids, scores, strict=True)}


def evaluate_strategy(
    encoder: Encoder,
    task: DocumentTask,
    strategy: str,
    *,
    chunker: str = "paragraphs",
    chunker_options: dict[str, Any] | None = None,
    query_embeddings: np.ndarray | None = None,
) -> dict[str, Any]:
    """nDCG@10 of one strategy: ``document`` level, and ``chunk`` level for late/naive."""
    if strategy not in STRATEGIES:
        raise InvalidArgumentError("strategy", f"unknown strategy '{strategy}'", STRATEGIES)
    qids = list(task.queries)
    q = query_embeddings if query_embeddings is not None else _queries(encoder, task)
    texts = [d.text for d in task.documents]
    doc_ids = [d.id for d in task.documents]
    doc_qrels = {qid: {doc: 1 for doc, _ in task.gold[qid]} for qid in qids}
    result: dict[str, Any] = {"strategy": strategy}
    if strategy in ("truncate", "windows"):
        long_inputs = "truncate" if strategy == "truncate" else "chunk"
        d = np.asarray(encoder.encode_documents(texts, long_inputs=long_inputs))
        result["document_ndcg_at_10"] = _ndcg_at_10(doc_qrels, _run(qids, q @ d.T, doc_ids))
        result["vectors"] = len(texts)
        return result
    chunked = encoder.encode_chunks(texts, chunker=chunker, chunker_options=chunker_options, late=strategy == "late")
    chunk_ids, owner, spans = [], [], []
    for i, doc in enumerate(chunked):
        for k, span in enumerate(doc.spans):
            chunk_ids.append(f"{doc_ids[i]}#{k}")
            owner.append(i)
            spans.append(span)
    matrix = np.concatenate([doc.embeddings for doc in chunked])
    scores = q @ matrix.T
    chunk_qrels = {}
    for qid in qids:
        relevant = {}
        for doc, (a, b) in task.gold[qid]:
            for cid, i, (s, e) in zip(chunk_ids, owner, spans, strict=True):
                if doc_ids[i] == doc and s < b and e > a:
                    relevant[cid] = 1
        chunk_qrels[qid] = relevant
    result["chunk_ndcg_at_10"] = _ndcg_at_10(chunk_qrels, _run(qids, scores, chunk_ids))
    owner_arr = np.asarray(owner)
    best = np.full((len(qids), len(texts)), -np.inf, dtype=np.float32)
    for i in range(len(texts)):
        best[:, i] = scores[:, owner_arr == i].max(axis=1)
    result["document_ndcg_at_10"] = _ndcg_at_10(doc_qrels, _run(qids, best, doc_ids))
    result["vectors"] = len(chunk_ids)
    return result


def _queries(encoder: Encoder, task: DocumentTask) -> np.ndarray:
    return np.asarray(encoder.encode_queries(list(task.queries.values())))


def evaluate_long_documents(
    encoder: Encoder,
    task: DocumentTask,
    strategies: Sequence[str] = STRATEGIES,
    *,
    chunker: str = "paragraphs",
    chunker_options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every strategy on one task, sharing the query embeddings."""
    q = _queries(encoder, task)
    return [
        evaluate_strategy(encoder, task, s, chunker=chunker, chunker_options=chunker_options, query_embeddings=q)
        for s in strategies
    ]


def markdown_table(model: str, rows: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table (nDCG@10 x 100)."""
    lines = ["| model | strategy | vectors | document nDCG@10 | chunk nDCG@10 |", "|---|---|---|---|---|"]
    for r in rows:
        chunk = f"{100 * r['chunk_ndcg_at_10']:.2f}" if "chunk_ndcg_at_10" in r else "-"
        lines.append(f"| {model} | {r['strategy']} | {r['vectors']} | {100 * r['document_ndcg_at_10']:.2f} | {chunk} |")
    return "\n".join(lines)


def write_results(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
