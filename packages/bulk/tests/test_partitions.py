"""Partition planning and reading (no Ray): row groups, JSONL byte ranges, ids, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from youtu_embedding.bulk import plan_partitions
from youtu_embedding.bulk.partitions import Partition, read_partition
from youtu_embedding.bulk.testing import write_jsonl, write_parquet
from youtu_embedding.core.errors import InvalidArgumentError


def _rows(texts: list[tuple[str, str]]) -> list[dict]:
    return [{"id": i, "text": t} for i, t in texts]


def test_plan_covers_every_row_once(tmp_path: Path, real_texts: list[tuple[str, str]]) -> None:
    texts = real_texts[:2500]
    write_parquet(tmp_path / "in" / "a.parquet", _rows(texts[:1000]), row_group_size=300)  # groups 300,300,300,100
    path = tmp_path / "in" / "sub" / "b.jsonl"
    write_jsonl(path, _rows(texts[1000:]))
    path.write_text(path.read_text().replace("\n", "\n\n", 7))  # blank lines are skipped, line numbers kept
    root, parts = plan_partitions(tmp_path / "in", rows_per_partition=500)
    assert root == (tmp_path / "in").resolve()
    assert [(p.relpath, p.num_rows) for p in parts] == [("a.parquet", 600), ("a.parquet", 400)] + [
        ("sub/b.jsonl", 500)
    ] * 3
    assert [p.row_groups for p in parts[:2]] == [(0, 1), (2, 3)]
    read = [read_partition(p) for p in parts]
    assert [i for r in read for i in r.ids] == [i for i, _ in texts]
    assert [t for r in read for t in r.texts] == [t for _, t in texts]
    assert Partition.from_json(parts[3].to_json()) == parts[3]
    # a glob selects the same files; generated ids name the file and the row
    _, globbed = plan_partitions(str(tmp_path / "in" / "**" / "*.jsonl"), rows_per_partition=500)
    assert [p.relpath for p in globbed] == ["sub/b.jsonl"] * 3
    generated = read_partition(globbed[1], id_column=None)
    assert generated.ids[:2] == ["sub/b.jsonl:500", "sub/b.jsonl:501"]


def test_bad_rows_are_named(tmp_path: Path, real_texts: list[tuple[str, str]]) -> None:
    rows = _rows(real_texts[:10])
    rows[6]["text"] = "   "
    write_jsonl(tmp_path / "a.jsonl", rows)
    (part,) = plan_partitions(tmp_path / "a.jsonl")[1]
    with pytest.raises(InvalidArgumentError, match=r"line 7 of 'a.jsonl': 'text' is empty or whitespace only"):
        read_partition(part)
    assert len(read_partition(part, skip_empty=True).ids) == 9
    rows[6] = {"id": "x", "body": "no text field"}
    write_jsonl(tmp_path / "b.jsonl", rows)
    (part,) = plan_partitions(tmp_path / "b.jsonl")[1]
    with pytest.raises(InvalidArgumentError, match=r"text_column: line 7 of 'b.jsonl' has no 'text' field"):
        read_partition(part)
    rows[6] = {"id": None, "text": "a text"}
    write_parquet(tmp_path / "c.parquet", rows, row_group_size=5)
    (part,) = plan_partitions(tmp_path / "c.parquet")[1]
    with pytest.raises(InvalidArgumentError, match=r"id_column: row 6 of 'c.parquet': 'id' is null"):
        read_partition(part)


def test_bad_inputs_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plan_partitions(tmp_path / "missing")
    with pytest.raises(InvalidArgumentError, match="no .parquet or .jsonl file matches"):
        plan_partitions(str(tmp_path / "*.parquet"))
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InvalidArgumentError, match="unsupported extension"):
        plan_partitions(tmp_path / "notes.txt")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InvalidArgumentError, match="cannot read .*broken.parquet' as Parquet"):
        plan_partitions(tmp_path / "broken.parquet")
    write_jsonl(tmp_path / "d" / "x.jsonl", [{"id": 1, "body": "text under another name"}])
    with pytest.raises(
        InvalidArgumentError, match=r"text_column: column 'text' is not in line 1 of .* \(columns: id, body\)"
    ):
        plan_partitions(tmp_path / "d")
    (tmp_path / "e.jsonl").write_text('{"id": 1, "text": "fine"}\n{"id": 2, "text": \n')
    (part,) = plan_partitions(tmp_path / "e.jsonl")[1]
    with pytest.raises(InvalidArgumentError, match="line 2 of 'e.jsonl' is not valid JSON"):
        read_partition(part)
    with pytest.raises(InvalidArgumentError, match="rows_per_partition: must be at least 1"):
        plan_partitions(tmp_path / "e.jsonl", rows_per_partition=0)
