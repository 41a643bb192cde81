"""Malformed task folders give ``file:line`` errors (exit code 2 on the command line), before any model
is loaded. The folders are small copies of real rows from ../shared/data with one defect each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from youtu_embedding.eval.errors import TaskFormatError
from youtu_embedding.eval.local_tasks import discover_task_dirs, load_local_task
from youtu_embedding.eval.testing import run_cli


def _head(src: Path, dst: Path, n: int) -> list[str]:
    lines = src.read_text("utf-8").splitlines(keepends=True)[:n]
    dst.write_text("".join(lines), "utf-8")
    return lines


@pytest.fixture
def sts_task(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "data" / "stsb-en"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "eval" / "sts" / "stsb-en" / "meta.json", folder / "meta.json")
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    meta["splits"] = {"dev": 6}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
    _head(data_dir / "eval" / "sts" / "stsb-en" / "dev.jsonl", folder / "dev.jsonl", 6)
    return folder


@pytest.fixture
def retrieval_task(tmp_path: Path, data_dir: Path) -> Path:
    src = data_dir / "eval" / "retrieval" / "xquad-en"
    folder = tmp_path / "data" / "xquad-en"
    (folder / "qrels").mkdir(parents=True)
    shutil.copy(src / "meta.json", folder / "meta.json")
    _head(src / "corpus.jsonl", folder / "corpus.jsonl", 3)
    qrels = [
        line
        for line in (src / "qrels" / "test.tsv").read_text("utf-8").splitlines()
        if "\tp0\t" in line or "\tp1\t" in line
    ]
    header = "query-id\tcorpus-id\tscore\n"
    (folder / "qrels" / "test.tsv").write_text(header + "\n".join(qrels[:6]) + "\n", "utf-8")
    wanted = {line.split("\t")[0] for line in qrels[:6]}
    rows = [r for r in (src / "queries.jsonl").read_text("utf-8").splitlines() if json.loads(r)["_id"] in wanted]
    (folder / "queries.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    return folder


def _cli_error(data: Path) -> str:
    code, _, err = run_cli("eval", "--model", "all-MiniLM-L6-v2", "--data-dir", str(data), "--no-cache")
    assert code == 2
    assert err.startswith("error: ")
    return err


def test_valid_small_folders_load(sts_task: Path, retrieval_task: Path) -> None:
    assert load_local_task(sts_task).sizes == {"dev": 6}
    assert load_local_task(retrieval_task).sizes == {"test": 6}
    assert discover_task_dirs(sts_task.parent) == sorted([sts_task, retrieval_task])


def test_missing_meta(sts_task: Path) -> None:
    (sts_task / "meta.json").unlink()
    err = _cli_error(sts_task.parent)
    assert f"{sts_task / 'meta.json'}:0: missing meta.json" in err


def test_bad_jsonl_line(sts_task: Path) -> None:
    lines = (sts_task / "dev.jsonl").read_text("utf-8").splitlines(keepends=True)
    lines[3] = lines[3][:-10] + "\n"  # line 4 loses its closing characters
    (sts_task / "dev.jsonl").write_text("".join(lines), "utf-8")
    err = _cli_error(sts_task.parent)
    assert f"{sts_task / 'dev.jsonl'}:4: invalid JSON" in err


def test_missing_field_names_line(sts_task: Path) -> None:
    lines = (sts_task / "dev.jsonl").read_text("utf-8").splitlines(keepends=True)
    row = json.loads(lines[1])
    del row["score"]
    lines[1] = json.dumps(row) + "\n"
    (sts_task / "dev.jsonl").write_text("".join(lines), "utf-8")
    with pytest.raises(TaskFormatError, match=r"dev\.jsonl:2: missing field 'score'"):
        load_local_task(sts_task)


def test_score_outside_range(sts_task: Path) -> None:
    lines = (sts_task / "dev.jsonl").read_text("utf-8").splitlines(keepends=True)
    row = json.loads(lines[4])
    row["score"] = 7.5
    lines[4] = json.dumps(row) + "\n"
    (sts_task / "dev.jsonl").write_text("".join(lines), "utf-8")
    with pytest.raises(
        TaskFormatError, match=r"dev\.jsonl:5: field 'score' = 7\.5 is outside score_range \[0\.0, 5\.0\]"
    ):
        load_local_task(sts_task)


def test_qrels_naming_unknown_corpus_id(retrieval_task: Path) -> None:
    qrels = retrieval_task / "qrels" / "test.tsv"
    lines = qrels.read_text("utf-8").splitlines()
    qid = lines[2].split("\t")[0]
    lines[2] = f"{qid}\tp999\t1"
    qrels.write_text("\n".join(lines) + "\n", "utf-8")
    err = _cli_error(retrieval_task.parent)
    assert f"{qrels}:3: corpus-id 'p999' is not in corpus.jsonl" in err


def test_qrels_naming_unknown_query_id(retrieval_task: Path) -> None:
    qrels = retrieval_task / "qrels" / "test.tsv"
    with qrels.open("a", encoding="utf-8") as fh:
        fh.write("no-such-question\tp0\t1\n")
    with pytest.raises(TaskFormatError, match=r"test\.tsv:8: query-id 'no-such-question' is not in queries\.jsonl"):
        load_local_task(retrieval_task)


def test_meta_json_syntax_error_and_bad_task_type(sts_task: Path) -> None:
    meta = sts_task / "meta.json"
    text = meta.read_text("utf-8")
    meta.write_text(text.replace('"task_type": "STS",', '"task_type": "STS"'), "utf-8")
    with pytest.raises(TaskFormatError, match=r"meta\.json:\d+: invalid JSON"):
        load_local_task(sts_task)
    meta.write_text(text.replace('"task_type": "STS"', '"task_type": "Regression"'), "utf-8")
    line = next(i for i, t in enumerate(meta.read_text("utf-8").splitlines(), 1) if '"task_type"' in t)
    with pytest.raises(TaskFormatError, match=rf"meta\.json:{line}: field 'task_type': 'Regression' is not supported"):
        load_local_task(sts_task)


def test_training_data_description_is_skipped(data_dir: Path) -> None:
    found = discover_task_dirs(data_dir)
    assert data_dir / "train" not in found
    assert len(found) == 13 and all((f / "meta.json").is_file() for f in found)
