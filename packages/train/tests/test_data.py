"""Unified JSONL reading: file:line errors for every kind of bad line, skip-and-count, real data, converters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from youtu_embedding.train.convert import convert_file
from youtu_embedding.train.data import DataValidationError, load_datasets, read_jsonl_file

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "broken.jsonl"

EXPECTED = {
    2: "invalid JSON",
    3: "missing field 'positives'",
    4: "query must have 3 elements",
    5: "positive_scores[0] must be a number",
    6: "query[2] (text) is empty",
    7: "positive_scores has 2 scores but there are 1 items",
    8: "task_type must be one of ['ir', 'sts']",
}


def test_broken_fixture_reports_every_bad_line_with_file_and_line():
    with pytest.raises(DataValidationError) as info:
        read_jsonl_file(BROKEN)
    problems = info.value.problems
    assert len(problems) == len(EXPECTED)
    for problem, (line, text) in zip(problems, sorted(EXPECTED.items()), strict=True):
        assert problem.startswith(f"{BROKEN}:{line}: "), problem
        assert text in problem, problem
    assert f"{BROKEN}:5:" in str(info.value)


def test_skip_invalid_skips_and_counts():
    ds = read_jsonl_file(BROKEN, skip_invalid=True)
    assert len(ds) == 2 and ds.skipped == len(EXPECTED)
    assert [e.line for e in ds.examples] == [1, 9]
    assert ds.problems[0].startswith(f"{BROKEN}:2:")


def test_folder_loading_collects_problems_of_all_files(tmp_path):
    (tmp_path / "sts").mkdir()
    (tmp_path / "sts" / "a.jsonl").write_text(BROKEN.read_text())
    (tmp_path / "sts" / "b.jsonl").write_text(BROKEN.read_text())
    with pytest.raises(DataValidationError) as info:
        load_datasets(tmp_path)
    assert len(info.value.problems) == 2 * len(EXPECTED)
    assert any("b.jsonl:6:" in p for p in info.value.problems)


def test_mixed_task_types_in_one_file_fail(tmp_path):
    rows = [
        json.loads(line)
        for line in BROKEN.read_text().splitlines()
        if line.startswith('{"task_type": "sts", "query": ["Rep')
    ]
    ir = dict(rows[0], task_type="ir")
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(ir) + "\n")
    with pytest.raises(DataValidationError, match=r"mixed.jsonl:2: task_type 'ir' differs"):
        read_jsonl_file(path)


def test_real_training_folder_loads(data_dir):
    datasets = load_datasets(data_dir / "train")
    meta = json.loads((data_dir / "train" / "meta.json").read_text())["files"]
    assert {d.name: len(d) for d in datasets} == {k.removesuffix(".jsonl"): v for k, v in meta.items()}
    by_name = {d.name: d for d in datasets}
    assert by_name["sts/stsb-en"].task_type == "sts" and by_name["ir/simclue-rank"].task_type == "ir"
    assert all(0.0 <= e.positive_scores[0] <= 1.0 for e in by_name["sts/stsb-en"].examples)


def test_convert_sts_pairs_csv(tmp_path):
    src = tmp_path / "pairs.csv"
    src.write_text("sentence1,sentence2,score\nA cat sits.,A cat is sitting.,4.5\nA dog.,A car.,0\n")
    out = tmp_path / "out.jsonl"
    report = convert_file("sts", src, out, instruction="Retrieve semantically similar text", score_range=(0, 5))
    assert report.written == 2
    ds = read_jsonl_file(out)
    assert ds.task_type == "sts" and ds.examples[0].positive_scores == (0.9,)
    assert ds.examples[0].positives[0].task_instruction == "Retrieve semantically similar text"


def test_convert_reports_bad_rows(tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text(
        '{"sentence1": "a", "sentence2": "b", "score": "x"}\n{"sentence1": "", "sentence2": "b", "score": 1}\n'
    )
    with pytest.raises(DataValidationError) as info:
        convert_file("sts", src, tmp_path / "o.jsonl", instruction="i")
    assert info.value.problems[0].startswith(f"{src}:1: field 'score' must be a number")
    assert info.value.problems[1].startswith(f"{src}:2: field 'sentence1' is empty")


def test_convert_triplets_and_nli(tmp_path):
    trip = tmp_path / "t.jsonl"
    trip.write_text(
        json.dumps({"query": "q1", "pos": ["p1", "p2"], "neg": "n1"})
        + "\n"
        + json.dumps({"query": "q2", "pos": "p"})
        + "\n"
    )
    convert_file("triplets", trip, tmp_path / "t_out.jsonl", instruction="Given a query, retrieve passages")
    ds = read_jsonl_file(tmp_path / "t_out.jsonl")
    first = ds.examples[0]
    assert ds.task_type == "ir" and len(first.positives) == 2 and first.negatives[0].text == "n1"
    assert first.positives[0].task_instruction == ""  # IR passages get no instruction
    nli = tmp_path / "n.tsv"
    nli.write_text(
        "premise\thypothesis\tlabel\nA man runs.\tA person moves.\tentailment\n"
        "A man runs.\tA man sleeps.\tcontradiction\n"
        "A man runs.\tA man is fast.\tneutral\nKids play.\tNobody plays.\tcontradiction\n"
    )
    report = convert_file("nli", nli, tmp_path / "n_out.jsonl", instruction="Retrieve an entailed hypothesis")
    assert report.written == 1 and report.dropped == 1
    item = read_jsonl_file(tmp_path / "n_out.jsonl").examples[0]
    assert [p.text for p in item.positives] == ["A person moves."] and [n.text for n in item.negatives] == [
        "A man sleeps."
    ]
