"""Readers of the canonical task-folder formats (``../shared/data/README.md``), with ``file:line`` errors.

A task folder holds a ``meta.json`` (``{"name", "task_type", "language", "main_metric", "splits",
"instruction", ...}``) and its data files:

========================  =========================================================================
task_type                 files and rows
========================  =========================================================================
STS                       ``<split>.jsonl``: ``{"sentence1", "sentence2", "score"}``
PairClassification        ``<split>.jsonl``: ``{"sentence1", "sentence2", "label"}`` (label 0 or 1)
Classification            ``train.jsonl`` + ``<split>.jsonl``: ``{"text", "label"}``
Clustering                ``<split>.jsonl``: ``{"text", "label"}``
Retrieval                 BEIR: ``corpus.jsonl`` ``{"_id", "title", "text"}``, ``queries.jsonl``
                          ``{"_id", "text"}``, ``qrels/<split>.tsv`` (header ``query-id corpus-id score``)
Reranking                 ``<split>.jsonl``: ``{"query", "positive": [text, ...], "negative": [text, ...]}``
                          (the C-MTEB reranking layout: one query and its candidate list)
========================  =========================================================================

Every problem is reported as :class:`~youtu_embedding.eval.errors.TaskFormatError` naming the
file and the 1-based line; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from youtu_embedding.eval.errors import TaskFormatError

TASK_TYPES = ("STS", "PairClassification", "Classification", "Clustering", "Retrieval", "Reranking")
#: Default main metric (an mteb score key) of each task type.
DEFAULT_MAIN_METRIC = {
    "STS": "cosine_spearman",
    "PairClassification": "max_ap",
    "Classification": "accuracy",
    "Clustering": "v_measure",
    "Retrieval": "ndcg_at_10",
    "Reranking": "map_at_1000",
}
#: meta.json main_metric spellings accepted as aliases of mteb score keys.
METRIC_ALIASES = {"map": "map_at_1000", "mrr": "mrr_at_1000", "ndcg@10": "ndcg_at_10"}
TRAIN_SPLIT = "train"


@dataclass(frozen=True)
class TaskMeta:
    """The parsed ``meta.json`` of a task folder.

    Attributes:
        folder: the task folder.
        name: ``name`` (default: the folder name).
        task_type: one of :data:`TASK_TYPES`.
        language: ``language`` (e.g. ``en``, ``zh``), ``None`` when absent.
        main_metric: an mteb score key (``cosine_spearman``, ``max_ap``, ``accuracy``, ``v_measure``,
            ``ndcg_at_10``, ``map_at_1000``...).
        splits: evaluation splits (for Classification, without ``train``).
        instruction: ``instruction`` as written (a string, a ``{"query", "document"}`` dict or None).
        raw: the whole JSON object.
    """

    folder: Path
    name: str
    task_type: str
    language: str | None
    main_metric: str
    splits: tuple[str, ...]
    instruction: str | dict[str, str] | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def meta_path(self) -> Path:
        """The ``meta.json`` file."""
        return self.folder / "meta.json"

    @property
    def query_instruction(self) -> str | None:
        """The query-side instruction of ``meta.json`` (the ``query`` entry of a dict)."""
        if isinstance(self.instruction, dict):
            return self.instruction.get("query") or None
        return self.instruction or None

    @property
    def score_range(self) -> tuple[float, float]:
        """STS ``score_range`` (default 0-5; only a linear rescaling, correlations do not depend on it)."""
        low, high = self.raw.get("score_range", (0, 5))
        return float(low), float(high)


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFormatError(path, 0, f"not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskFormatError(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None


def _line_of_key(path: Path, key: str) -> int:
    """The first line of a JSON file mentioning ``"key"`` (1 when absent): where to point an error."""
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if f'"{key}"' in line:
                return number
    except OSError:
        pass
    return 1


def read_meta(folder: Path) -> TaskMeta:
    """Parse and check ``folder/meta.json``."""
    path = folder / "meta.json"
    if not path.is_file():
        raise TaskFormatError(
            path, 0, f"missing meta.json: a task folder needs one with at least 'task_type' ({', '.join(TASK_TYPES)})"
        )
    raw = _load_json(path)
    if not isinstance(raw, dict):
        raise TaskFormatError(path, 1, f"meta.json must hold a JSON object, got {type(raw).__name__}")
    task_type = raw.get("task_type")
    if task_type not in TASK_TYPES:
        line = _line_of_key(path, "task_type")
        got = "missing" if task_type is None else f"'{task_type}' is not supported"
        raise TaskFormatError(path, line, f"field 'task_type': {got} (allowed: {', '.join(TASK_TYPES)})")
    name = raw.get("name", folder.name)
    if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
        raise TaskFormatError(
            path, _line_of_key(path, "name"), f"field 'name': must be a non-empty file-safe string, got {name!r}"
        )
    metric = raw.get("main_metric", DEFAULT_MAIN_METRIC[task_type])
    if not isinstance(metric, str):
        raise TaskFormatError(path, _line_of_key(path, "main_metric"), "field 'main_metric': must be a string")
    metric = METRIC_ALIASES.get(metric, metric)
    instruction = raw.get("instruction")
    if instruction is not None and not isinstance(instruction, (str, dict)):
        raise TaskFormatError(
            path,
            _line_of_key(path, "instruction"),
            "field 'instruction': must be a string or {'query': ..., 'document': ...}",
        )
    language = raw.get("language")
    splits = _splits(folder, task_type, raw.get("splits"), path)
    return TaskMeta(
        folder, name, task_type, language if isinstance(language, str) else None, metric, splits, instruction, raw
    )


def _splits(folder: Path, task_type: str, declared: Any, meta_path: Path) -> tuple[str, ...]:
    if declared is not None and not isinstance(declared, (dict, list)):
        raise TaskFormatError(
            meta_path, _line_of_key(meta_path, "splits"), "field 'splits': must be an object or a list"
        )
    if declared:
        names = [str(s) for s in declared]
    elif task_type == "Retrieval":
        names = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    else:
        names = sorted(p.stem for p in folder.glob("*.jsonl"))
    if task_type == "Retrieval":
        names = [n for n in names if n != TRAIN_SPLIT] or names
    elif task_type == "Classification":
        names = [n for n in names if n != TRAIN_SPLIT]
    if not names:
        raise TaskFormatError(meta_path, _line_of_key(meta_path, "splits"), f"no evaluation split found in {folder}")
    return tuple(names)


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a bad line raises ``file:line``."""
    if not path.is_file():
        raise TaskFormatError(path, 0, "file not found")
    with path.open(encoding="utf-8") as fh:
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TaskFormatError(path, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
                if not isinstance(row, dict):
                    raise TaskFormatError(path, number, f"expected a JSON object, got {type(row).__name__}")
                yield number, row
        except UnicodeDecodeError as exc:
            raise TaskFormatError(path, 0, f"not UTF-8 text ({exc.reason})") from None


def text_field(row: dict[str, Any], key: str, path: Path, line: int, *, allow_empty: bool = False) -> str:
    """A string field of a row; missing, non-string or (unless allowed) blank values are errors."""
    if key not in row:
        raise TaskFormatError(path, line, f"missing field '{key}'")
    value = row[key]
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str):
        raise TaskFormatError(path, line, f"field '{key}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise TaskFormatError(path, line, f"field '{key}' is empty")
    return value


def number_field(row: dict[str, Any], key: str, path: Path, line: int) -> float:
    """A numeric field of a row."""
    if key not in row:
        raise TaskFormatError(path, line, f"missing field '{key}'")
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TaskFormatError(path, line, f"field '{key}' must be a number, got {value!r}")
    return float(value)


def label_field(row: dict[str, Any], key: str, path: Path, line: int) -> str | int:
    """A class label (string or integer)."""
    if key not in row:
        raise TaskFormatError(path, line, f"missing field '{key}'")
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TaskFormatError(path, line, f"field '{key}' must be a string or an integer, got {value!r}")
    return value


def text_list_field(row: dict[str, Any], key: str, path: Path, line: int, *, non_empty: bool) -> list[str]:
    """A list of non-blank strings."""
    if key not in row:
        raise TaskFormatError(path, line, f"missing field '{key}'")
    value = row[key]
    if not isinstance(value, list):
        raise TaskFormatError(path, line, f"field '{key}' must be a list of strings, got {type(value).__name__}")
    if non_empty and not value:
        raise TaskFormatError(path, line, f"field '{key}' is an empty list")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise TaskFormatError(path, line, f"field '{key}[{i}]' must be a non-empty string, got {item!r}")
    return value


def read_qrels(path: Path, query_ids: set[str], corpus_ids: set[str]) -> dict[str, dict[str, int]]:
    """A BEIR qrels TSV (header ``query-id corpus-id score``); unknown ids are ``file:line`` errors."""
    if not path.is_file():
        raise TaskFormatError(path, 0, "file not found")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise TaskFormatError(path, 1, f"expected the header 'query-id<TAB>corpus-id<TAB>score', got {header!r}")
        for row in reader:
            line = reader.line_num
            if not row or not "".join(row).strip():
                continue
            if len(row) != 3:
                raise TaskFormatError(path, line, f"expected 3 tab-separated columns, got {len(row)}")
            qid, did, score_text = (c.strip() for c in row)
            if qid not in query_ids:
                raise TaskFormatError(path, line, f"query-id '{qid}' is not in queries.jsonl")
            if did not in corpus_ids:
                raise TaskFormatError(path, line, f"corpus-id '{did}' is not in corpus.jsonl")
            try:
                score = int(float(score_text))
            except ValueError:
                raise TaskFormatError(path, line, f"score must be a number, got {score_text!r}") from None
            qrels.setdefault(qid, {})[did] = score
    if not qrels:
        raise TaskFormatError(path, 0, "no relevance judgements")
    return qrels
