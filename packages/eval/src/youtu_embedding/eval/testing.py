"""Test helpers (used by this package's tests, handy for others): run ``youtu-embed`` in-process and
build task folders from real data without copying it."""

from __future__ import annotations

import json
from pathlib import Path


def run_cli(*args: str) -> tuple[int, str, str]:
    """``youtu-embed ARGS`` in-process: (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from youtu_embedding.core.cli import build_app

    result = CliRunner().invoke(build_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def link_tasks(target: Path, sources: dict[str, Path]) -> Path:
    """A data dir whose entries are symlinks to real task folders (the data is never copied)."""
    target.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        (target / name).symlink_to(source, target_is_directory=True)
    return target


def write_reranking_task(folder: Path, simclue: Path, n: int) -> Path:
    """A Reranking task folder (query + candidate list) from the first ``n`` rows of the real
    SimCLUE query / positive / hard-negative training file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with simclue.open(encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            positives = [p[2] for p in item["positives"] if p[2].strip()]
            negatives = [p[2] for p in item["negatives"] if p[2].strip()]
            if positives and negatives:
                rows.append({"query": item["query"][2], "positive": positives, "negative": negatives})
            if len(rows) == n:
                break
    (folder / "test.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    meta = {
        "name": "simclue-rerank",
        "task_type": "Reranking",
        "language": "zh",
        "main_metric": "map",
        "splits": {"test": len(rows)},
        "instruction": {"query": "Given a web search query, retrieve relevant passages that answer the query"},
        "source": "SimCLUE rank (../shared/data/train/ir/simclue-rank.jsonl), first rows",
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
    return folder


def write_datasets_cache(cache_dir: Path, repo_id: str, revision: str, splits: dict[str, Path]) -> Path:
    """Put JSON-lines files into a ``datasets`` cache as the dataset ``repo_id`` (config ``default``),
    in the layout a real download leaves: ``load_dataset(repo_id)`` then works offline.

    For tests of registered mteb tasks with real data that is already local (e.g. ../shared/data's
    AFQMC dev file is C-MTEB AFQMC's validation split).
    """
    import datasets
    from datasets.naming import camelcase_to_snakecase

    namespace, name = repo_id.split("/")
    snake = camelcase_to_snakecase(name)
    built = datasets.load_dataset(
        "json", data_files={k: str(v) for k, v in splits.items()}, cache_dir=str(cache_dir / "_build")
    )
    target = cache_dir / f"{namespace}___{snake}" / "default" / "0.0.0" / revision
    target.mkdir(parents=True, exist_ok=True)
    for split, dataset in built.items():
        for i, source in enumerate(dataset.cache_files):
            suffix = f"-{i:05d}-of-{len(dataset.cache_files):05d}" if len(dataset.cache_files) > 1 else ""
            Path(source["filename"]).replace(target / f"{snake}-{split}{suffix}.arrow")
    info_path = Path(built[next(iter(splits))].cache_files[0]["filename"]).parent / "dataset_info.json"
    info = json.loads(info_path.read_text("utf-8"))
    info.update(builder_name=snake, dataset_name=snake, config_name="default")
    for split_info in info.get("splits", {}).values():
        split_info["dataset_name"] = snake
    (target / "dataset_info.json").write_text(json.dumps(info), "utf-8")
    return target
