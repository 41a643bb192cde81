"""Converters from common training formats into the unified JSONL format.

* ``sts``: pairs with a score (``sentence1``, ``sentence2``, ``score``), rescaled from
  ``score_range`` to [0, 1];
* ``triplets``: ``query`` + ``pos`` (string or list) + ``neg`` (string or list, optional);
* ``nli``: ``premise``/``hypothesis``/``label`` rows grouped by premise; entailments become
  positives and contradictions hard negatives (premises without an entailment are dropped and
  counted, as there is nothing to retrieve).

Input is JSONL, CSV or TSV (by suffix; CSV/TSV need a header). Every bad row is reported as
``file:line: what is wrong``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from youtu_embedding.train.data import DataValidationError

FORMATS = ("sts", "triplets", "nli")
NLI_LABELS = {"entailment": "entailment", "0": "entailment", "contradiction": "contradiction", "2": "contradiction"}


@dataclass
class ConversionReport:
    """What a conversion wrote and what it dropped."""

    written: int
    dropped: int = 0
    note: str = ""


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as fh:
        if suffix in (".csv", ".tsv"):
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            for row in reader:
                yield reader.line_num, dict(row)
            return
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: line must be a JSON object")
            yield lineno, obj


def _text(row: dict[str, Any], key: str) -> str:
    if key not in row or row[key] is None:
        raise ValueError(f"missing field '{key}'")
    value = row[key]
    if not isinstance(value, str):
        raise ValueError(f"field '{key}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"field '{key}' is empty")
    return value


def _texts(row: dict[str, Any], key: str, *, required: bool) -> list[str]:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"missing field '{key}'")
        return []
    values = value if isinstance(value, list) else [value]
    for k, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"field '{key}'[{k}] must be a non-empty string")
    return values


def _item(task: str, instruction: str, query: str, positives: list[str], negatives: list[str], **scores: Any) -> dict:
    side = instruction if task == "sts" else ""
    return {
        "task_type": task,
        "query": [instruction, "", query],
        "positives": [[side, "", p] for p in positives],
        "negatives": [[side, "", n] for n in negatives],
        "positive_scores": scores.get("positive_scores", []),
        "negative_scores": scores.get("negative_scores", []),
    }


def convert_file(
    fmt: str,
    source: str | Path,
    output: str | Path,
    *,
    instruction: str,
    score_range: tuple[float, float] = (0.0, 5.0),
    sentence1: str = "sentence1",
    sentence2: str = "sentence2",
    score: str = "score",
) -> ConversionReport:
    """Convert ``source`` (format ``fmt``: sts, triplets, nli) into a unified JSONL file ``output``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got '{fmt}'")
    source, output = Path(source), Path(output)
    if not source.is_file():
        raise FileNotFoundError(f"input file '{source}' does not exist")
    lo, hi = score_range
    if not hi > lo:
        raise ValueError(f"score_range: the maximum must exceed the minimum, got {score_range}")
    items: list[dict] = []
    problems: list[str] = []
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for lineno, row in _rows(source):
        try:
            if fmt == "sts":
                raw = row.get(score)
                try:
                    value = float(raw)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise ValueError(f"field '{score}' must be a number, got {raw!r:.40}") from None
                if not math.isfinite(value) or not lo <= value <= hi:
                    raise ValueError(f"field '{score}' = {value} is outside score_range [{lo}, {hi}]")
                items.append(
                    _item(
                        "sts",
                        instruction,
                        _text(row, sentence1),
                        [_text(row, sentence2)],
                        [],
                        positive_scores=[(value - lo) / (hi - lo)],
                    )
                )
            elif fmt == "triplets":
                query = _text(row, "query")
                items.append(
                    _item(
                        "ir", instruction, query, _texts(row, "pos", required=True), _texts(row, "neg", required=False)
                    )
                )
            else:
                premise, hypothesis = _text(row, "premise"), _text(row, "hypothesis")
                label = str(row.get("label", "")).strip().lower()
                if label not in NLI_LABELS and label not in ("neutral", "1"):
                    raise ValueError(
                        f"field 'label' must be entailment/neutral/contradiction (or 0/1/2), got {label!r}"
                    )
                pos, neg = groups.setdefault(premise, ([], []))
                kind = NLI_LABELS.get(label)
                if kind == "entailment":
                    pos.append(hypothesis)
                elif kind == "contradiction":
                    neg.append(hypothesis)
        except ValueError as exc:
            problems.append(f"{source}:{lineno}: {exc}")
    if problems:
        raise DataValidationError(problems)
    dropped = 0
    if fmt == "nli":
        for premise, (pos, neg) in groups.items():
            if pos:
                items.append(_item("ir", instruction, premise, pos, neg))
            else:
                dropped += 1
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    note = f"{dropped} premise(s) without an entailed hypothesis" if dropped else ""
    return ConversionReport(len(items), dropped, note)
