"""Acceptance: every shared task type (and a Reranking task built from real SimCLUE data) runs end to end
with a tiny `utu` checkpoint whose byte-level BPE tokenizer handles Chinese; the report and its PNG are
written; the instruction used per task is recorded and matches REFERENCE.md for the C-MTEB names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from youtu_embedding.eval.report import plot_size
from youtu_embedding.eval.testing import link_tasks, run_cli, write_reranking_task

#: REFERENCE.md's Youtu C-MTEB instructions for the C-MTEB tasks whose sources are in ../shared/data
#: (copied from REFERENCE.md, not from the code, so the code is checked against the reference).
REFERENCE_INSTRUCTIONS = {
    "STSB": "Represent the short general domain sentences, retrieve semantically similar text",
    "AFQMC": "Represent the text in conversations between users and financial customer service, "
    "retrieve semantically similar text",
    "Ocnli": "Retrieve semantically similar text",
    "Cmnli": "Retrieve semantically similar text",
    "TNews": "Classify the fine-grained category of the given news title",
    "IFlyTek": "Given an App description text, find the appropriate fine-grained category",
    "Waimai": "Classify the customer review from a food takeaway platform into positive or negative",
}
MAX_SAMPLES = 24


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, tiny_utu: Path) -> dict:
    tmp = tmp_path_factory.mktemp("tiny-all")
    data = link_tasks(tmp / "data", {"eval": data_dir / "eval"})
    write_reranking_task(data / "reranking" / "simclue", data_dir / "train" / "ir" / "simclue-rank.jsonl", 40)
    out = tmp / "out"
    args = ["eval", "--model", str(tiny_utu), "--data-dir", str(data), "--output", str(out)]
    args += ["--max-samples", str(MAX_SAMPLES), "--cache-dir", str(tmp / "cache"), "--baseline", "youtu-embedding-v1"]
    code, stdout, stderr = run_cli(*args)
    assert code == 0, stderr
    # the shared task folders (rglob does not follow the symlink) plus the reranking folder
    folders = [*sorted(p.parent for p in (data_dir / "eval").rglob("meta.json")), data / "reranking" / "simclue"]
    results = {p.stem: json.loads(p.read_text("utf-8")) for p in out.glob("*.json")}
    return {"out": out, "results": results, "folders": folders, "stdout": stdout, "data": data}


def test_every_task_folder_has_a_result(tiny_run: dict) -> None:
    results = tiny_run["results"]
    assert len(results) == len(tiny_run["folders"]) == 14
    assert {r["task_type"] for r in results.values()} == {
        "STS",
        "PairClassification",
        "Classification",
        "Clustering",
        "Retrieval",
        "Reranking",
    }
    for name, r in results.items():
        assert r["task_name"] == name
        assert 0.0 <= r["main_score"] <= 100.0, name
        assert r["subsampled"] and all(n <= MAX_SAMPLES for n in r["sizes"].values())
        assert r["main_score"] == pytest.approx(
            sum(r["split_scores"][s] for s in r["main_splits"]) / len(r["main_splits"])
        )
    assert results["simclue-rerank"]["main_metric"] == "map_at_1000"
    assert results["csldcp"]["main_metric"] == "v_measure"
    assert results["Ocnli"]["main_metric"] == "max_ap"


def test_cmteb_instructions_match_reference(tiny_run: dict) -> None:
    results = tiny_run["results"]
    for task, instruction in REFERENCE_INSTRUCTIONS.items():
        r = results[task]
        assert r["instruction"] == instruction, task
        assert r["instruction_source"] == "template:youtu"
        prefix = f"Instruction: {instruction} \nQuery: "
        # STS, pair and classification tasks prompt every text
        assert r["prompts"] == {"query": prefix, "document": prefix}, task


def test_other_tasks_use_their_meta_instruction_on_the_query_only(tiny_run: dict, data_dir: Path) -> None:
    r = tiny_run["results"]["xquad-zh"]
    meta = json.loads((data_dir / "eval" / "retrieval" / "xquad-zh" / "meta.json").read_text("utf-8"))
    assert r["instruction"] == meta["instruction"]["query"] and r["instruction_source"] == "meta.json"
    assert r["prompts"]["query"].startswith("Instruction: ") and r["prompts"]["document"] == ""
    assert r["instruction_sides"] == "query"
    rerank = tiny_run["results"]["simclue-rerank"]
    assert rerank["prompts"]["document"] == "" and rerank["instruction_sides"] == "query"


def test_report_png_is_a_valid_image_of_the_expected_size(tiny_run: dict) -> None:
    from PIL import Image

    png = tiny_run["out"] / "scores.png"
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == plot_size(len(tiny_run["results"]))
        assert len(set(image.convert("RGB").getdata())) > 10  # bars and text were drawn


def test_report_compares_against_the_released_baseline(tiny_run: dict) -> None:
    md = (tiny_run["out"] / "report.md").read_text("utf-8")
    html = (tiny_run["out"] / "report.html").read_text("utf-8")
    for section in ("## Classification", "## Clustering", "## PairClassification", "## Reranking", "## Retrieval"):
        assert section in md
    assert "tencent/Youtu-Embedding (released)" in md
    assert "| AFQMC | cosine_spearman |" in md and "72.19" in md  # the released AFQMC score next to ours
    assert "| Mean(Task) |" in md and "| Mean(Type) |" in md and "78.86" in md
    assert '<img src="scores.png"' in html and "<table>" in html


def test_eval_report_command_rebuilds_the_report(tiny_run: dict, tmp_path: Path) -> None:
    code, _, err = run_cli(
        "eval-report", "--results", str(tiny_run["out"]), "--output", str(tmp_path), "--baseline", str(tiny_run["out"])
    )
    assert code == 0, err
    md = (tmp_path / "report.md").read_text("utf-8")
    assert "+0.00" in md  # a run compared with itself
    assert (tmp_path / "scores.png").stat().st_size > 1000
