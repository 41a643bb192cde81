"""A persistent embeddings cache keyed by model fingerprint + prefix (instruction) + text.

Stored in one SQLite file (the standard library's ``sqlite3``): reruns of an evaluation, or tasks
sharing texts, skip the model entirely. The key covers everything that changes a vector: the
model's identity (id, weight files' names/sizes/mtimes) and settings (dtype, pooling, prompt
exclusion, normalisation, max length, attention), the prefix and the text.

mteb ships a cache wrapper too, but it keys vectors by task and text only, so a changed
instruction or model setting would silently reuse stale vectors; hence this one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 500


def model_fingerprint(encoder: Any) -> str:
    """A hex digest identifying an encoder's weights and every setting that changes its vectors."""
    info = encoder.info()
    root = Path(info["path"])
    files = []
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".safetensors", ".bin", ".pt", ".json", ".model"}:
                stat = path.stat()
                files.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    keys = (
        "model_id",
        "model_type",
        "dimension",
        "max_length",
        "attention",
        "dtype",
        "pooling",
        "include_prompt",
        "prefix_mask",
        "normalize",
    )
    payload = {key: info.get(key) for key in keys}
    payload["files"] = files
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class EmbeddingCache:
    """Vectors by ``(fingerprint, prefix, text)``.

    Args:
        path: the SQLite file (created with its folder when missing).
        fingerprint: the model fingerprint (:func:`model_fingerprint`).
    """

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER, vector BLOB)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def key(self, prefix: str, text: str) -> str:
        """The key of one text under one prefix."""
        h = hashlib.sha256()
        for part in (self.fingerprint, prefix, text):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        return h.hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, dim, blob in self._db.execute(
                f"SELECT key, dim, vector FROM embeddings WHERE key IN ({marks})", chunk
            ):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == dim:
                    found[key] = vector
        self.hits += sum(1 for k in keys if k in found)
        self.misses += sum(1 for k in keys if k not in found)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (float32) under their keys."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(k, int(v.shape[0]), v.tobytes()) for k, v in zip(keys, vectors, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()
