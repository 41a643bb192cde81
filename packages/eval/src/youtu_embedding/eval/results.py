"""Per-task results: the JSON written for each task, and reading result folders back.

Each task file ``OUT/<task name>.json`` is an mteb ``TaskResult`` (``dataset_revision``,
``task_name``, ``mteb_version``, ``scores`` per split on mteb's 0-1 scale, ``evaluation_time``...),
loadable with ``mteb.results.TaskResult.from_disk``, plus these fields:

``main_metric``, ``main_score`` (0-100), ``main_splits``, ``split_scores`` (0-100 per split),
``task_type``, ``instruction`` (the instruction actually applied, null when none),
``instruction_source``, ``template``, ``prompts`` (the query / document prefixes),
``instruction_sides``, ``source`` (local folder or ``mteb``), ``cmteb_name``, ``max_samples``,
``sizes``, ``subsampled``, ``model``.

A folder of plain mteb result files (``mteb.evaluate`` output, the embeddings-benchmark results
repository) is read too: the main score is mteb's mean over splits and subsets, times 100. (Our own
files state their ``main_score``: for local tasks the ``test`` split when there is one, see
:func:`main_splits`; for registered tasks mteb's mean over the task's evaluation splits.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from youtu_embedding.eval.errors import TaskFormatError

#: Task types in the order of the C-MTEB table (REFERENCE.md).
TYPE_ORDER = ("Classification", "Clustering", "PairClassification", "Reranking", "Retrieval", "STS")
TYPE_ABBREVIATIONS = {
    "Classification": "Class.",
    "Clustering": "Clust.",
    "PairClassification": "PairClass.",
    "Reranking": "Rerank.",
    "Retrieval": "Retr.",
    "STS": "STS",
}


@dataclass(frozen=True)
class TaskScore:
    """One task's headline result.

    Attributes:
        task_name: the task.
        task_type: mteb task type (``STS``, ``Retrieval``...).
        main_metric: the metric (``cosine_spearman``...).
        main_score: 0-100.
        split_scores: 0-100 per split.
        instruction: the instruction applied (None when none or unknown).
    """

    task_name: str
    task_type: str
    main_metric: str
    main_score: float
    split_scores: dict[str, float]
    instruction: str | None = None


def main_splits(splits: Iterable[str], declared: str | None = None) -> list[str]:
    """The splits whose mean is the task's main score: ``declared``, else ``test`` when present, else all."""
    splits = list(splits)
    if declared and declared in splits:
        return [declared]
    return ["test"] if "test" in splits and len(splits) > 1 else splits


def split_main_scores(scores: dict[str, list[dict[str, Any]]], metric: str | None = None) -> dict[str, float]:
    """0-100 score per split from mteb ``scores`` (mean over hf subsets; ``main_score`` unless ``metric``)."""
    out: dict[str, float] = {}
    for split, entries in scores.items():
        values = [float(e[metric] if metric and metric in e else e["main_score"]) for e in entries]
        if values:
            out[split] = 100.0 * sum(values) / len(values)
    return out


def _task_type_of(name: str) -> str:
    try:
        import mteb

        return str(mteb.get_task(name).metadata.type)
    except Exception:  # unknown to mteb (a local task name): the caller says so
        return "Unknown"


def read_task_result(path: str | Path) -> TaskScore:
    """A :class:`TaskScore` from one result file (ours or plain mteb)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or "task_name" not in data:
        raise TaskFormatError(path, 1, "not a task result (no 'task_name')")
    name = str(data["task_name"])
    if "main_score" in data and "task_type" in data:
        return TaskScore(
            name,
            str(data["task_type"]),
            str(data.get("main_metric", "main_score")),
            float(data["main_score"]),
            {k: float(v) for k, v in data.get("split_scores", {}).items()},
            data.get("instruction"),
        )
    scores = data.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise TaskFormatError(path, 1, "no 'scores' in this mteb result")
    per_split = split_main_scores(scores)
    # mteb's aggregation (TaskResult.get_score): the mean over every split and subset
    main = [per_split[s] for s in ([data["main_split"]] if data.get("main_split") in per_split else per_split)]
    return TaskScore(name, data.get("task_type") or _task_type_of(name), "main_score", sum(main) / len(main), per_split)


def read_results_folder(folder: str | Path) -> dict[str, TaskScore]:
    """Task name -> :class:`TaskScore` for every result file of a folder (``model_meta.json`` etc. skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder '{folder}' does not exist")
    out: dict[str, TaskScore] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name in {"model_meta.json", "summary.json"} or path.name.endswith("_predictions.json"):
            continue
        score = read_task_result(path)
        out[score.task_name] = score
    return out


def type_means(scores: Iterable[TaskScore]) -> dict[str, float]:
    """Mean main score per task type (types in C-MTEB order, then others)."""
    groups: dict[str, list[float]] = {}
    for s in scores:
        groups.setdefault(s.task_type, []).append(s.main_score)
    order = [t for t in TYPE_ORDER if t in groups] + sorted(t for t in groups if t not in TYPE_ORDER)
    return {t: sum(groups[t]) / len(groups[t]) for t in order}


def overall_means(scores: Iterable[TaskScore]) -> dict[str, float]:
    """``Mean(Task)`` (over tasks) and ``Mean(Type)`` (over type means), as the C-MTEB table does."""
    scores = list(scores)
    if not scores:
        return {"Mean(Task)": math.nan, "Mean(Type)": math.nan}
    by_type = type_means(scores)
    return {
        "Mean(Task)": sum(s.main_score for s in scores) / len(scores),
        "Mean(Type)": sum(by_type.values()) / len(by_type),
    }
