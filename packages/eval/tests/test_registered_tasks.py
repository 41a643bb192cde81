"""Registered mteb tasks: the Youtu instruction of every C-MTEB task, and clear errors offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from youtu_embedding.eval.instructions import InstructionPolicy
from youtu_embedding.eval.registered import select_tasks
from youtu_embedding.eval.testing import run_cli

#: REFERENCE.md: "For STS and pair tasks the instruction goes on both sides; for retrieval and reranking
#: on the query only."
QUERY_ONLY_TYPES = {"Retrieval", "Reranking"}


def test_cmteb_benchmark_has_31_tasks_with_youtu_instructions() -> None:
    tasks = select_tasks(benchmark="MTEB(cmn, v1)")
    assert len(tasks) == 31
    policy = InstructionPolicy("youtu")
    for task in tasks:
        md = task.metadata
        prompts = policy.for_task(md.name, md.type, md.prompt)
        assert prompts.instruction and prompts.source == "template:youtu", md.name
        assert prompts.query_prefix == f"Instruction: {prompts.instruction} \nQuery: "
        if md.type in QUERY_ONLY_TYPES:
            assert prompts.document_prefix == "" and not prompts.symmetric, md.name
        else:
            assert prompts.document_prefix == prompts.query_prefix and prompts.symmetric, md.name


def test_missing_dataset_gives_the_prefetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets.config

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    monkeypatch.setattr(datasets.config, "HF_CACHE_HOME", str(tmp_path / "hf"))
    code, _, err = run_cli("eval", "--model", "all-MiniLM-L6-v2", "--tasks", "AFQMC,Ocnli", "--no-cache")
    assert code == 2
    assert "2 task dataset(s) are not in the local cache (HF_DATASETS_OFFLINE=1)" in err
    assert "AFQMC (dataset C-MTEB/AFQMC revision" in err
    assert (
        """python -c 'import mteb; [t.load_data() for t in mteb.get_tasks(tasks=["AFQMC", "Ocnli"])]'""" in err
        and "HF_DATASETS_OFFLINE=0" in err
    )


def test_unknown_task_and_no_selection() -> None:
    code, _, err = run_cli("eval", "--model", "all-MiniLM-L6-v2", "--tasks", "NoSuchTask")
    assert code == 2 and "mteb has no task 'NoSuchTask'" in err
    code, _, err = run_cli("eval", "--model", "all-MiniLM-L6-v2")
    assert code == 2 and "give --data-dir, --tasks or --benchmark" in err


def test_commands_come_through_the_plugin_hook() -> None:
    from youtu_embedding.core.plugins import get_registry

    code, out, _ = run_cli("--help")
    assert code == 0 and " eval " in out and "eval-report" in out
    assert not [f for f in get_registry().failures if "eval" in str(f)]
    code, out, _ = run_cli("eval", "--help")
    assert code == 0 and "--data-dir" in out and "--benchmark" in out and "--max-samples" in out


def test_instruction_resolution_order_and_templates() -> None:
    youtu = InstructionPolicy("youtu", overrides={"STSB": "Compare"}, local_instructions={"mine": {"query": "Find it"}})
    assert youtu.for_task("STSB", "STS").instruction == "Compare"
    assert youtu.for_task("STSB", "STS").source == "override"
    mine = youtu.for_task("mine", "Retrieval", "ignored: the meta.json instruction comes first")
    assert (mine.instruction, mine.source, mine.document_prefix) == ("Find it", "meta.json", "")
    nothing = youtu.for_task("unknown", "STS")
    assert (nothing.instruction, nothing.query_prefix, nothing.source) == (None, "", "none")
    e5 = InstructionPolicy("e5").for_task("T2Retrieval", "Retrieval")
    assert (e5.query_prefix, e5.document_prefix, e5.instruction) == ("query: ", "passage: ", None)
    none = InstructionPolicy("none").for_task("T2Retrieval", "Retrieval")
    assert (none.query_prefix, none.document_prefix, none.instruction, none.source) == ("", "", None, "none")


def test_registered_task_runs_from_the_local_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tiny_utu: Path
) -> None:
    """The registered C-MTEB task AFQMC runs offline with the Youtu AFQMC instruction. Its datasets cache
    is built from the real ../shared/data AFQMC dev file (C-MTEB AFQMC's validation split), first 300
    pairs only to keep the test fast."""
    import json

    import datasets.config
    import mteb

    from youtu_embedding.eval.testing import write_datasets_cache

    revision = mteb.get_task("AFQMC").metadata.dataset["revision"]
    cache = tmp_path / "datasets"
    head = tmp_path / "afqmc-validation.jsonl"
    lines = (data_dir / "eval" / "sts" / "afqmc" / "dev.jsonl").read_text("utf-8").splitlines(keepends=True)
    head.write_text("".join(lines[:300]), "utf-8")
    write_datasets_cache(cache, "C-MTEB/AFQMC", revision, {"validation": head})
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    out = tmp_path / "out"
    code, _, err = run_cli("eval", "--model", str(tiny_utu), "--tasks", "AFQMC", "--output", str(out), "--no-cache")
    assert code == 0, err
    result = json.loads((out / "AFQMC.json").read_text("utf-8"))
    assert result["source"] == "mteb" and result["dataset_revision"] == revision
    assert result["instruction"] == (
        "Represent the text in conversations between users and financial customer service, "
        "retrieve semantically similar text"
    )
    assert list(result["split_scores"]) == ["validation"] and -100 <= result["main_score"] <= 100
    assert result["sizes"] is None and result["prompts"]["document"] == result["prompts"]["query"]
    assert result["main_score"] == pytest.approx(100 * result["scores"]["validation"][0]["cosine_spearman"], abs=1e-3)
