"""youtu_embedding.eval: evaluate embedding models on C-MTEB / MTEB (through mteb, with the Youtu
instructions) and on local task folders, offline; write mteb-compatible results and reports.

    >>> from youtu_embedding.eval import evaluate
    >>> run = evaluate("all-MiniLM-L6-v2", data_dir="../shared/data/eval/sts", output="out")  # doctest: +SKIP
    >>> run.scores["stsb-en"].split_scores["test"]  # doctest: +SKIP
    82.03...

Heavy modules (mteb, torch) are imported on first use of the names below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from youtu_embedding.eval.errors import DatasetUnavailableError, TaskFormatError, UnknownTaskError

if TYPE_CHECKING:
    from youtu_embedding.eval.baselines import Baseline, load_baseline
    from youtu_embedding.eval.instructions import InstructionPolicy, TaskPrompts
    from youtu_embedding.eval.local_tasks import LocalTask, discover_task_dirs, load_local_task
    from youtu_embedding.eval.mteb_model import YoutuMtebEncoder
    from youtu_embedding.eval.report import plot_size, write_report
    from youtu_embedding.eval.results import TaskScore, read_results_folder
    from youtu_embedding.eval.runner import EvalRun, evaluate

_LAZY = {
    "Baseline": "baselines",
    "load_baseline": "baselines",
    "InstructionPolicy": "instructions",
    "TaskPrompts": "instructions",
    "LocalTask": "local_tasks",
    "discover_task_dirs": "local_tasks",
    "load_local_task": "local_tasks",
    "YoutuMtebEncoder": "mteb_model",
    "plot_size": "report",
    "write_report": "report",
    "TaskScore": "results",
    "read_results_folder": "results",
    "EvalRun": "runner",
    "evaluate": "runner",
}

__all__ = [
    "Baseline",
    "DatasetUnavailableError",
    "EvalRun",
    "InstructionPolicy",
    "LocalTask",
    "TaskFormatError",
    "TaskPrompts",
    "TaskScore",
    "UnknownTaskError",
    "YoutuMtebEncoder",
    "discover_task_dirs",
    "evaluate",
    "load_baseline",
    "load_local_task",
    "plot_size",
    "read_results_folder",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"youtu_embedding.eval.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'youtu_embedding.eval' has no attribute {name!r}")
