"""Input discovery, partition planning and partition reading.

An input is a ``.parquet`` or ``.jsonl`` file, a folder of them (searched recursively; names
starting with ``_`` or ``.`` are ignored, as Spark/Hive/pyarrow do) or a glob pattern. Each file is
cut into partitions of about ``rows_per_partition`` rows: whole row groups for Parquet, line ranges
(byte offsets) for JSONL. A partition is the unit of work, of output (one Parquet file) and of
resumption.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError

INPUT_SUFFIXES = (".parquet", ".jsonl")
DEFAULT_ROWS_PER_PARTITION = 50_000
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Partition:
    """A contiguous slice of one input file.

    Attributes:
        index: position in the plan; names the output file ``part-{index:05d}.parquet``.
        source: absolute path of the input file.
        relpath: the file's path relative to the input root (used in generated ids and messages).
        kind: ``parquet`` or ``jsonl``.
        first_row: 0-based index of the partition's first row in the file.
        num_rows: rows in the partition (JSONL: non-blank lines).
        row_groups: Parquet row groups read by the partition.
        byte_start / byte_end: JSONL byte range (whole lines).
        first_line: 1-based line number of the first JSONL line of the range.
    """

    index: int
    source: str
    relpath: str
    kind: str
    first_row: int
    num_rows: int
    row_groups: tuple[int, ...] = field(default_factory=tuple)
    byte_start: int = 0
    byte_end: int = 0
    first_line: int = 1

    @property
    def name(self) -> str:
        """File name of the partition's output."""
        return f"part-{self.index:05d}.parquet"

    def to_json(self) -> str:
        """JSON form (what travels to the actors and into the manifest)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Partition:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["row_groups"] = tuple(data.get("row_groups", ()))
        return cls(**data)


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(("_", ".")) for part in path.relative_to(root).parts)


def find_input_files(spec: str | os.PathLike[str]) -> tuple[Path, list[Path]]:
    """(root, sorted input files) of a file, folder or glob; raises a clear error when nothing matches."""
    text = os.fspath(spec)
    if any(char in text for char in _GLOB_CHARS):
        matches = sorted(Path(p).resolve() for p in glob.glob(text, recursive=True))
        files = [p for p in matches if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES]
        magic = min((i for i, char in enumerate(text) if char in _GLOB_CHARS), default=len(text))
        root = Path(text[:magic] or ".").resolve()
        root = root if root.is_dir() else root.parent
        if not files:
            raise InvalidArgumentError("input", f"no .parquet or .jsonl file matches '{text}'")
        return root, files
    path = Path(text).resolve()
    if not path.exists():
        raise FileNotFoundError(f"input: '{text}' does not exist")
    if path.is_file():
        if path.suffix.lower() not in INPUT_SUFFIXES:
            raise InvalidArgumentError("input", f"'{text}' has an unsupported extension", INPUT_SUFFIXES)
        return path.parent, [path]
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not _is_hidden(p, path)
    )
    if not files:
        raise InvalidArgumentError("input", f"folder '{text}' holds no .parquet or .jsonl file")
    return path, files


def _check_columns(available: list[str], where: str, columns: dict[str, str]) -> None:
    for option, column in columns.items():
        if column not in available:
            raise InvalidArgumentError(
                option, f"column '{column}' is not in {where} (columns: {', '.join(available) or 'none'})"
            )


def _plan_parquet(path: Path, rows_per_partition: int, columns: dict[str, str]) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for damaged or non-Parquet files
        raise InvalidArgumentError("input", f"cannot read '{path}' as Parquet: {exc}") from None
    _check_columns(list(metadata.schema.to_arrow_schema().names), f"'{path}'", columns)
    first_row, groups, rows = 0, [], 0
    for group in range(metadata.num_row_groups):
        groups.append(group)
        rows += metadata.row_group(group).num_rows
        if rows >= rows_per_partition or group == metadata.num_row_groups - 1:
            if rows:
                yield {"kind": "parquet", "first_row": first_row, "num_rows": rows, "row_groups": tuple(groups)}
            first_row, groups, rows = first_row + rows, [], 0


def _plan_jsonl(path: Path, rows_per_partition: int, columns: dict[str, str]) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidArgumentError("input", f"cannot read '{path}': {exc.strerror or exc}") from None
    checked = False

    def partition(first_row: int, rows: int, start: int, end: int, first_line: int) -> dict[str, Any]:
        return {
            "kind": "jsonl",
            "first_row": first_row,
            "num_rows": rows,
            "byte_start": start,
            "byte_end": end,
            "first_line": first_line,
        }

    with handle:
        offset, start, start_line, first_row, rows = 0, 0, 1, 0, 0
        for line_no, raw in enumerate(handle, 1):
            if raw.strip():
                if not checked:
                    row = parse_json_line(raw, path, line_no)
                    _check_columns(list(row), f"line {line_no} of '{path}'", columns)
                    checked = True
                rows += 1
            offset += len(raw)
            if rows >= rows_per_partition:
                yield partition(first_row, rows, start, offset, start_line)
                start, start_line, first_row, rows = offset, line_no + 1, first_row + rows, 0
        if rows:
            yield partition(first_row, rows, start, offset, start_line)


def plan_partitions(
    spec: str | os.PathLike[str],
    *,
    rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION,
    text_column: str = "text",
    id_column: str | None = "id",
) -> tuple[Path, list[Partition]]:
    """(input root, partitions) of an input; checks that the columns exist (first row of each JSONL file)."""
    if rows_per_partition < 1:
        raise InvalidArgumentError("rows_per_partition", f"must be at least 1, got {rows_per_partition}")
    root, files = find_input_files(spec)
    columns = {"text_column": text_column}
    if id_column is not None:
        columns["id_column"] = id_column
    partitions: list[Partition] = []
    for path in files:
        relpath = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        planner = _plan_parquet if path.suffix.lower() == ".parquet" else _plan_jsonl
        for piece in planner(path, rows_per_partition, columns):
            partitions.append(Partition(index=len(partitions), source=str(path), relpath=relpath, **piece))
    if not partitions:
        raise InvalidArgumentError("input", f"'{os.fspath(spec)}' holds no rows")
    return root, partitions


def parse_json_line(raw: bytes, path: Path | str, line_no: int) -> dict[str, Any]:
    """One JSONL row as a dict; a clear error names the file and line."""
    try:
        row = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgumentError("input", f"line {line_no} of '{path}' is not valid JSON: {exc}") from None
    if not isinstance(row, dict):
        raise InvalidArgumentError("input", f"line {line_no} of '{path}' is not a JSON object")
    return row


@dataclass
class PartitionRows:
    """The ids and texts of one partition, in input order."""

    ids: list[str]
    texts: list[str]
    skipped_empty: int = 0


def _row_label(partition: Partition, row: int) -> str:
    return f"row {partition.first_row + row} of '{partition.relpath}'"


def read_partition(
    partition: Partition,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    skip_empty: bool = False,
) -> PartitionRows:
    """Read a partition's ids and texts; empty or non-string texts and missing values raise clear errors.

    Ids are converted to strings; without ``id_column`` they are ``"{relpath}:{row}"`` (0-based row).
    """
    if partition.kind == "parquet":
        import pyarrow.parquet as pq

        columns = [text_column] + ([id_column] if id_column and id_column != text_column else [])
        table = pq.ParquetFile(partition.source).read_row_groups(list(partition.row_groups), columns=columns)
        texts_raw: list[Any] = table.column(text_column).to_pylist()
        ids_raw: list[Any] | None = table.column(id_column).to_pylist() if id_column else None
        labels = [_row_label(partition, i) for i in range(len(texts_raw))]
    else:
        texts_raw, ids_raw_list, labels = [], [], []
        with open(partition.source, "rb") as handle:
            handle.seek(partition.byte_start)
            data = handle.read(partition.byte_end - partition.byte_start)
        for offset, raw in enumerate(data.splitlines()):
            if not raw.strip():
                continue
            line_no = partition.first_line + offset
            row = parse_json_line(raw, partition.relpath, line_no)
            label = f"line {line_no} of '{partition.relpath}'"
            for option, column in (("text_column", text_column), ("id_column", id_column)):
                if column is not None and column not in row:
                    raise InvalidArgumentError(option, f"{label} has no '{column}' field")
            texts_raw.append(row[text_column])
            ids_raw_list.append(row[id_column] if id_column else None)
            labels.append(label)
        ids_raw = ids_raw_list if id_column else None
    if len(texts_raw) != partition.num_rows:
        raise InvalidArgumentError(
            "input",
            f"'{partition.relpath}' changed since it was planned ({len(texts_raw)} rows, expected "
            f"{partition.num_rows}); rerun with a fresh --output",
        )
    result = PartitionRows([], [])
    for i, text in enumerate(texts_raw):
        if not isinstance(text, str):
            raise InvalidArgumentError(
                "text_column", f"{labels[i]}: '{text_column}' is {type(text).__name__}, not a string"
            )
        if not text.strip():
            if skip_empty:
                result.skipped_empty += 1
                continue
            raise InvalidArgumentError(
                "text_column",
                f"{labels[i]}: '{text_column}' is empty or whitespace only (pass --skip-empty to drop it)",
            )
        if ids_raw is None:
            identifier = f"{partition.relpath}:{partition.first_row + i}"
        else:
            value = ids_raw[i]
            if value is None:
                raise InvalidArgumentError("id_column", f"{labels[i]}: '{id_column}' is null")
            identifier = str(value)
        result.ids.append(identifier)
        result.texts.append(text)
    return result
