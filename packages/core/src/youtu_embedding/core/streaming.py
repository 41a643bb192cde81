"""Bounded-memory output: an ``.npy`` writer that appends rows as they are produced."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")
_HEADER_BYTES = 128  # magic (10) + padded header dict; a multiple of 64 as the format asks


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class NpyStreamWriter:
    """Write a 2-D ``.npy`` file chunk by chunk without knowing the row count in advance.

    A fixed-size header is reserved and rewritten with the final shape on :meth:`close`. Data goes
    to ``<path>.partial`` and is renamed into place only when complete, so a failed run never
    leaves a truncated file under the final name.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.partial.open("wb")
        self._fh.write(b"\0" * _HEADER_BYTES)
        self.rows = 0
        self.dim: int | None = None
        self.dtype: np.dtype | None = None

    def append(self, block: np.ndarray) -> None:
        """Append rows (same width and dtype as the first block)."""
        block = np.ascontiguousarray(block)
        if self.dim is None:
            self.dim, self.dtype = block.shape[1], block.dtype
        elif block.shape[1] != self.dim or block.dtype != self.dtype:
            raise ValueError(f"block of shape {block.shape} {block.dtype} does not match ({self.dim},) {self.dtype}")
        self._fh.write(block.tobytes())
        self.rows += block.shape[0]

    def close(self, dim: int | None = None, dtype: np.dtype | None = None) -> Path:
        """Write the header and move the file into place; `dim`/`dtype` describe an empty result."""
        self.dim = self.dim if self.dim is not None else dim or 0
        self.dtype = self.dtype if self.dtype is not None else np.dtype(dtype or np.float32)
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (self.rows, self.dim),
        }
        text = repr(header).encode("latin1")
        prefix = b"\x93NUMPY\x01\x00"
        body_len = _HEADER_BYTES - len(prefix) - 2
        if len(text) + 1 > body_len:
            raise ValueError("npy header does not fit")
        self._fh.seek(0)
        self._fh.write(prefix + body_len.to_bytes(2, "little") + text.ljust(body_len - 1) + b"\n")
        self._fh.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file."""
        self._fh.close()
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> NpyStreamWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._fh.closed:
            self.close()
