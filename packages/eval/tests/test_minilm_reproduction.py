"""Acceptance: all-MiniLM-L6-v2 through ``youtu-embed eval`` reproduces the published MTEB figures of
``../shared/data/README.md`` (within 0.1), with the real model and the real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from youtu_embedding.eval.testing import link_tasks, run_cli

#: ../shared/data/README.md, "Reference figures" (sentence-transformers' published MTEB scores).
PUBLISHED = {("stsb-en", "test"): 82.03, ("stsb-en", "dev"): 86.72, ("sick", "dev"): 79.80, ("xquad-en", "test"): 94.16}


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, minilm_path: Path) -> dict:
    """One ``youtu-embed eval`` run over STS-B en, SICK and XQuAD-en, then a rerun from the cache."""
    tmp = tmp_path_factory.mktemp("minilm")
    eval_dir = data_dir / "eval"
    data = link_tasks(
        tmp / "data",
        {
            "stsb-en": eval_dir / "sts" / "stsb-en",
            "sick": eval_dir / "sts" / "sick",
            "xquad-en": eval_dir / "retrieval" / "xquad-en",
        },
    )
    common = ["eval", "--model", "all-MiniLM-L6-v2", "--data-dir", str(data), "--cache-dir", str(tmp / "cache")]
    code, out, err = run_cli(*common, "--output", str(tmp / "out"), "--batch-size", "64")
    assert code == 0, err
    code2, _, err2 = run_cli(*common, "--output", str(tmp / "rerun"), "--batch-size", "64")
    assert code2 == 0, err2
    return {"out": tmp / "out", "rerun": tmp / "rerun", "stdout": out, "stderr": err, "rerun_stderr": err2}


def _result(folder: Path, task: str) -> dict:
    return json.loads((folder / f"{task}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("task", "split"), list(PUBLISHED))
def test_reproduces_published_figure(minilm_run: dict, task: str, split: str) -> None:
    result = _result(minilm_run["out"], task)
    assert result["split_scores"][split] == pytest.approx(PUBLISHED[(task, split)], abs=0.1)


def test_result_contract(minilm_run: dict) -> None:
    result = _result(minilm_run["out"], "stsb-en")
    assert {"task_name", "main_metric", "main_score", "instruction"} <= set(result)
    assert result["task_name"] == "stsb-en"
    assert result["main_metric"] == "cosine_spearman"
    assert result["main_splits"] == ["test"]
    assert result["main_score"] == result["split_scores"]["test"]
    # a model that is not `utu` gets no instruction (template "none"), as MTEB ran it
    assert result["instruction"] is None and result["template"] == "none"
    assert result["prompts"] == {"query": "", "document": ""}
    # mteb's own scores are kept on mteb's 0-1 scale
    assert result["scores"]["test"][0]["cosine_spearman"] * 100 == pytest.approx(result["main_score"], abs=1e-3)
    retrieval = _result(minilm_run["out"], "xquad-en")
    assert retrieval["main_metric"] == "ndcg_at_10" and retrieval["task_type"] == "Retrieval"
    assert {"map_at_10", "mrr_at_10", "recall_at_10"} <= set(retrieval["scores"]["test"][0])
    assert retrieval["model"]["max_length"] == 256  # MiniLM's max_seq_length


def test_results_load_in_mteb(minilm_run: dict) -> None:
    from mteb.results import TaskResult

    loaded = TaskResult.from_disk(minilm_run["out"] / "sick.json")
    assert loaded.task_name == "sick"
    assert loaded.get_score() * 100 == pytest.approx(_result(minilm_run["out"], "sick")["main_score"], abs=1e-3)


def test_rerun_comes_from_the_cache(minilm_run: dict) -> None:
    first = re.search(r"embeddings cache: (\d+) hits, (\d+) misses", minilm_run["stderr"])
    rerun = re.search(r"embeddings cache: (\d+) hits, (\d+) misses", minilm_run["rerun_stderr"])
    assert first and rerun
    assert int(first.group(2)) > 5000  # the first run embedded the texts (repeated ones are hits)
    assert int(rerun.group(2)) == 0 and int(rerun.group(1)) == int(first.group(1)) + int(first.group(2))
    for task in ("stsb-en", "sick", "xquad-en"):
        assert _result(minilm_run["rerun"], task)["split_scores"] == _result(minilm_run["out"], task)["split_scores"]


def test_summary_and_report(minilm_run: dict) -> None:
    assert "Mean(Task)" in minilm_run["stdout"]
    report = (minilm_run["out"] / "report.md").read_text(encoding="utf-8")
    assert "## STS" in report and "## Retrieval" in report and "| Mean(Type) |" in report
