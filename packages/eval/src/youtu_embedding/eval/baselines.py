"""Baselines to compare a run against: a results folder, or a built-in released score set.

Built-in: ``youtu-embedding-v1``: the released C-MTEB scores of ``tencent/Youtu-Embedding`` (the
per-task files found in the MTEB results repository, 16 of 31 tasks, and the model card's type and
overall means). See ``baselines/youtu-embedding-v1.json`` for the provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.eval.results import TaskScore, main_splits, read_results_folder

BUILTIN_BASELINES = ("youtu-embedding-v1",)


@dataclass
class Baseline:
    """Scores to compare against.

    Attributes:
        name: a label (folder name or built-in name).
        scores: task name -> :class:`TaskScore`.
        published_means: aggregate figures published with the baseline (type means, Mean(Task)...),
            which may cover tasks that are not in ``scores``.
        missing_tasks: tasks of the benchmark whose per-task scores the baseline lacks.
        description: provenance.
    """

    name: str
    scores: dict[str, TaskScore]
    published_means: dict[str, float] = field(default_factory=dict)
    missing_tasks: list[str] = field(default_factory=list)
    description: str = ""


def _builtin(name: str) -> Baseline:
    data: dict[str, Any] = json.loads(
        resources.files("youtu_embedding.eval").joinpath("baselines", f"{name}.json").read_text(encoding="utf-8")
    )
    scores = {}
    for task, entry in data["tasks"].items():
        split_scores = {k: float(v) for k, v in entry["split_scores"].items()}
        main = entry.get("main_score")
        if main is None:
            chosen = main_splits(split_scores)
            main = sum(split_scores[s] for s in chosen) / len(chosen)
        scores[task] = TaskScore(task, entry["task_type"], entry["main_metric"], float(main), split_scores)
    return Baseline(
        f"{data['model']} (released)",
        scores,
        {k: float(v) for k, v in data.get("published_means", {}).items()},
        list(data.get("missing_tasks", [])),
        data.get("description", ""),
    )


def load_baseline(spec: str | Path) -> Baseline:
    """A built-in baseline name (``youtu-embedding-v1``) or a results folder."""
    if str(spec) in BUILTIN_BASELINES:
        return _builtin(str(spec))
    path = Path(spec)
    if not path.is_dir():
        raise InvalidArgumentError(
            "baseline", f"'{spec}' is neither a results folder nor a built-in baseline", BUILTIN_BASELINES
        )
    return Baseline(path.name, read_results_folder(path))
