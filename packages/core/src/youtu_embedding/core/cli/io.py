"""Readers and writers of the command-line interface.

Inputs (:func:`read_records`): ``.txt`` (one text per line), ``.jsonl`` (a ``text`` field, optional
``_id``/``id`` and ``title``) and ``.csv`` (a ``text`` column, same optional columns). Corpora
(:func:`read_corpus`) are one of those files or a folder of ``*.txt``/``*.md`` documents and
``*.jsonl`` files. Outputs (:class:`EmbeddingWriter`): ``.npy`` or ``.jsonl``.

Every problem names the file and the line: nothing is skipped silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from youtu_embedding.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np

INPUT_SUFFIXES = (".txt", ".jsonl", ".csv")
OUTPUT_SUFFIXES = (".npy", ".jsonl")
DOCUMENT_SUFFIXES = (".txt", ".md")
ID_FIELDS = ("_id", "id")

EmptyPolicy = Literal["error", "skip", "keep"]


@dataclass(frozen=True)
class Record:
    """One text read from a file, with where it came from.

    Attributes:
        text: the text (a line, a ``text`` field or column, or a whole document file).
        id: the row's ``_id``/``id`` (or the document's relative path), None when absent.
        title: the row's ``title``, None when absent.
        line: 1-based line number in ``source`` (0 for whole-file documents).
        source: the file it was read from.
    """

    text: str
    id: str | None = None
    title: str | None = None
    line: int = 0
    source: str = ""

    def where(self) -> str:
        """``file:line`` (or just the file for whole-file documents)."""
        return f"{self.source}:{self.line}" if self.line else self.source

    def document_text(self) -> str:
        """The text to embed as a corpus document: ``title + " " + text`` stripped, as mteb does."""
        return f"{self.title or ''} {self.text}".strip()


@dataclass
class ReadResult:
    """Records read from a file or folder, and how many empty ones were skipped."""

    records: list[Record]
    skipped: int = 0


def _suffix(path: Path, allowed: Sequence[str], argument: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InvalidArgumentError(argument, f"'{path}' has an unsupported extension '{suffix or '(none)'}'", allowed)
    return suffix


def check_input_path(path: Path, argument: str = "input") -> None:
    """Fail early, with a clear message, when `path` is missing or not a supported input file."""
    _suffix(path, INPUT_SUFFIXES, argument)
    if not path.exists():
        raise FileNotFoundError(f"{argument}: '{path}' does not exist")
    if not path.is_file():
        raise InvalidArgumentError(argument, f"'{path}' is not a file")


def check_output_path(path: Path, argument: str = "output") -> None:
    """Fail early when `path` does not name a supported output format."""
    _suffix(path, OUTPUT_SUFFIXES, argument)
    if path.is_dir():
        raise InvalidArgumentError(argument, f"'{path}' is a directory; give a file name")


def _lines(path: Path, argument: str) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline=None) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(argument, f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _empty(record: Record, policy: EmptyPolicy, argument: str) -> bool:
    """Whether to drop `record`; raises under the ``error`` policy when its text is blank."""
    if record.text.strip():
        return False
    if policy == "error":
        raise InvalidArgumentError(
            argument,
            f"line {record.line} of '{record.source}' is empty; remove it or pass --skip-empty to skip blank lines",
        )
    return policy == "skip"


def _string_field(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _row_id(row: dict[str, Any]) -> str | None:
    for key in ID_FIELDS:
        value = _string_field(row, key)
        if value is not None and value != "":
            return value
    return None


def _read_txt(path: Path, argument: str) -> Iterator[Record]:
    for number, line in _lines(path, argument):
        yield Record(line, line=number, source=str(path))


def _read_jsonl(path: Path, text_field: str, argument: str) -> Iterator[Record]:
    for number, line in _lines(path, argument):
        if not line.strip():
            yield Record("", line=number, source=str(path))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(argument, f"line {number} of '{path}' is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise InvalidArgumentError(argument, f"line {number} of '{path}' is not a JSON object")
        if text_field not in row:
            raise InvalidArgumentError(
                argument,
                f"line {number} of '{path}' has no '{text_field}' field (fields: {', '.join(row) or 'none'}); "
                "choose one with --text-field",
            )
        text = row[text_field]
        if not isinstance(text, str):
            raise InvalidArgumentError(
                argument, f"line {number} of '{path}': field '{text_field}' is a {type(text).__name__}, not a string"
            )
        yield Record(text, _row_id(row), _string_field(row, "title"), number, str(path))


def _read_csv(path: Path, text_field: str, argument: str) -> Iterator[Record]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if text_field not in columns:
                raise InvalidArgumentError(
                    argument,
                    f"'{path}' has no '{text_field}' column (columns: {', '.join(columns) or 'none'}); "
                    "choose one with --text-field",
                )
            for row in reader:
                yield Record(row.get(text_field) or "", _row_id(row), row.get("title"), reader.line_num, str(path))
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(argument, f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InvalidArgumentError(argument, f"'{path}' is not valid CSV: {exc}") from None


def _iter_file(path: Path, text_field: str, argument: str) -> Iterator[Record]:
    suffix = _suffix(path, INPUT_SUFFIXES, argument)
    if suffix == ".txt":
        return _read_txt(path, argument)
    if suffix == ".jsonl":
        return _read_jsonl(path, text_field, argument)
    return _read_csv(path, text_field, argument)


def read_records(
    path: Path, *, text_field: str = "text", empty: EmptyPolicy = "error", argument: str = "input"
) -> ReadResult:
    """Read the texts of a ``.txt``, ``.jsonl`` or ``.csv`` file, in file order.

    Args:
        path: the file.
        text_field: the JSON field / CSV column holding the text.
        empty: what to do with a blank line or empty text: ``error`` (raise, naming the line),
            ``skip`` (drop it and count it in :attr:`ReadResult.skipped`) or ``keep``.
        argument: the option name used in error messages.
    """
    result = ReadResult([])
    result.records.extend(iter_records(path, text_field=text_field, empty=empty, argument=argument, result=result))
    return result


def iter_records(
    path: Path,
    *,
    text_field: str = "text",
    empty: EmptyPolicy = "error",
    argument: str = "input",
    result: ReadResult | None = None,
) -> Iterator[Record]:
    """Like :func:`read_records` but lazy (bounded memory); skipped lines are counted in `result`."""
    check_input_path(path, argument)
    for record in _iter_file(path, text_field, argument):
        if _empty(record, empty, argument):
            if result is not None:
                result.skipped += 1
        else:
            yield record


class EmbeddingWriter:
    """Writes embeddings chunk by chunk (``.npy`` or ``.jsonl``), rows in input order.

    Output goes to ``<path>.partial`` and is moved into place by :meth:`close`; :meth:`abort`
    removes it, so a failed run never leaves a truncated file under the requested name.
    """

    def __init__(self, path: Path) -> None:
        self.suffix = _suffix(path, OUTPUT_SUFFIXES, "output")
        self.path = path
        self.rows = 0
        if self.suffix == ".npy":
            from youtu_embedding.core.streaming import NpyStreamWriter

            self._npy: Any = NpyStreamWriter(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._partial = path.with_name(path.name + ".partial")
            self._handle = self._partial.open("w", encoding="utf-8")

    def write(self, embeddings: np.ndarray, records: Sequence[Record]) -> None:
        """Append the embeddings of `records` (same order)."""
        if self.suffix == ".npy":
            self._npy.append(embeddings)
        else:
            for offset, (row, record) in enumerate(zip(embeddings, records, strict=True)):
                item: dict[str, Any] = {"index": self.rows + offset}
                if record.id is not None:
                    item["id"] = record.id
                item["embedding"] = row.tolist()
                self._handle.write(json.dumps(item) + "\n")
        self.rows += len(records)

    def close(self, dim: int, dtype: Any) -> None:
        """Finish the file (an empty input gives a ``(0, dim)`` array or an empty ``.jsonl``)."""
        if self.suffix == ".npy":
            self._npy.close(dim=dim, dtype=dtype)
        else:
            self._handle.close()
            self._partial.replace(self.path)

    def abort(self) -> None:
        """Remove the partial output."""
        if self.suffix == ".npy":
            self._npy.abort()
        else:
            self._handle.close()
            self._partial.unlink(missing_ok=True)


def _visible_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix.lower() in (*DOCUMENT_SUFFIXES, ".jsonl"):
            files.append(path)
    return files


def _read_document(path: Path, folder: Path, argument: str) -> Record:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(argument, f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return Record(text.strip(), path.relative_to(folder).as_posix(), source=str(path))


def read_corpus(path: Path, argument: str = "corpus") -> ReadResult:
    """Read a corpus to search: a file (see :func:`read_records`) or a folder.

    In a folder, each ``*.txt``/``*.md`` file is one document whose id is its path relative to the
    folder, and each ``*.jsonl`` file contributes its rows (ids default to ``file:line``). Hidden
    files are ignored. Rows without an id get their line number (``.txt``/``.csv``/``.jsonl``
    files). Documents whose ``title + text`` is empty are skipped and counted.
    """
    if not path.exists():
        raise FileNotFoundError(f"{argument}: '{path}' does not exist")
    if path.is_dir():
        records: list[Record] = []
        for file in _visible_files(path):
            if file.suffix.lower() == ".jsonl":
                prefix = file.relative_to(path).as_posix()
                rows = read_records(file, empty="keep", argument=argument).records
                records.extend(_with_id(r, f"{prefix}:{r.line}") for r in rows)
            else:
                records.append(_read_document(file, path, argument))
        if not records:
            raise InvalidArgumentError(argument, f"folder '{path}' has no *.txt, *.md or *.jsonl files")
    else:
        records = [_with_id(r, str(r.line)) for r in read_records(path, empty="keep", argument=argument).records]
    kept = [r for r in records if r.document_text()]
    return ReadResult(kept, len(records) - len(kept))


def _with_id(record: Record, default: str) -> Record:
    if record.id is not None:
        return record
    return Record(record.text, default, record.title, record.line, record.source)


def snippet(text: str, width: int = 80) -> str:
    """The first `width` characters of `text` on one line (whitespace collapsed, ``…`` when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"
