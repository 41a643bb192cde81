"""Errors of the evaluation package (all subclass the core's :class:`YoutuEmbeddingError`)."""

from __future__ import annotations

from pathlib import Path

from youtu_embedding.core.errors import YoutuEmbeddingError


class TaskFormatError(YoutuEmbeddingError, ValueError):
    """A task folder or one of its files is malformed; the message starts with ``file:line:``.

    Attributes:
        path: the offending file (or the folder, for a missing file).
        line: 1-based line number (0 when the problem is the whole file).
    """

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        super().__init__(f"{self.path}:{line}: {message}")


class DatasetUnavailableError(YoutuEmbeddingError, OSError):
    """A registered mteb task whose dataset is not in the local cache (offline mode)."""


class UnknownTaskError(YoutuEmbeddingError, ValueError):
    """A task or benchmark name that mteb does not know."""
