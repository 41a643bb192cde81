"""A persistent embeddings cache: vectors keyed by model fingerprint + prefix + text, one row each.

Stored in one SQLite file (the standard library's ``sqlite3``). The key covers everything that
changes a vector: the model's identity (id, weight files' names/sizes/mtimes) and every setting
(dtype, pooling, prompt exclusion, normalisation, max length, attention, runtime, quantization,
plus any ``extra`` the caller adds), the prefix (the prompt / instruction options) and the text
itself. Keys are per row: a corpus whose one file changed recomputes that file's changed rows
only, and two corpora sharing texts share vectors.

Used by ``youtu-embed search`` (:func:`encode_cached`) and by the eval package (mteb runs).

mteb ships a cache wrapper too, but it keys vectors by task and text only, so a changed
instruction or model setting would silently reuse stale vectors; hence this one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Environment variable: the base folder of the caches (default ``~/.cache/youtu-embedding``).
CACHE_ENV = "YOUTU_EMBED_CACHE"


def default_cache_dir(kind: str) -> Path:
    """``$YOUTU_EMBED_CACHE/<kind>``, else ``~/.cache/youtu-embedding/<kind>`` (kind: ``search``, ``eval``)."""
    base = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "youtu-embedding"
    return Path(base) / kind


def model_fingerprint(encoder: Any, extra: Mapping[str, Any] | None = None) -> str:
    """A hex digest identifying an encoder's weights and every setting that changes its vectors.

    ``extra``: more settings to key on (e.g. runtime options), JSON-serialisable.
    """
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
        "runtime",
        "quantization",
    )
    payload: dict[str, Any] = {key: info.get(key) for key in keys}
    payload["files"] = files
    if extra:
        payload["extra"] = dict(extra)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


_CHUNK = 500


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


def encode_cached(
    cache: EmbeddingCache | None,
    texts: Sequence[str],
    prefix: str,
    embed: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """Vectors of `texts` (rows in order): cached ones read, the others embedded by ``embed`` and stored.

    ``prefix`` stands for everything besides the text that changes a vector in this call (the
    prompt options, serialised); ``embed(texts) -> (n, dim) float32`` runs only on cache misses,
    each distinct text once. ``cache=None`` embeds everything.
    """
    if cache is None:
        return np.asarray(embed(list(texts)), dtype=np.float32)
    keys = [cache.key(prefix, text) for text in texts]
    found = cache.get_many(keys)
    todo = list(dict.fromkeys(text for key, text in zip(keys, texts, strict=True) if key not in found))
    if todo:
        vectors = np.asarray(embed(todo), dtype=np.float32)
        todo_keys = [cache.key(prefix, text) for text in todo]
        cache.put_many(todo_keys, vectors)
        found.update(zip(todo_keys, vectors, strict=True))
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[key] for key in keys])


__all__ = ["CACHE_ENV", "EmbeddingCache", "default_cache_dir", "encode_cached", "model_fingerprint"]
