"""Keep a long-running server's resident memory flat under varying batch shapes (glibc only).

glibc raises its mmap threshold each time a large mmapped block is freed, after which the large,
short-lived tensors of the next batches come from the heap and fragment it: RSS creeps up with
every new batch shape. Pinning the threshold (``M_MMAP_THRESHOLD``) keeps large blocks mmapped, so
they go back to the system when freed; ``M_ARENA_MAX`` bounds the per-thread arenas. This is the
runtime form of ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_ARENA_MAX``, which a container can also set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc has it; musl does not
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(mmap_threshold: int = 128 * 1024, arena_max: int = 4) -> bool:
    """Pin glibc's mmap threshold and cap its arenas; returns False where this is not glibc."""
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(libc.mallopt(_M_ARENA_MAX, arena_max))
    logger.debug("allocator tuned", extra={"mmap_threshold": mmap_threshold, "arena_max": arena_max, "ok": ok})
    return ok


def trim() -> None:
    """Give free heap pages back to the system (after a burst of work)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
