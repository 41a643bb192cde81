"""Registered mteb tasks (``--tasks``, ``--benchmark``) loaded offline from the local cache."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import Iterator, Sequence
from typing import Any

from youtu_embedding.eval.errors import DatasetUnavailableError, UnknownTaskError


@contextlib.contextmanager
def offline_datasets(offline: bool = True) -> Iterator[None]:
    """Make ``datasets`` / ``huggingface_hub`` read only the local cache (``HF_DATASETS_OFFLINE=1``).

    Both libraries read their offline flag when imported; this sets the environment variables
    and the already-imported module flags, and restores them afterwards.
    """
    if not offline:
        yield
        return
    import datasets.config
    import huggingface_hub.constants

    saved_env = {k: os.environ.get(k) for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    saved = (
        datasets.config.HF_HUB_OFFLINE,
        datasets.config.HF_DATASETS_OFFLINE,
        huggingface_hub.constants.HF_HUB_OFFLINE,
    )
    os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE = saved[0], saved[1]
        huggingface_hub.constants.HF_HUB_OFFLINE = saved[2]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def select_tasks(names: Sequence[str] = (), benchmark: str | None = None) -> list[Any]:
    """mteb task objects by name and/or benchmark (e.g. ``MTEB(cmn, v1)``), without duplicates."""
    import mteb

    selected: dict[str, Any] = {}
    if benchmark:
        try:
            bench = mteb.get_benchmark(benchmark)
        except (KeyError, ValueError) as exc:
            raise UnknownTaskError(f"benchmark: unknown benchmark '{benchmark}' ({exc})") from None
        for task in bench.tasks:
            selected.setdefault(task.metadata.name, task)
    for name in names:
        if name in selected:
            continue
        try:
            selected[name] = mteb.get_task(name)
        except KeyError:
            raise UnknownTaskError(
                f"tasks: mteb has no task '{name}' (see `python -c \"import mteb; print(mteb.get_tasks())\"`)"
            ) from None
    return list(selected.values())


def prefetch_command(task_names: Sequence[str]) -> str:
    """The command that downloads the datasets of ``task_names`` into the local cache (run it online)."""
    names = json.dumps(list(task_names))  # double-quoted strings: the command can stay in single quotes
    code = f"import mteb; [t.load_data() for t in mteb.get_tasks(tasks={names})]"
    return f"HF_DATASETS_OFFLINE=0 HF_HUB_OFFLINE=0 python -c {shlex.quote(code)}"


def load_offline(tasks: Sequence[Any], *, offline: bool = True) -> None:
    """Load every task's data from the local cache; one clear error lists all that are missing."""
    missing: list[tuple[Any, BaseException]] = []
    with offline_datasets(offline):
        for task in tasks:
            try:
                task.load_data()
            except Exception as exc:  # datasets raises many types (ConnectionError, FileNotFoundError, ...)
                missing.append((task, exc))
    if missing:
        lines = [
            f"{t.metadata.name} (dataset {t.metadata.dataset.get('path')} "
            f"revision {t.metadata.dataset.get('revision')}): "
            f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
            for t, e in missing
        ]
        raise DatasetUnavailableError(
            f"{len(missing)} task dataset(s) are not in the local cache (HF_DATASETS_OFFLINE=1): "
            + "; ".join(lines)
            + ". Pre-fetch them on a machine with internet access (same HF_HOME / HF_DATASETS_CACHE): "
            + prefetch_command([t.metadata.name for t, _ in missing])
        )
