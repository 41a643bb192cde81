"""The CoDiEmb unified JSON-lines training format: reading, validating and holding sub-datasets.

One line is one training item::

    {"task_type": "ir" | "sts",
     "query": [task_instruction, instance_instruction, text],
     "positives": [[t, i, text], ...], "negatives": [[t, i, text], ...],
     "positive_scores": [float, ...], "negative_scores": [float, ...]}

One file is one sub-dataset; a folder is read recursively (``*.jsonl``, sorted). Every line is
validated; a problem is reported as ``file:line: what is wrong``. Bad lines never disappear
silently: loading fails, or with ``skip_invalid=True`` they are skipped and counted
(:attr:`SubDataset.skipped`, with the messages in :attr:`SubDataset.problems`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASK_TYPES = ("ir", "sts")
#: Score used by the reference code when an item has no score.
MISSING_SCORE = -1.0


@dataclass(frozen=True)
class Text:
    """One side of a training item: ``[task_instruction, instance_instruction, text]``."""

    task_instruction: str
    instance_instruction: str
    text: str


@dataclass(frozen=True)
class Example:
    """One validated line of a unified JSONL file."""

    task_type: str
    query: Text
    positives: tuple[Text, ...]
    negatives: tuple[Text, ...] = ()
    positive_scores: tuple[float, ...] = ()
    negative_scores: tuple[float, ...] = ()
    source: str = ""
    line: int = 0

    def positive_score(self, j: int = 0) -> float:
        """Score of positive ``j`` (:data:`MISSING_SCORE` when the item has none)."""
        return self.positive_scores[j] if j < len(self.positive_scores) else MISSING_SCORE


@dataclass
class SubDataset:
    """All items of one file: one task type, one source."""

    name: str
    path: Path
    task_type: str
    examples: list[Example]
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)


class DataValidationError(ValueError):
    """Bad lines in a training file; ``problems`` holds one ``file:line: message`` per problem."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        self.problems = problems
        total = len(problems) if total is None else total
        shown = problems[:20]
        more = f"\n... and {total - len(shown)} more" if total > len(shown) else ""
        hint = "\n(fix the lines, or pass skip_invalid=True / --skip-invalid to skip and count them)"
        super().__init__(f"{total} invalid training line(s):\n" + "\n".join(shown) + more + hint)


def _check_text(value: Any, where: str, *, require_text: bool = True) -> Text:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list [task_instruction, instance_instruction, text], got {value!r:.60}")
    if len(value) != 3:
        raise ValueError(
            f"{where} must have 3 elements [task_instruction, instance_instruction, text], got {len(value)}"
        )
    for k, part in enumerate(value):
        if not isinstance(part, str):
            raise ValueError(f"{where}[{k}] must be a string, got {type(part).__name__}")
    if require_text and not value[2].strip():
        raise ValueError(f"{where}[2] (text) is empty")
    return Text(value[0], value[1], value[2])


def _check_scores(value: Any, where: str, expected: int) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of numbers, got {type(value).__name__}")
    if value and len(value) != expected:
        raise ValueError(f"{where} has {len(value)} scores but there are {expected} items (lengths must match)")
    out = []
    for k, score in enumerate(value):
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"{where}[{k}] must be a number, got {score!r:.40}")
        if not math.isfinite(score):
            raise ValueError(f"{where}[{k}] must be finite, got {score}")
        out.append(float(score))
    return tuple(out)


def parse_example(obj: Any, source: str = "", line: int = 0) -> Example:
    """Validate one decoded JSON object; raise ``ValueError`` with a message naming the field."""
    if not isinstance(obj, dict):
        raise ValueError(f"line must be a JSON object, got {type(obj).__name__}")
    for key in ("task_type", "query", "positives"):
        if key not in obj:
            raise ValueError(f"missing field '{key}'")
    task_type = obj["task_type"]
    if task_type not in TASK_TYPES:
        raise ValueError(f"task_type must be one of {list(TASK_TYPES)}, got {task_type!r:.40}")
    query = _check_text(obj["query"], "query")
    positives_raw = obj["positives"]
    if not isinstance(positives_raw, list) or not positives_raw:
        raise ValueError("positives must be a non-empty list of [task_instruction, instance_instruction, text]")
    positives = tuple(_check_text(p, f"positives[{k}]") for k, p in enumerate(positives_raw))
    negatives_raw = obj.get("negatives", [])
    if negatives_raw is None:
        negatives_raw = []
    if not isinstance(negatives_raw, list):
        raise ValueError(f"negatives must be a list, got {type(negatives_raw).__name__}")
    negatives = tuple(_check_text(n, f"negatives[{k}]") for k, n in enumerate(negatives_raw))
    pos_scores = _check_scores(obj.get("positive_scores") or [], "positive_scores", len(positives))
    neg_scores = _check_scores(obj.get("negative_scores") or [], "negative_scores", len(negatives))
    if task_type == "sts" and not pos_scores:
        raise ValueError("sts items need positive_scores (the gold similarity of the pair)")
    unknown = set(obj) - {"task_type", "query", "positives", "negatives", "positive_scores", "negative_scores"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")
    return Example(task_type, query, positives, negatives, pos_scores, neg_scores, source, line)


def read_jsonl_file(path: str | Path, *, skip_invalid: bool = False, name: str | None = None) -> SubDataset:
    """Read and validate one unified JSONL file (one sub-dataset).

    Raises :class:`DataValidationError` listing every bad line (``file:line: message``) unless
    ``skip_invalid``; then bad lines are skipped and counted. A file mixing task types, or with
    no valid item, is an error either way.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training file '{path}' does not exist")
    examples: list[Example] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            try:
                examples.append(parse_example(obj, str(path), lineno))
            except ValueError as exc:
                problems.append(f"{path}:{lineno}: {exc}")
    if examples:
        first = examples[0].task_type
        for ex in examples:
            if ex.task_type != first:
                problems.append(
                    f"{path}:{ex.line}: task_type '{ex.task_type}' differs from the file's first item ('{first}'); "
                    "one file is one sub-dataset of one task type"
                )
        if any(ex.task_type != first for ex in examples):
            raise DataValidationError([p for p in problems if "differs from" in p])
    if problems and not skip_invalid:
        raise DataValidationError(problems)
    if not examples:
        raise DataValidationError([f"{path}: no valid training item", *problems])
    return SubDataset(
        name or path.stem, path, examples[0].task_type, examples, skipped=len(problems), problems=problems
    )


def load_datasets(paths: list[str | Path] | str | Path, *, skip_invalid: bool = False) -> list[SubDataset]:
    """Read files and folders (recursively, ``*.jsonl``) into sub-datasets, one per file.

    Names are the file's path relative to the folder given (without ``.jsonl``); every problem of
    every file is collected before raising, so one run reports all bad lines.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ValueError("data: give at least one JSONL file or folder")
    files: list[tuple[Path, str]] = []
    for entry in paths:
        p = Path(entry)
        if p.is_dir():
            found = sorted(p.rglob("*.jsonl"))
            if not found:
                raise FileNotFoundError(f"data folder '{p}' holds no *.jsonl file")
            files += [(f, str(f.relative_to(p).with_suffix(""))) for f in found]
        elif p.is_file():
            files.append((p, p.stem))
        else:
            raise FileNotFoundError(f"training data '{p}' does not exist")
    datasets: list[SubDataset] = []
    problems: list[str] = []
    seen: set[str] = set()
    for f, name in files:
        unique = name
        k = 2
        while unique in seen:
            unique = f"{name}-{k}"
            k += 1
        seen.add(unique)
        try:
            datasets.append(read_jsonl_file(f, skip_invalid=skip_invalid, name=unique))
        except DataValidationError as exc:
            problems += exc.problems
    if problems:
        raise DataValidationError(problems)
    return datasets
