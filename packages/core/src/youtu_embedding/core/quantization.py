"""Output precisions, with the semantics of sentence-transformers' ``quantize_embeddings``.

* ``float32`` / ``float16``: a cast.
* ``int8`` / ``uint8``: per-dimension scalar quantisation into 256 buckets over calibration
  ranges (``ranges`` of shape (2, dim): row 0 minimums, row 1 maximums; or computed from
  ``calibration_embeddings``; or, last resort, from the embeddings themselves).
* ``binary`` / ``ubinary``: sign bits packed 8 per byte (``binary`` offset by -128 as int8).
"""

from __future__ import annotations

import logging

import numpy as np

from youtu_embedding.core.errors import InvalidArgumentError

PRECISIONS = ("float32", "float16", "int8", "uint8", "binary", "ubinary")
logger = logging.getLogger(__name__)


def check_precision(precision: str) -> str:
    """Validate a precision name."""
    if precision not in PRECISIONS:
        raise InvalidArgumentError("precision", f"unknown precision '{precision}'", PRECISIONS)
    return precision


def quantize_embeddings(
    embeddings: np.ndarray,
    precision: str,
    *,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Quantise float embeddings (n, dim) to `precision` (see module docstring)."""
    check_precision(precision)
    embeddings = np.asarray(embeddings)
    if embeddings.dtype in (np.int8, np.uint8):
        raise InvalidArgumentError("embeddings", "already quantised; pass float embeddings")
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision == "float16":
        return embeddings.astype(np.float16)
    if precision.endswith("binary"):
        packed = np.packbits(embeddings > 0, axis=-1)
        return (packed - 128).astype(np.int8) if precision == "binary" else packed
    dim = embeddings.shape[-1]
    if embeddings.shape[0] == 0 and ranges is None and calibration_embeddings is None:
        return np.zeros((0, dim), dtype=np.int8 if precision == "int8" else np.uint8)
    if ranges is None:
        source = calibration_embeddings if calibration_embeddings is not None else embeddings
        source = np.asarray(source)
        if calibration_embeddings is None and source.shape[0] < 2:
            raise InvalidArgumentError(
                "calibration", f"{precision} needs `ranges` or `calibration_embeddings` to quantise a single embedding"
            )
        if calibration_embeddings is None and source.shape[0] < 100:
            logger.warning("computing %s ranges from only %d embeddings; pass calibration data", precision, len(source))
        ranges = np.vstack((source.min(axis=0), source.max(axis=0)))
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, dim):
        raise InvalidArgumentError("ranges", f"must have shape (2, {dim}), got {ranges.shape}")
    starts = ranges[0]
    steps = (ranges[1] - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
    return (buckets - 128).astype(np.int8) if precision == "int8" else buckets.astype(np.uint8)
