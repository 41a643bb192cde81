"""Running an evaluation: local task folders and/or registered mteb tasks, results, report."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.eval.baselines import Baseline, load_baseline
from youtu_embedding.eval.errors import TaskFormatError
from youtu_embedding.eval.instructions import InstructionPolicy
from youtu_embedding.eval.local_tasks import LocalTask, discover_task_dirs, load_local_task
from youtu_embedding.eval.report import ReportFiles, write_report
from youtu_embedding.eval.results import TaskScore, main_splits, split_main_scores

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$YOUTU_EMBED_CACHE`` or ``~/.cache/youtu-embedding``, plus ``eval``."""
    from youtu_embedding.core.embedding_cache import default_cache_dir as core_default

    return core_default("eval")


@dataclass
class EvalRun:
    """What an evaluation produced.

    Attributes:
        output: the output folder.
        scores: task name -> :class:`TaskScore`.
        files: task name -> result JSON file.
        report: the report files (None when no report was written).
        cache_hits / cache_misses: texts served from / added to the embeddings cache.
    """

    output: Path
    scores: dict[str, TaskScore] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    report: ReportFiles | None = None
    cache_hits: int = 0
    cache_misses: int = 0


def resolve_template(template: str | None, encoder: Any) -> str:
    """``auto`` -> ``youtu`` for `utu` models (the release's instructions), ``none`` otherwise."""
    if template in (None, "auto"):
        return "youtu" if encoder.loaded.is_utu else "none"
    return template


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _write_result(
    path: Path,
    task: Any,
    split_scores: dict[str, Any],
    elapsed: float,
    extra: dict[str, Any],
) -> None:
    from mteb.results import TaskResult

    result = TaskResult.from_task_results(task, split_scores, evaluation_time=elapsed)
    data = result.model_dump(mode="json")
    data.update(extra)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")


def _evaluate_task(
    model: Any,
    task: Any,
    splits: Sequence[str],
    *,
    batch_size: int,
) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    scores: dict[str, Any] = {}
    for split in splits:
        scores[split] = task.evaluate(model, split, encode_kwargs={"batch_size": batch_size})
    return scores, time.monotonic() - start


def _check_metric(task_name: str, metric: str, first: Mapping[str, Any], where: Path | None) -> None:
    if metric not in first:
        known = sorted(k for k, v in first.items() if isinstance(v, (int, float)) and k != "main_score")
        message = f"main_metric '{metric}' is not a score of this task (available: {', '.join(known)})"
        if where is not None:
            raise TaskFormatError(where, 0, message)
        raise InvalidArgumentError("main_metric", f"{task_name}: {message}")


def evaluate(
    model: Any,
    *,
    data_dir: str | Path | None = None,
    tasks: Sequence[str] = (),
    benchmark: str | None = None,
    output: str | Path = "results",
    template: str | None = "auto",
    instructions: Mapping[str, str] | None = None,
    baseline: str | Path | Baseline | None = None,
    max_samples: int | None = None,
    seed: int = 42,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    offline: bool = True,
    report: bool = True,
    show_progress: bool | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
) -> EvalRun:
    """Evaluate a model on local task folders and/or registered mteb tasks.

    Args:
        model: an :class:`~youtu_embedding.core.Encoder`, or a model name / directory to load one
            (with ``encoder_kwargs``: device, dtype, attention, max_length...).
        data_dir: a folder searched (any depth) for task folders (``meta.json`` + data).
        tasks: registered mteb task names (``T2Retrieval``, ``AFQMC``...).
        benchmark: a registered mteb benchmark (``MTEB(cmn, v1)`` = C-MTEB).
        output: folder for ``<task>.json``, ``report.md``, ``report.html``, ``scores.png``.
        template: instruction template; ``auto``: ``youtu`` for `utu` models, else ``none``.
        instructions: task name -> instruction overrides.
        baseline: results folder or built-in baseline name (``youtu-embedding-v1``) to compare against.
        max_samples: subsample every local split to this many rows/queries (smoke tests).
        seed: sampling and mteb seed.
        batch_size: texts per batch.
        cache_dir: embeddings cache folder (default :func:`default_cache_dir`); ``use_cache=False``
            disables it.
        offline: registered tasks read their datasets from the local cache only.
        report: write the report.
        show_progress: progress bars (default: on a terminal).
    """
    from youtu_embedding.core import Encoder
    from youtu_embedding.eval.cache import EmbeddingCache, model_fingerprint
    from youtu_embedding.eval.mteb_model import YoutuMtebEncoder
    from youtu_embedding.eval.registered import load_offline, select_tasks

    if data_dir is None and not tasks and not benchmark:
        raise InvalidArgumentError("tasks", "give --data-dir, --tasks or --benchmark")
    if max_samples is not None and max_samples < 2:
        raise InvalidArgumentError("max_samples", f"must be at least 2, got {max_samples}")
    if batch_size < 1:
        raise InvalidArgumentError("batch_size", f"must be a positive integer, got {batch_size}")
    base = baseline if isinstance(baseline, Baseline) or baseline is None else load_baseline(baseline)

    # Read every task before loading the model: format errors surface immediately.
    local: list[LocalTask] = []
    if data_dir is not None:
        folders = discover_task_dirs(data_dir)
        for folder in tqdm(
            folders, desc="Reading tasks", unit="task", disable=None if show_progress is None else not show_progress
        ):
            local.append(load_local_task(folder, max_samples=max_samples, seed=seed))
        seen: dict[str, Path] = {}
        for lt in local:
            if lt.name in seen:
                raise TaskFormatError(
                    lt.meta.meta_path,
                    0,
                    f"task name '{lt.name}' is also the name of {seen[lt.name]} (set a distinct 'name')",
                )
            seen[lt.name] = lt.meta.folder
    registered = select_tasks(list(tasks), benchmark) if tasks or benchmark else []
    clash = {lt.name for lt in local} & {t.metadata.name for t in registered}
    if clash:
        raise InvalidArgumentError("tasks", f"{sorted(clash)} are both local task folders and registered tasks")
    if registered:
        load_offline(registered, offline=offline)

    encoder = model if isinstance(model, Encoder) else Encoder(model, **dict(encoder_kwargs or {}))
    template_name = resolve_template(template, encoder)
    policy = InstructionPolicy(
        template_name,
        overrides=instructions,
        local_instructions={lt.name: lt.meta.instruction for lt in local},
    )
    cache = None
    if use_cache:
        cache = EmbeddingCache(Path(cache_dir or default_cache_dir()) / "embeddings.sqlite", model_fingerprint(encoder))
    wrapper = YoutuMtebEncoder(encoder, policy, cache=cache, batch_size=batch_size, show_progress=show_progress)
    info = encoder.info()
    model_record = {
        "model_id": info["model_id"],
        "dimension": info["dimension"],
        "max_length": info["max_length"],
        "dtype": info["dtype"],
        "device": info["device"],
        "attention": info["attention"],
        "pooling": info["pooling"],
    }
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    run = EvalRun(out)
    jobs: list[tuple[str, Any, Sequence[str], LocalTask | None]] = [
        (lt.name, lt.task, lt.meta.splits, lt) for lt in local
    ] + [(t.metadata.name, t, list(t.metadata.eval_splits), None) for t in registered]
    bar = tqdm(jobs, desc="Tasks", unit="task", disable=None if show_progress is None else not show_progress)
    try:
        for name, task, splits, lt in bar:
            bar.set_postfix_str(name)
            scores, elapsed = _evaluate_task(wrapper, task, splits, batch_size=batch_size)
            metric = lt.meta.main_metric if lt else task.metadata.main_score
            first = next(iter(scores[splits[0]].values()))
            _check_metric(name, metric, first, lt.meta.meta_path if lt else None)
            per_split = split_main_scores({s: list(v.values()) for s, v in scores.items()}, metric)
            chosen = main_splits(per_split, lt.meta.raw.get("main_split") if lt else None) if lt else list(per_split)
            main = sum(per_split[s] for s in chosen) / len(chosen)
            prompts = wrapper.prompts_for(task.metadata)
            extra: dict[str, Any] = {
                "main_metric": metric,
                "main_score": round(main, 4),
                "main_splits": chosen,
                "split_scores": {s: round(v, 4) for s, v in per_split.items()},
                "task_type": task.metadata.type,
                **prompts.as_dict(),
                "source": str(lt.meta.folder) if lt else "mteb",
                "cmteb_name": lt.cmteb_name if lt else name,
                "max_samples": max_samples if lt else None,
                "sizes": lt.sizes if lt else None,
                "subsampled": lt.subsampled if lt else False,
                "empty_texts": wrapper.empty_texts.get(name, 0),
                "model": model_record,
            }
            path = out / f"{name}.json"
            _write_result(path, task, scores, elapsed, extra)
            run.files[name] = path
            run.scores[name] = TaskScore(name, str(task.metadata.type), metric, main, per_split, prompts.instruction)
            if lt is None:
                task.unload_data()  # registered datasets can be large: keep one in memory at a time
    finally:
        if cache is not None:
            run.cache_hits, run.cache_misses = cache.hits, cache.misses
            cache.close()
    if report and run.scores:
        notes = [
            f"model: {info['model_id']} ({info['dtype']}, {info['device']}, max length {info['max_length']})",
            f"template: {template_name}",
        ]
        if max_samples is not None:
            notes.append(f"local splits subsampled to at most {max_samples} rows: not comparable to full-set scores")
        run.report = write_report(
            run.scores, out, baseline=base, title=f"Evaluation of {info['model_id']}", notes=notes
        )
    return run
