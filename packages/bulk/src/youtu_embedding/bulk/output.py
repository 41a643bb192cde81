"""The output folder: Parquet schema, atomic partition writes, completion markers and the manifest.

Layout of an output folder::

    part-00000.parquet ...      one file per input partition (columns id, text, embedding)
    _youtu_bulk.json            manifest: settings and partition plan of the job
    _done/part-00000.json ...   completion markers (rows, bytes, seconds), written after the file

A partition is written to a hidden temporary file in the same folder, renamed into place
(``os.replace``, atomic on POSIX file systems), then its marker is written the same way. On a
rerun, a partition counts as finished only when both its file and its marker exist and agree;
anything else (temporary files, a file without a marker) is removed and recomputed. Names starting
with ``_`` or ``.`` are ignored by pyarrow, Spark and Ray Data, so ``pyarrow.parquet.read_table(folder)``
reads exactly the finished rows.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from youtu_embedding.core.errors import InvalidArgumentError

MANIFEST_NAME = "_youtu_bulk.json"
MARKER_DIR = "_done"
FORMAT_VERSION = 1
EMBEDDING_FORMATS = ("list", "binary")


#: Extra int32 columns of a chunked job (one row per chunk): chunk index in its document, character span.
CHUNK_COLUMNS = ("chunk", "start", "end")


def embedding_schema(
    dim: int, embedding_format: str, metadata: dict[str, str] | None = None, *, chunked: bool = False
) -> Any:
    """Arrow schema of an output file: id string, text string, embedding fixed-size list<float32> or binary.

    ``chunked``: one row per chunk; ``id`` is the document's, ``text`` the chunk's, plus int32
    ``chunk``, ``start`` and ``end`` (the chunk's character span in the document) before ``embedding``.
    """
    import pyarrow as pa

    if embedding_format not in EMBEDDING_FORMATS:
        raise InvalidArgumentError("embedding_format", f"unknown format '{embedding_format}'", EMBEDDING_FORMATS)
    column = pa.list_(pa.float32(), dim) if embedding_format == "list" else pa.binary(4 * dim)
    fields = [pa.field("id", pa.string(), nullable=False), pa.field("text", pa.string(), nullable=False)]
    if chunked:
        fields += [pa.field(name, pa.int32(), nullable=False) for name in CHUNK_COLUMNS]
    fields.append(pa.field("embedding", column, nullable=False))
    return pa.schema(fields, metadata={f"youtu_embedding.{k}": v for k, v in (metadata or {}).items()})


def embedding_column(embeddings: np.ndarray, embedding_format: str) -> Any:
    """An Arrow array of ``embeddings`` (n, dim) float32: fixed-size list, or little-endian float32 bytes."""
    import pyarrow as pa

    values = np.ascontiguousarray(embeddings, dtype="<f4")
    n, dim = values.shape
    if embedding_format == "list":
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=pa.float32()), dim)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * dim), n, [None, pa.py_buffer(values.tobytes())])


def decode_embeddings(column: Any) -> np.ndarray:
    """(n, dim) float32 from an output ``embedding`` column (either format, chunked or not)."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    dim = column.type.byte_width // 4
    flat = np.frombuffer(column.buffers()[1], dtype="<f4", count=len(column) * dim, offset=column.offset * 4 * dim)
    return flat.reshape(len(column), dim)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_partition(
    output_dir: Path,
    name: str,
    ids: Sequence[str],
    texts: Sequence[str],
    embeddings: np.ndarray,
    *,
    embedding_format: str,
    metadata: dict[str, str] | None = None,
    seconds: float = 0.0,
    chunks: dict[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Write one partition atomically (temporary file, rename), then its marker; returns the marker.

    ``chunks``: the :data:`CHUNK_COLUMNS` values of a chunked job's rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = embedding_schema(embeddings.shape[1], embedding_format, metadata, chunked=chunks is not None)
    extra = [pa.array(chunks[name], type=pa.int32()) for name in CHUNK_COLUMNS] if chunks is not None else []
    table = pa.Table.from_arrays(
        [
            pa.array(ids, type=pa.string()),
            pa.array(texts, type=pa.string()),
            *extra,
            embedding_column(embeddings, embedding_format),
        ],
        schema=schema,
    )
    final = output_dir / name
    tmp = output_dir / f".{name}.tmp-{uuid.uuid4().hex}"
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    marker = {"file": name, "rows": len(ids), "bytes": final.stat().st_size, "seconds": round(seconds, 3)}
    (output_dir / MARKER_DIR).mkdir(exist_ok=True)
    _atomic_write_bytes(output_dir / MARKER_DIR / f"{Path(name).stem}.json", json.dumps(marker).encode())
    return marker


def read_marker(output_dir: Path, name: str) -> dict[str, Any] | None:
    """The marker of a finished partition, or None when the partition is not (or not consistently) written."""
    path = output_dir / MARKER_DIR / f"{Path(name).stem}.json"
    try:
        marker = json.loads(path.read_text())
        size = (output_dir / name).stat().st_size
    except (OSError, ValueError):
        return None
    return marker if marker.get("bytes") == size else None


def clean_unfinished(output_dir: Path, names: Sequence[str]) -> int:
    """Remove temporary files and files without a valid marker; returns how many files were removed."""
    removed = 0
    for path in output_dir.glob(".*.tmp-*"):
        path.unlink(missing_ok=True)
        removed += 1
    marker_dir = output_dir / MARKER_DIR
    for path in marker_dir.glob(".*.tmp-*") if marker_dir.is_dir() else ():
        path.unlink(missing_ok=True)
    for name in names:
        if (output_dir / name).exists() and read_marker(output_dir, name) is None:
            (output_dir / name).unlink()
            (marker_dir / f"{Path(name).stem}.json").unlink(missing_ok=True)
            removed += 1
    return removed


def prepare_output(output_dir: Path, manifest: dict[str, Any], *, overwrite: bool = False) -> bool:
    """Create or validate the output folder; returns True when resuming an earlier run of the same job.

    Raises a clear error when the path is a file, when the folder holds other files and no manifest,
    or when its manifest records different settings or another input (unless ``overwrite``, which
    removes the earlier job's files first).
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise InvalidArgumentError("output", f"'{output_dir}' exists and is not a folder")
    manifest_path = output_dir / MANIFEST_NAME
    if output_dir.is_dir() and any(output_dir.iterdir()):
        if not manifest_path.is_file():
            raise InvalidArgumentError(
                "output", f"'{output_dir}' is not empty and was not written by youtu-embed batch; choose a new folder"
            )
        try:
            previous = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError("output", f"cannot read the manifest '{manifest_path}': {exc}") from None
        if previous != manifest:
            if not overwrite:
                raise InvalidArgumentError(
                    "output",
                    f"'{output_dir}' holds a job with different {_differences(previous, manifest)}; "
                    "use a new --output folder or pass --overwrite to replace it",
                )
            _remove_job(output_dir, previous)
        else:
            return True
    output_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return False


def _differences(previous: dict[str, Any], current: dict[str, Any]) -> str:
    keys = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
    settings = previous.get("settings", {}), current.get("settings", {})
    if "settings" in keys and isinstance(settings[0], dict) and isinstance(settings[1], dict):
        keys.remove("settings")
        keys += sorted(k for k in set(settings[0]) | set(settings[1]) if settings[0].get(k) != settings[1].get(k))
    return ", ".join(keys) or "settings"


def _remove_job(output_dir: Path, previous: dict[str, Any]) -> None:
    for entry in previous.get("partitions", []):
        name = entry.get("name", "") if isinstance(entry, dict) else ""
        if name.startswith("part-") and name.endswith(".parquet"):
            (output_dir / name).unlink(missing_ok=True)
    marker_dir = output_dir / MARKER_DIR
    if marker_dir.is_dir():
        for path in marker_dir.iterdir():
            path.unlink()
        marker_dir.rmdir()
    for path in output_dir.glob(".*.tmp-*"):
        path.unlink()
    (output_dir / MANIFEST_NAME).unlink()
    if any(output_dir.iterdir()):
        raise InvalidArgumentError("output", f"'{output_dir}' holds files that the earlier job did not write")
