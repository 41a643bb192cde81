"""Local task folders as mteb tasks: discovery, loading (with ``file:line`` errors) and subsampling.

Each folder becomes an instance of the matching mteb abstract task (``AbsTaskSTS``,
``AbsTaskPairClassification``, ``AbsTaskClassification``, ``AbsTaskClusteringLegacy``,
``AbsTaskRetrieval`` for Retrieval and Reranking) with its data already loaded, so the metrics are
computed by mteb's own evaluators (scipy, scikit-learn, pytrec_eval underneath) exactly as for the
registered C-MTEB tasks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.eval.errors import TaskFormatError
from youtu_embedding.eval.formats import (
    TRAIN_SPLIT,
    TaskMeta,
    iter_jsonl,
    label_field,
    number_field,
    read_meta,
    read_qrels,
    text_field,
    text_list_field,
)
from youtu_embedding.eval.names import cmteb_name, language_script

logger = logging.getLogger(__name__)

#: Files whose presence makes a folder look like task data (then it must have a meta.json).
DATA_SUFFIXES = (".jsonl", ".tsv")

#: C-MTEB classification settings (mteb's C-MTEB tasks: 32 training samples per label).
DEFAULT_SAMPLES_PER_LABEL = 32
DEFAULT_N_EXPERIMENTS = 10


@dataclass
class LocalTask:
    """A task folder loaded as an mteb task.

    Attributes:
        meta: the parsed meta.json.
        name: the task name used in results: the C-MTEB name when the dataset is a C-MTEB source
            (``stsb-zh`` -> ``STSB``), else ``meta.name``.
        cmteb_name: the C-MTEB name, or None.
        task: the mteb task instance (data loaded).
        sizes: rows per split after subsampling (queries for retrieval/reranking).
        subsampled: whether ``max_samples`` cut any split.
    """

    meta: TaskMeta
    name: str
    cmteb_name: str | None
    task: Any
    sizes: dict[str, int]
    subsampled: bool


def discover_task_dirs(root: str | Path) -> list[Path]:
    """Every task folder under ``root`` (any depth; ``root`` itself may be one), sorted.

    A task folder has a ``meta.json``; its subfolders are not searched further. A folder holding
    data files (``*.jsonl``/``*.tsv``) outside any task folder and without a ``meta.json`` is an
    error (``folder/meta.json:0: missing meta.json``). A ``meta.json`` describing non-evaluation
    data (it has ``format`` but no ``task_type``, like ``shared/data/train``) is skipped.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"data-dir: '{root}' does not exist")
    if not root.is_dir():
        raise TaskFormatError(root, 0, "data-dir must be a folder of task folders")
    found: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        meta = folder / "meta.json"
        if meta.is_file():
            if _is_other_data_description(meta):
                logger.info("skipping %s: not an evaluation task (meta.json has 'format', no 'task_type')", folder)
                continue
            found.append(folder)
            continue
        children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        data_files = [p for p in children if p.is_file() and p.suffix in DATA_SUFFIXES]
        if data_files and folder.name != "qrels":
            raise TaskFormatError(
                meta, 0, f"missing meta.json: {folder} holds task data ({data_files[0].name}) but no meta.json"
            )
        stack.extend(p for p in reversed(children) if p.is_dir())
    if not found:
        raise TaskFormatError(root, 0, "no task folder (a folder with a meta.json) found")
    return sorted(found)


def _is_other_data_description(meta: Path) -> bool:
    import json

    try:
        raw = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False  # read_meta reports it with its line
    return isinstance(raw, dict) and "task_type" not in raw and "format" in raw


def _sample(n: int, k: int | None, rng: random.Random) -> list[int]:
    if k is None or k >= n:
        return list(range(n))
    return sorted(rng.sample(range(n), k))


def _metadata(meta: TaskMeta, name: str, mteb_type: str, splits: Sequence[str], instruction: Any) -> Any:
    from mteb.abstasks.task_metadata import TaskMetadata

    prompt = instruction
    if isinstance(prompt, dict):
        prompt = {k: v for k, v in prompt.items() if k in ("query", "document") and v} or None
    return TaskMetadata(
        name=name,
        description=f"Local {meta.task_type} task from {meta.folder} ({meta.raw.get('source', 'no source given')})",
        dataset={"path": str(meta.folder), "revision": "local"},
        type=mteb_type,  # type: ignore[arg-type]  # one of the six types built below
        category="t2t",
        modalities=["text"],
        eval_splits=list(splits),
        eval_langs=[language_script(meta.language)],
        main_score=meta.main_metric,
        prompt=prompt or None,
    )


def _instantiate(base: type, metadata: Any, dataset: Any, seed: int, **attrs: Any) -> Any:
    cls = type(f"Local{base.__name__.removeprefix('AbsTask')}Task", (base,), {"metadata": metadata, **attrs})
    task = cls(seed=seed)
    task.dataset = dataset
    task.data_loaded = True
    return task


def load_local_task(folder: str | Path, *, max_samples: int | None = None, seed: int = 42) -> LocalTask:
    """Read a task folder and build its mteb task.

    Args:
        folder: the task folder (with ``meta.json``).
        max_samples: keep at most this many rows per split (pairs, classification train and test
            texts, clustering texts, queries), sampled with ``seed``; retrieval corpora keep the
            relevant documents plus random others up to ``max(max_samples, relevant)``. Scores on
            subsamples are for smoke tests, not comparisons.
        seed: sampling seed, also mteb's task seed (classifier, k-means).
    """
    if max_samples is not None and max_samples < 2:
        raise InvalidArgumentError("max_samples", f"must be at least 2, got {max_samples}")
    meta = read_meta(Path(folder))
    cname = cmteb_name(meta.name, meta.raw.get("cmteb_name"))
    name = cname or meta.name
    rng = random.Random(seed)
    builder = _BUILDERS[meta.task_type]
    task, sizes, cut = builder(meta, name, max_samples, rng, seed)
    return LocalTask(meta, name, cname, task, sizes, cut)


# -- builders -------------------------------------------------------------------------------


def _pairs(meta: TaskMeta, split: str, value_key: str) -> list[dict[str, Any]]:
    path = meta.folder / f"{split}.jsonl"
    rows = []
    for line, row in iter_jsonl(path):
        s1 = text_field(row, "sentence1", path, line)
        s2 = text_field(row, "sentence2", path, line)
        if value_key == "score":
            value: float | int = number_field(row, "score", path, line)
            low, high = meta.score_range
            if not low <= value <= high:
                raise TaskFormatError(path, line, f"field 'score' = {value} is outside score_range [{low}, {high}]")
        else:
            raw = row.get("label")
            if raw not in (0, 1) or isinstance(raw, bool):
                raise TaskFormatError(path, line, f"field 'label' must be 0 or 1, got {raw!r}")
            value = int(raw)
        rows.append({"sentence1": s1, "sentence2": s2, value_key: value})
    if not rows:
        raise TaskFormatError(path, 0, "no rows")
    return rows


def _build_sts(meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int) -> tuple[Any, dict, bool]:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS

    data, sizes, cut = {}, {}, False
    for split in meta.splits:
        rows = _pairs(meta, split, "score")
        keep = _sample(len(rows), k, rng)
        cut |= len(keep) < len(rows)
        data[split] = Dataset.from_list([rows[i] for i in keep])
        sizes[split] = len(keep)
    low, high = meta.score_range
    md = _metadata(meta, name, "STS", meta.splits, meta.instruction)
    task = _instantiate(AbsTaskSTS, md, {"default": DatasetDict(data)}, seed, min_score=low, max_score=high)
    return task, sizes, cut


def _build_pair(meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int) -> tuple[Any, dict, bool]:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    data, sizes, cut = {}, {}, False
    for split in meta.splits:
        rows = _pairs(meta, split, "labels")
        keep = _sample(len(rows), k, rng)
        cut |= len(keep) < len(rows)
        data[split] = Dataset.from_list([rows[i] for i in keep])
        sizes[split] = len(keep)
    md = _metadata(meta, name, "PairClassification", meta.splits, meta.instruction)
    return _instantiate(AbsTaskPairClassification, md, {"default": DatasetDict(data)}, seed), sizes, cut


def _labelled_texts(meta: TaskMeta, split: str) -> list[tuple[str, str | int]]:
    path = meta.folder / f"{split}.jsonl"
    rows = [(text_field(r, "text", path, line), label_field(r, "label", path, line)) for line, r in iter_jsonl(path)]
    if not rows:
        raise TaskFormatError(path, 0, "no rows")
    return rows


def _label_ids(*row_lists: list[tuple[str, str | int]]) -> dict[str | int, int]:
    labels = {label for rows in row_lists for _, label in rows}
    return {label: i for i, label in enumerate(sorted(labels, key=str))}


def _build_classification(
    meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int
) -> tuple[Any, dict, bool]:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.classification import AbsTaskClassification

    train = _labelled_texts(meta, TRAIN_SPLIT)
    evals = {split: _labelled_texts(meta, split) for split in meta.splits}
    ids = _label_ids(train, *evals.values())
    train_labels = {label for _, label in train}
    for split, rows in evals.items():
        unseen = sorted({str(label) for _, label in rows if label not in train_labels})
        if unseen:  # allowed (a stratified split can leave rare labels out), but worth knowing
            logger.warning("%s/%s.jsonl: %d label(s) never occur in train.jsonl", meta.folder, split, len(unseen))
    keep_train = _sample(len(train), k, rng)
    cut = len(keep_train) < len(train)
    data = {
        TRAIN_SPLIT: Dataset.from_dict(
            {"text": [train[i][0] for i in keep_train], "label": [ids[train[i][1]] for i in keep_train]}
        )
    }
    sizes = {TRAIN_SPLIT: len(keep_train)}
    for split, rows in evals.items():
        keep = _sample(len(rows), k, rng)
        cut |= len(keep) < len(rows)
        data[split] = Dataset.from_dict({"text": [rows[i][0] for i in keep], "label": [ids[rows[i][1]] for i in keep]})
        sizes[split] = len(keep)
    md = _metadata(meta, name, "Classification", meta.splits, meta.instruction)
    attrs = {
        "samples_per_label": int(meta.raw.get("samples_per_label", DEFAULT_SAMPLES_PER_LABEL)),
        "n_experiments": int(meta.raw.get("n_experiments", DEFAULT_N_EXPERIMENTS)),
    }
    return _instantiate(AbsTaskClassification, md, {"default": DatasetDict(data)}, seed, **attrs), sizes, cut


def _build_clustering(
    meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int
) -> tuple[Any, dict, bool]:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy

    data, sizes, cut = {}, {}, False
    for split in meta.splits:
        rows = _labelled_texts(meta, split)
        keep = _sample(len(rows), k, rng)
        cut |= len(keep) < len(rows)
        ids = _label_ids([rows[i] for i in keep])
        # one cluster set holding every text, as mteb's legacy (C-MTEB) clustering tasks store them
        data[split] = Dataset.from_dict(
            {"sentences": [[rows[i][0] for i in keep]], "labels": [[ids[rows[i][1]] for i in keep]]}
        )
        sizes[split] = len(keep)
    md = _metadata(meta, name, "Clustering", meta.splits, meta.instruction)
    return _instantiate(AbsTaskClusteringLegacy, md, {"default": DatasetDict(data)}, seed), sizes, cut


def _read_corpus(path: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    for line, row in iter_jsonl(path):
        doc_id = row.get("_id")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool) or str(doc_id) == "":
            raise TaskFormatError(path, line, f"field '_id' must be a non-empty string, got {doc_id!r}")
        title = text_field(row, "title", path, line, allow_empty=True) if "title" in row else ""
        text = text_field(row, "text", path, line, allow_empty=bool(title.strip()))
        if str(doc_id) in corpus:
            raise TaskFormatError(path, line, f"duplicate _id '{doc_id}'")
        corpus[str(doc_id)] = (title, text)
    if not corpus:
        raise TaskFormatError(path, 0, "no documents")
    return corpus


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for line, row in iter_jsonl(path):
        qid = row.get("_id")
        if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid) == "":
            raise TaskFormatError(path, line, f"field '_id' must be a non-empty string, got {qid!r}")
        if str(qid) in queries:
            raise TaskFormatError(path, line, f"duplicate _id '{qid}'")
        queries[str(qid)] = text_field(row, "text", path, line)
    if not queries:
        raise TaskFormatError(path, 0, "no queries")
    return queries


def _retrieval_split(
    corpus: dict[str, tuple[str, str]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    top_ranked: dict[str, list[str]] | None,
) -> dict[str, Any]:
    from datasets import Dataset

    doc_ids = list(corpus)
    query_ids = [q for q in queries if q in qrels]
    return {
        "corpus": Dataset.from_dict(
            {"id": doc_ids, "title": [corpus[d][0] for d in doc_ids], "text": [corpus[d][1] for d in doc_ids]}
        ),
        "queries": Dataset.from_dict({"id": query_ids, "text": [queries[q] for q in query_ids]}),
        "relevant_docs": {q: qrels[q] for q in query_ids},
        "top_ranked": None if top_ranked is None else {q: top_ranked[q] for q in query_ids},
    }


def _build_retrieval(meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int) -> tuple[Any, dict, bool]:
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    corpus = _read_corpus(meta.folder / "corpus.jsonl")
    queries = _read_queries(meta.folder / "queries.jsonl")
    data, sizes, cut = {}, {}, False
    for split in meta.splits:
        qrels = read_qrels(meta.folder / "qrels" / f"{split}.tsv", set(queries), set(corpus))
        qids = [q for q in queries if q in qrels]
        keep_q = [qids[i] for i in _sample(len(qids), k, rng)]
        split_corpus = corpus
        if k is not None and len(keep_q) < len(qids):
            cut = True
            relevant = {d for q in keep_q for d in qrels[q]}
            others = [d for d in corpus if d not in relevant]
            extra = max(k - len(relevant), 0)
            chosen = relevant | {others[i] for i in _sample(len(others), extra, rng)}
            split_corpus = {d: corpus[d] for d in corpus if d in chosen}
        data[split] = _retrieval_split(split_corpus, {q: queries[q] for q in keep_q}, qrels, None)
        sizes[split] = len(keep_q)
    md = _metadata(meta, name, "Retrieval", meta.splits, meta.instruction)
    return _instantiate(AbsTaskRetrieval, md, {"default": data}, seed), sizes, cut


def _build_reranking(meta: TaskMeta, name: str, k: int | None, rng: random.Random, seed: int) -> tuple[Any, dict, bool]:
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    data, sizes, cut = {}, {}, False
    for split in meta.splits:
        path = meta.folder / f"{split}.jsonl"
        rows = []
        for line, row in iter_jsonl(path):
            query = text_field(row, "query", path, line)
            positive = text_list_field(row, "positive", path, line, non_empty=True)
            negative = text_list_field(row, "negative", path, line, non_empty=False)
            rows.append((query, positive, negative))
        if not rows:
            raise TaskFormatError(path, 0, "no rows")
        keep = _sample(len(rows), k, rng)
        cut |= len(keep) < len(rows)
        corpus: dict[str, tuple[str, str]] = {}
        queries: dict[str, str] = {}
        qrels: dict[str, dict[str, int]] = {}
        top_ranked: dict[str, list[str]] = {}
        for i in keep:
            query, positive, negative = rows[i]
            qid = f"q{i}"
            queries[qid] = query
            candidates = [(f"q{i}-p{j}", t, 1) for j, t in enumerate(positive)]
            candidates += [(f"q{i}-n{j}", t, 0) for j, t in enumerate(negative)]
            for doc_id, text, relevance in candidates:
                corpus[doc_id] = ("", text)
                if relevance:
                    qrels.setdefault(qid, {})[doc_id] = relevance
            top_ranked[qid] = [doc_id for doc_id, _, _ in candidates]
        data[split] = _retrieval_split(corpus, queries, qrels, top_ranked)
        sizes[split] = len(keep)
    md = _metadata(meta, name, "Reranking", meta.splits, meta.instruction)
    return _instantiate(AbsTaskRetrieval, md, {"default": data}, seed), sizes, cut


_BUILDERS = {
    "STS": _build_sts,
    "PairClassification": _build_pair,
    "Classification": _build_classification,
    "Clustering": _build_clustering,
    "Retrieval": _build_retrieval,
    "Reranking": _build_reranking,
}
